"""Mapping coverage of ``procurify_to_jde`` (``manage.py mapping_coverage``, the flow's admin page): the values
its bills use that JD Edwards cannot take yet. There are no mapping rules: a bill line's account code is the
JD Edwards account (``BU.OBJ[.SUB]``) and a bill's vendor is the supplier of that name, so a gap is an account
code missing from F0901 or not postable there, or a vendor name with no supplier."""

from mappings.coverage import UNMAPPED, Gap

from ..posting import Hold
from .expensify_to_jde import split_account

REASONS = {"JDE-ACCOUNT-NOT-FOUND": "unknown", "JDE-ACCOUNT-NOT-POSTABLE": "non-posting"}


def bill_gaps(handler):
    """One gap per account code and per vendor in use by the bills the flow would read (from its start date)."""
    records = [r for page in handler.fetch({}) for r in page.records if r.payload["kind"] == "BILL"]
    gaps, seen = [], set()
    for record in records:
        bill = record.payload
        for line in bill["lines"]:
            code = line["account_code"]
            if ("account", code) in seen:
                continue
            seen.add(("account", code))
            try:
                problem = handler.account_problem(split_account(code))
            except ValueError:
                gaps.append(Gap({"account_code": code}, "account", None, UNMAPPED,
                                f"account code {code} is not a JD Edwards account (BU.OBJ[.SUB])"))
                continue
            if problem is not None:
                gaps.append(Gap({"account_code": code}, "account", code, REASONS.get(problem.code, "unknown"),
                                problem.message))
        if ("vendor", bill["vendor"]) not in seen:
            seen.add(("vendor", bill["vendor"]))
            try:
                handler.supplier_for(bill["vendor"])
            except Hold as hold:
                gaps.append(Gap({"vendor": bill["vendor"]}, "supplier", None, UNMAPPED, hold.message))
    return gaps
