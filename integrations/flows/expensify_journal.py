"""One Expensify report as one balanced journal: what every flow from Expensify into a ledger shares.

A debit line per expense (its account from the flow's ``map_expense``), then one credit line per
offset: employee payable for reimbursable spend, card clearing for corporate-card spend, in the
report currency, exact to the cent. The target-specific part (which fields an account has, how
a category maps) stays in each flow.
"""

from ..posting import Hold, Posting, PostingLine, from_minor_units
from .expensify_source import approved_day

UNMAPPED_HELP = (
    "Add a mapping rule giving this category an account (GL mappings > Mapping rules), or set the "
    "category's GL code in Expensify; then retry the batch."
)


def unmapped_category(category, policy):
    return Hold(f'unmapped category "{category}" in policy "{policy}"', code="MAP-UNMAPPED-CATEGORY", help=UNMAPPED_HELP)


def report_journal(report, external_ref, *, map_expense, offsets):
    """The Posting for ``report``: ``map_expense(report, expense) -> account dict`` (may raise Hold);
    ``offsets``: {True: employee payable account, False: card clearing account}."""
    currency = report["currency"]
    expenses = report.get("transactions") or []
    if not expenses:
        raise Hold(
            f"report {report['reportID']} has no expenses", code="SRC-EMPTY-REPORT", help="Nothing to post; skip the batch."
        )
    posting = Posting(
        reference=external_ref,
        date=approved_day(report).isoformat(),
        currency=currency,
        memo=f"{report.get('reportName', '')} ({report.get('accountEmail', '')})".strip(),
        source_total=from_minor_units(report["total"], currency),
    )
    totals = {}
    for expense in expenses:
        amount = from_minor_units(expense["convertedAmount"], currency)
        reimbursable = bool(expense.get("reimbursable"))
        posting.lines.append(
            PostingLine(
                account=map_expense(report, expense),
                amount=amount,
                source_line=str(expense.get("transactionID", "")),
                memo=f"{expense.get('category', '')} {expense.get('merchant', '')}".strip(),
                dimensions={"card": not reimbursable},
            )
        )
        totals[reimbursable] = totals.get(reimbursable, 0) + amount
    for reimbursable, amount in sorted(totals.items(), reverse=True):
        posting.lines.append(
            PostingLine(
                account=offsets[reimbursable],
                amount=-amount,
                kind="offset",
                memo="Employee payable" if reimbursable else "Card clearing",
            )
        )
    return posting
