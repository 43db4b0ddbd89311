"""JD Edwards reference data: the chart of accounts (F0901) and suppliers (F0401 with F0101 names)."""

import datetime as dt
from dataclasses import dataclass

from .jde_values import as_date, as_int, as_text, stamp

LIST_CHUNK = 100  # values per LIST condition


@dataclass(frozen=True)
class Account:
    """One F0901 row."""

    aid: str
    company: str
    business_unit: str
    object: str
    subsidiary: str
    description: str
    posting_edit: str  # blank = posting; "N" non-posting; "I" inactive (sandbox); the full code list is UNCONFIRMED
    level_of_detail: str
    updated: dt.datetime | None = None  # UPMJ + UPMT

    @property
    def key(self):
        """``BU.OBJ`` or ``BU.OBJ.SUB``, the account number the orchestration takes."""
        key = f"{self.business_unit}.{self.object}"
        return f"{key}.{self.subsidiary}" if self.subsidiary else key

    @property
    def is_active(self):
        return self.posting_edit != "I"

    @property
    def is_postable(self):
        """Conservative: only a blank posting edit code takes postings from the connector."""
        return self.posting_edit == ""


class ReferenceReads:
    """Mixed into ``JdeClient``: needs ``browse``."""

    def accounts(self) -> list[Account]:
        """The chart of accounts (F0901)."""
        columns = ["AID", "CO", "MCU", "OBJ", "SUB", "DL01", "PEC", "LDA", "UPMJ", "UPMT"]
        return [Account(aid=as_text(r.get("AID")), company=as_text(r.get("CO")), business_unit=as_text(r.get("MCU")),
                        object=as_text(r.get("OBJ")), subsidiary=as_text(r.get("SUB")), description=as_text(r.get("DL01")),
                        posting_edit=as_text(r.get("PEC")).upper(), level_of_detail=as_text(r.get("LDA")),
                        updated=stamp(r.get("UPMJ"), r.get("UPMT")))
                for r in self.browse("F0901", columns)]

    def suppliers(self, changed_since=None) -> list[dict]:
        """Suppliers from F0401 joined with their F0101 names (only suppliers updated on or
        after ``changed_since`` when given: F0401.UPMJ)."""
        conditions = [("UPMJ", "GREATER_EQUAL", changed_since)] if changed_since else []
        masters = list(self.browse("F0401", ["AN8", "MCUP", "OBAP", "AIDP", "CRRP", "TRAP", "PYIN", "HDPY", "UPMJ"],
                                   conditions))
        numbers = [as_int(r.get("AN8")) for r in masters]
        names = {}
        for start in range(0, len(numbers), LIST_CHUNK):
            chunk = numbers[start:start + LIST_CHUNK]
            for row in self.browse("F0101", ["AN8", "ALPH", "AT1", "TAX"], [("AN8", "LIST", chunk)]):
                names[as_int(row.get("AN8"))] = row
        out = []
        for row in masters:
            number = as_int(row.get("AN8"))
            book = names.get(number, {})
            business_unit, obj = as_text(row.get("MCUP")), as_text(row.get("OBAP"))
            out.append({
                "address_number": number, "name": as_text(book.get("ALPH")), "search_type": as_text(book.get("AT1")),
                "tax_id": as_text(book.get("TAX")), "business_unit": business_unit, "object": obj,
                "account_id": as_text(row.get("AIDP")),
                "default_account": f"{business_unit}.{obj}" if business_unit and obj else "",
                "currency": as_text(row.get("CRRP")), "payment_terms": as_text(row.get("TRAP")),
                "payment_instrument": as_text(row.get("PYIN")), "on_hold": as_text(row.get("HDPY")).upper() == "Y",
                "updated": as_date(row.get("UPMJ")),
            })
        return out

