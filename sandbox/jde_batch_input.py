"""JD Edwards fake: checks and writes shared by the orchestrations that fill batch files.

The journal (F0911Z1 only) and the voucher (F0411Z1 pay items plus F0911Z1 G/L lines)
orchestrations read the same header inputs (User -> EDUS, DocumentType, Company, GLDate,
Currency) and G/L distribution lines (Account BU.OBJ[.SUB], Amount, Explanation), and
refuse the same way: every problem named, nothing written.
"""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from . import catalog
from . import jde_data as data
from .jde_errors import Rejected

TEXT_LENGTHS = {"EXA": 30, "EXR": 30}
AMOUNT_DIGITS = 15  # VNAA/GLAA: digits including the currency's decimals (UNCONFIRMED: not in the reference)


def parse_input_date(raw, name):
    text = str(raw or "").strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    label = "GL date" if name == "GLDate" else name
    raise Rejected(f"{label} '{text}' is not a valid date (expected YYYY-MM-DD or YYYYMMDD)")


def parse_amount(raw):
    """A display decimal (string, int or float as written); ValueError when it is not a number."""
    try:
        amount = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
        if not amount.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise ValueError(f"amount '{raw}' is not a number")
    return amount


def amount_problem(raw, amount, currency, exponent):
    """Why ``amount`` does not fit the currency or the amount column, or None."""
    places = -amount.normalize().as_tuple().exponent if amount else 0
    if places > exponent:
        return f"amount {raw} has more decimals than {currency} allows ({exponent})"
    if amount.copy_abs().adjusted() >= AMOUNT_DIGITS - exponent:
        return f"amount {raw} has more digits than VNAA holds ({AMOUNT_DIGITS}, {exponent} of them decimals for {currency})"
    return None


class BatchInputMixin:
    """Header and G/L line checks, next numbers and the F0911Z1 write."""

    def _find_account(self, business_unit, obj, sub):
        for row in self.tables["F0901"]:
            if row["MCU"].strip() == business_unit and row["OBJ"] == obj and row["SUB"] == sub:
                return row
        return None

    def _batch_header(self, inputs, session, default_type):
        user = str(inputs.get("User") or session["user"]).strip().upper()
        if len(user) > 10:
            raise Rejected(f"User {user} is longer than 10 characters (VNEDUS)")
        doc_type = str(inputs.get("DocumentType") or default_type).strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{2}", doc_type):
            raise Rejected(f"Document type {doc_type} is not valid")
        company = str(inputs.get("Company") or catalog.COMPANY).strip()
        if not company.isdigit() or len(company) > 5:
            raise Rejected(f"Company {company} is not valid")
        company = company.zfill(5)
        if not any(r["CO"] == company for r in self.tables["F0901"]):
            raise Rejected(f"Company {company} is not set up")
        gl_date = parse_input_date(inputs.get("GLDate"), "GLDate")
        currency = str(inputs.get("Currency") or "").strip().upper()
        if currency not in catalog.CURRENCY_EXPONENTS:
            raise Rejected(f"Currency code '{currency}' is not valid")
        return {"user": user, "doc_type": doc_type, "company": company, "gl_date": gl_date, "currency": currency,
                "exponent": catalog.CURRENCY_EXPONENTS[currency]}

    def _account_problem(self, key, account, company):
        if account is None:
            return f"Account {key} is not in F0901"
        if account["PEC"] == "N":
            return f"Account {key} is a non-posting account (posting edit code N)"
        if account["PEC"] == "I":
            return f"Account {key} is inactive (posting edit code I)"
        if account["CO"] != company:
            return f"Account {key} belongs to company {account['CO']}, not {company}"
        return None

    def _distribution(self, lines, header, header_text, what):
        """``(prepared, total)`` for G/L lines: ``(number, account row, key, amount, explanation)`` each."""
        if not isinstance(lines, list) or not lines:
            raise Rejected(f"{what} has no lines")
        currency, exponent = header["currency"], header["exponent"]
        problems, prepared, total = [], [], Decimal(0)
        for index, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                problems.append(f"Line {index} is not an object")
                continue
            number = line.get("LineNumber", index)
            try:
                number = int(number)
            except (TypeError, ValueError):
                problems.append(f"Line {index}: LineNumber {number!r} is not a number")
                continue
            account_text = str(line.get("Account") or "").strip()
            parts = account_text.split(".")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                problems.append(f"Line {number}: account '{account_text}' is not in BU.OBJ.SUB form")
                continue
            bu, obj, sub = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
            raw_amount = line.get("Amount")
            try:
                amount = parse_amount(raw_amount)
            except ValueError as exc:
                problems.append(f"Line {number}: {exc}")
                continue
            problem = amount_problem(raw_amount, amount, currency, exponent)
            if problem:
                problems.append(f"Line {number}: {problem}")
                continue
            key = data.account_key(bu, obj, sub)
            account = self._find_account(bu, obj, sub)
            problem = self._account_problem(key, account, header["company"])
            if problem:
                problems.append(problem)
                continue
            total += amount
            # The line's Remark input is ignored: VNEXR carries the reference (see the contract in sandbox/jde.py).
            prepared.append((number, account, key, amount, str(line.get("Explanation") or header_text)))
        if problems:
            raise Rejected("; ".join(problems))
        return prepared, total

    def _next_numbers(self):
        """The next batch number (EDBT, text) and document number (DOC)."""
        batch, document = str(self._next_batch), self._next_doc
        self._next_batch += 1
        self._next_doc += 1
        return batch, document

    def _stamp_now(self):
        now = self.now()
        return data.to_julian(now.date()), now.hour * 10000 + now.minute * 100 + now.second

    def _write_gl_lines(self, prepared, header, batch, document, reference, gl_date, transaction_type):
        """F0911Z1 rows (VNEDSP "0", VNEDTC "A", VNEDTR ``transaction_type``: J journal, V voucher G/L)."""
        upmj, upmt = self._stamp_now()
        quantum = Decimal(1).scaleb(-header["exponent"])
        company = header["company"]
        for number, account, key, amount, explanation in prepared:
            self.tables["F0911Z1"].append({
                "EDUS": header["user"], "EDBT": batch, "EDTN": reference, "EDLN": number, "EDSP": "0", "EDTC": "A",
                "EDTR": transaction_type, "DCT": header["doc_type"], "DOC": document, "KCO": company, "CO": company,
                "DGJ": data.to_julian(gl_date), "ANI": key, "AM": "2", "AID": account["AID"], "MCU": account["MCU"],
                "OBJ": account["OBJ"], "SUB": account["SUB"], "LT": "AA", "AA": amount.quantize(quantum),
                "CRCD": header["currency"], "EXA": explanation[:TEXT_LENGTHS["EXA"]],
                "EXR": reference[:TEXT_LENGTHS["EXR"]], "UPMJ": upmj, "UPMT": upmt,
            })
