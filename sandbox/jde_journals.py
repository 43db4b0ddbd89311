"""JD Edwards fake: the journal orchestration's contract (F0911Z1 batches), see ``sandbox/jde.py``."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from . import catalog
from . import jde_data as data
from .jde_errors import Rejected, truthy

TEXT_LENGTHS = {"EXA": 30, "EXR": 30}
AMOUNT_DIGITS = 15  # VNAA/GLAA: digits including the currency's decimals (UNCONFIRMED: not in the reference)


class JournalMixin:
    """Idempotency by BatchReference, validation and the F0911Z1 write."""

    def _journal(self, inputs, session):
        """``(batch, document, existing, message)``: the journal already written for the
        reference (idempotent orchestration), else the one written now."""
        reference = self._reference(inputs)
        found = self._existing_journal(reference) if self._on("journal_idempotent", True) else None
        if found is not None:
            return found["batch"], found["document"], True, (
                f"Journal {reference} already exists as batch {found['batch']}, document {found['document_type']} "
                f"{found['document']} ({found['where']}); nothing was written")
        batch, document, lines = self._add_journal(inputs, reference, session)
        if self._on("auto_process", False):
            self._process(batch=batch)
        return batch, document, False, f"Batch {batch} with {lines} lines added to F0911Z1"

    def _on(self, name, default):
        """A boolean setting; JSON true/false or their text forms."""
        value = self.settings.get(name)
        return default if value is None else truthy(value)

    @staticmethod
    def _reference(inputs):
        reference = str(inputs.get("BatchReference") or "").strip()
        if not reference:
            raise Rejected("BatchReference is required")
        if len(reference) > 22:
            raise Rejected(f"BatchReference {reference} is longer than 22 characters (VNEDTN)")
        return reference

    def _existing_journal(self, reference):
        """The first journal already written for ``reference``: in F0911Z1 by VNEDTN (whatever
        VNEDSP says), else in F0911 by GLEXR (the Z rows may have been purged), else None."""
        for row in self.tables["F0911Z1"]:
            if row["EDTN"] == reference:
                return {"batch": row["EDBT"], "document": row["DOC"], "document_type": row["DCT"],
                        "where": "F0911Z1"}
        for row in self.tables["F0911"]:
            if row["EXR"] == reference:
                return {"batch": str(row["ICU"]), "document": row["DOC"], "document_type": row["DCT"],
                        "where": "F0911"}
        return None

    def _find_account(self, business_unit, obj, sub):
        for row in self.tables["F0901"]:
            if row["MCU"].strip() == business_unit and row["OBJ"] == obj and row["SUB"] == sub:
                return row
        return None

    def _add_journal(self, inputs, reference, session):
        user = str(inputs.get("User") or session["user"]).strip().upper()
        if len(user) > 10:
            raise Rejected(f"User {user} is longer than 10 characters (VNEDUS)")
        doc_type = str(inputs.get("DocumentType") or "JE").strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{2}", doc_type):
            raise Rejected(f"Document type {doc_type} is not valid")
        company = str(inputs.get("Company") or catalog.COMPANY).strip()
        if not company.isdigit() or len(company) > 5:
            raise Rejected(f"Company {company} is not valid")
        company = company.zfill(5)
        if not any(r["CO"] == company for r in self.tables["F0901"]):
            raise Rejected(f"Company {company} is not set up")
        raw_date = inputs.get("GLDate")
        gl_date = None
        text = str(raw_date or "").strip()
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                gl_date = dt.datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        if gl_date is None:
            raise Rejected(f"GL date '{text}' is not a valid date (expected YYYY-MM-DD or YYYYMMDD)")
        currency = str(inputs.get("Currency") or "").strip().upper()
        if currency not in catalog.CURRENCY_EXPONENTS:
            raise Rejected(f"Currency code '{currency}' is not valid")
        exponent = catalog.CURRENCY_EXPONENTS[currency]
        lines = inputs.get("Lines")
        if not isinstance(lines, list) or not lines:
            raise Rejected(f"Journal {reference} has no lines")
        header_text = str(inputs.get("Explanation") or "")
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
                amount = Decimal(repr(raw_amount) if isinstance(raw_amount, float) else str(raw_amount).strip())
                if not amount.is_finite():
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                problems.append(f"Line {number}: amount '{raw_amount}' is not a number")
                continue
            places = -amount.normalize().as_tuple().exponent if amount else 0
            if places > exponent:
                problems.append(f"Line {number}: amount {raw_amount} has more decimals than {currency} allows "
                                f"({exponent})")
                continue
            if amount.copy_abs().adjusted() >= AMOUNT_DIGITS - exponent:
                problems.append(f"Line {number}: amount {raw_amount} has more digits than VNAA holds ({AMOUNT_DIGITS}, "
                                f"{exponent} of them decimals for {currency})")
                continue
            account = self._find_account(bu, obj, sub)
            key = data.account_key(bu, obj, sub)
            if account is None:
                problems.append(f"Account {key} is not in F0901")
                continue
            if account["PEC"] == "N":
                problems.append(f"Account {key} is a non-posting account (posting edit code N)")
                continue
            if account["PEC"] == "I":
                problems.append(f"Account {key} is inactive (posting edit code I)")
                continue
            if account["CO"] != company:
                problems.append(f"Account {key} belongs to company {account['CO']}, not {company}")
                continue
            total += amount
            # The line's Remark input is ignored: VNEXR carries the reference (see the contract above).
            prepared.append((number, account, key, amount, str(line.get("Explanation") or header_text)))
        if problems:
            raise Rejected("; ".join(problems))
        if total != 0:
            raise Rejected(f"Journal {reference} is out of balance by {total} {currency}")
        batch = str(self._next_batch)
        document = self._next_doc
        self._next_batch += 1
        self._next_doc += 1
        now = self.now()
        upmj, upmt = data.to_julian(now.date()), now.hour * 10000 + now.minute * 100 + now.second
        quantum = Decimal(1).scaleb(-exponent)
        for number, account, key, amount, explanation in prepared:
            self.tables["F0911Z1"].append({
                "EDUS": user, "EDBT": batch, "EDTN": reference, "EDLN": number, "EDSP": "0", "EDTC": "A", "EDTR": "J",
                "DCT": doc_type, "DOC": document, "KCO": company, "CO": company, "DGJ": data.to_julian(gl_date),
                "ANI": key, "AM": "2", "AID": account["AID"], "MCU": account["MCU"], "OBJ": account["OBJ"],
                "SUB": account["SUB"], "LT": "AA", "AA": amount.quantize(quantum), "CRCD": currency,
                "EXA": explanation[:TEXT_LENGTHS["EXA"]], "EXR": reference[:TEXT_LENGTHS["EXR"]],
                "UPMJ": upmj, "UPMT": upmt,
            })
        return batch, document, len(prepared)
