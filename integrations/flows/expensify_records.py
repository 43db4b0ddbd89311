"""What makes an Expensify report postable as it is, and what is cleaned on the way.

``check_report`` answers ``(report, notes, problems)`` for the engine: problems hold the
report (stored with its reason, never stopping the flow); notes say what was cleaned.
Free text (names, merchants, comments, categories, tags) loses its control characters,
so none reaches a target; identifiers, currencies and amounts are never "repaired": a bad
one is a problem for a person.
"""

from ..currencies import is_known
from ..engine.sanitize import has_control
from .checks import clean_fields

# Minor units the portal stores (Batch.amount holds 20 integer digits); beyond it is no real amount.
MAX_MINOR_UNITS = 10**20
REPORT_TEXT = ("reportName", "policyName", "accountEmail", "managerEmail")
EXPENSE_TEXT = ("merchant", "comment", "category", "categoryGlCode", "tag", "bank", "cardNumber")


def _is_cents(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _amount_problem(value, what):
    if value is None:
        return ("SRC-MISSING-AMOUNT", f"{what} has no amount")
    if isinstance(value, str) and value.lstrip("-").isdigit() and abs(int(value)) >= MAX_MINOR_UNITS:
        # The client keeps integers JSON cannot carry exactly as their digits.
        return ("SRC-AMOUNT-OUT-OF-RANGE", f"{what} has the amount {value[:40]}, beyond any real amount")
    if not _is_cents(value):
        return ("SRC-BAD-AMOUNT", f"{what} has the amount {str(value)[:40]!r}, not a number of cents")
    if abs(value) >= MAX_MINOR_UNITS:
        return ("SRC-AMOUNT-OUT-OF-RANGE", f"{what} has the amount {value}, beyond any real amount")
    return None


def check_report(report):
    notes, problems = [], []
    report_id = str(report.get("reportID", ""))
    if has_control(report_id):
        problems.append(("SRC-CONTROL-CHARACTER", f"report id {report_id!r} contains a control character"))
    cleaned = clean_fields(report, REPORT_TEXT, f"report {report_id}", notes)
    currency = report.get("currency")
    if not is_known(currency):
        problems.append(("SRC-UNKNOWN-CURRENCY", f"currency {str(currency)[:10]!r} is not an ISO 4217 currency"))
    problem = _amount_problem(report.get("total"), f"report {report_id}")
    if problem:
        problems.append(problem)
    elif report["total"] < 0:
        problems.append(("SRC-NEGATIVE-TOTAL", f"report {report_id} totals {report['total']} (negative): a credit report "
                         "needs a person"))
    expenses = report.get("transactions")
    if not isinstance(expenses, list) or not expenses:
        problems.append(("SRC-EMPTY-REPORT", f"report {report_id} has no expenses"))
        expenses = []
    seen, lines = set(), []
    for expense in expenses:
        if not isinstance(expense, dict):
            problems.append(("SRC-BAD-LINE", f"report {report_id} has an expense that is not a record"))
            continue
        line_id = str(expense.get("transactionID") or "")
        where = f"expense {line_id or '(no id)'}"
        if not line_id or has_control(line_id):
            problems.append(("SRC-BAD-LINE-ID", f"{where} of report {report_id} has no usable transaction id"))
        elif line_id in seen:
            problems.append(("SRC-DUPLICATE-LINE", f"expense {line_id} appears twice in report {report_id}"))
        seen.add(line_id)
        problem = _amount_problem(expense.get("convertedAmount"), where)
        if problem:
            problems.append(problem)
        lines.append(clean_fields(expense, EXPENSE_TEXT, where, notes))
    for text in report.get("problems") or []:  # what the client already found in the export
        problems.append(("SRC-BAD-FIELD", str(text)[:300]))
    if lines:
        cleaned["transactions"] = lines
    return cleaned, notes, problems
