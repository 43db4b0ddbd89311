"""The IFS Cloud fake's world: entity sets, seeded rows, ETags and the voucher store.

Entity sets (``sandbox.odata.EntitySet``) of the two projections served:

* ``CodePartValuesHandling`` (the reference's projection for code part values, [lib]):
  ``CodePartValueSet`` keyed ``Company, CodePart, CodeValue`` with ``CodePartName``,
  ``Description``, ``ValidFrom``, ``ValidUntil`` and ``Objstate`` (``Active`` or
  ``Inactive``). The reference shows per-part arrays (``CompanyFinanceSet(Company=)/CodeIArray``
  with ``CodeI``...); one flat set over every part is this fake's documented choice
  (UNCONFIRMED), as is the ``Objstate`` active flag.
* the voucher projection (name UNCONFIRMED by the reference; ``VoucherEntryHandling`` unless
  configured): ``VoucherTemplateSet`` (the journal entry template a voucher is created from;
  its ETag changes whenever someone edits it), ``VoucherSet`` and ``VoucherRowSet`` (the
  voucher and its rows; the header and every row keep ``ReferenceNumber``, where a client
  puts its external reference), and the bound action
  ``VoucherTemplate_CreateVoucher`` that creates a voucher from a template in one step.

Rows are plain dicts; names starting with ``_`` (``_objid``, ``_objversion``) are internal
and make the ETag: ``W/"<base64 of W/"objid:objversion">"`` as in the real samples (the
reference decoded two), Objversion a ``YYYYMMDDHHMMSS`` stamp that changes on every update.
"""

import base64
import datetime as dt
import hashlib
import random

from . import catalog
from .odata import EntitySet

COMPANY = "10"
TEMPLATE = "MLC-ACCRUAL"
VOUCHER_TYPE = "ACR"
CODE_PART_NAMES = {"A": "Account", "B": "Cost Center", "C": "Project"}
OFFSET_ACCOUNTS = {"2100": "Employee Payable", "2150": "Card Clearing"}

CODE_PART_VALUES = EntitySet(
    "CodePartValueSet",
    "CodePartValue",
    ("Company", "CodePart", "CodeValue"),
    {
        "Company": "string",
        "CodePart": "string",
        "CodePartName": "string",
        "CodeValue": "string",
        "Description": "string",
        "ValidFrom": "date",
        "ValidUntil": "date",
        "Objstate": "string",
    },
    nullable=("Description",),
)
TEMPLATES = EntitySet(
    "VoucherTemplateSet",
    "VoucherTemplate",
    ("Company", "Template"),
    {
        "Company": "string",
        "Template": "string",
        "Description": "string",
        "VoucherType": "string",
        "UserGroup": "string",
        "Objstate": "string",
    },
)
VOUCHER_ROWS = EntitySet(
    "VoucherRowSet",
    "VoucherRow",
    ("Company", "AccountingYear", "VoucherType", "VoucherNo", "RowNo"),
    {
        "Company": "string",
        "AccountingYear": "int",
        "VoucherType": "string",
        "VoucherNo": "int",
        "RowNo": "int",
        "Account": "string",
        "CodeB": "string",
        "CodeC": "string",
        "CurrencyCode": "string",
        "CurrencyDebitAmount": "decimal",
        "CurrencyCreditAmount": "decimal",
        "Text": "string",
        "ReferenceNumber": "string",
    },
    nullable=("CodeB", "CodeC", "CurrencyDebitAmount", "CurrencyCreditAmount", "Text", "ReferenceNumber"),
)
VOUCHERS = EntitySet(
    "VoucherSet",
    "Voucher",
    ("Company", "AccountingYear", "VoucherType", "VoucherNo"),
    {
        "Company": "string",
        "AccountingYear": "int",
        "VoucherType": "string",
        "VoucherNo": "int",
        "VoucherDate": "date",
        "VoucherText": "string",
        "ReferenceNumber": "string",
        "CurrencyCode": "string",
        "Template": "string",
        "Objstate": "string",
        "EnteredAt": "datetime",
    },
    navigation={"VoucherRowArray": "VoucherRowSet"},
    nullable=("VoucherText", "ReferenceNumber"),
)
CREATE_VOUCHER = "VoucherTemplate_CreateVoucher"
ROW_INPUT = {
    "Account": "Edm.String",
    "CodeB": "Edm.String",
    "CodeC": "Edm.String",
    "CurrencyDebitAmount": "Edm.Decimal",
    "CurrencyCreditAmount": "Edm.Decimal",
    "Text": "Edm.String",
}


def projections(voucher_projection, code_part_projection):
    """projection name -> {entity set name: EntitySet}."""
    return {
        code_part_projection: {CODE_PART_VALUES.name: CODE_PART_VALUES},
        voucher_projection: {s.name: s for s in (TEMPLATES, VOUCHERS, VOUCHER_ROWS)},
    }


def credentials_for(seed):
    rng = random.Random(f"ifs-{seed}")
    return {"client_id": "mlc-integration", "client_secret": f"ifs-{rng.getrandbits(64):016x}", "realm": "mlcdemo"}


def etag(row):
    inner = f'W/"{row["_objid"]}:{row["_objversion"]}"'
    return f'W/"{base64.b64encode(inner.encode()).decode()}"'


class Versions:
    """Objversion stamps from the world clock that never repeat for one store (a later stamp for every change)."""

    def __init__(self):
        self.last = None

    def next(self, now):
        stamp = now.replace(microsecond=0)
        if self.last is not None and stamp <= self.last:
            stamp = self.last + dt.timedelta(seconds=1)
        self.last = stamp
        return stamp.strftime("%Y%m%d%H%M%S")


def objid(*parts):
    """A stable ROWID-like id for a row (18 characters, as Oracle's)."""
    return base64.b32encode(hashlib.sha1(":".join(map(str, parts)).encode()).digest()).decode()[:18]


def code_part_row(part, value, description, *, valid_from, valid_until, active, version):
    return {
        "Company": COMPANY,
        "CodePart": part,
        "CodePartName": CODE_PART_NAMES.get(part, f"Code {part}"),
        "CodeValue": value,
        "Description": description,
        "ValidFrom": valid_from,
        "ValidUntil": valid_until,
        "Objstate": "Active" if active else "Inactive",
        "_objid": objid("cpv", part, value),
        "_objversion": version,
    }


def generate(anchor, versions, now):
    """The seeded world: code part values lined up with the Expensify catalog, and one voucher template.

    A few values are deliberately unusable so holds have something real to find: account 6990
    is inactive, cost center CC90 expired before the anchor date."""
    since = dt.date(anchor.year - 5, 1, 1).isoformat()
    forever = "9999-12-31"
    rows = []
    version = versions.next(now)
    for code, name in {**catalog.EXPENSE_OBJECTS, **OFFSET_ACCOUNTS}.items():
        rows.append(code_part_row("A", code, name, valid_from=since, valid_until=forever, active=True, version=version))
    rows.append(
        code_part_row("A", "6990", "Obsolete expenses", valid_from=since, valid_until=forever, active=False, version=version)
    )
    for cost_center in catalog.COST_CENTERS:
        rows.append(
            code_part_row(
                "B",
                cost_center,
                f"Cost center {cost_center}",
                valid_from=since,
                valid_until=forever,
                active=True,
                version=version,
            )
        )
    expired = (anchor - dt.timedelta(days=400)).isoformat()
    rows.append(
        code_part_row("B", "CC90", "Closed cost center", valid_from=since, valid_until=expired, active=True, version=version)
    )
    for project in catalog.TAG_LEVELS["Project"]:
        rows.append(
            code_part_row("C", project, f"Project {project}", valid_from=since, valid_until=forever, active=True, version=version)
        )
    template = {
        "Company": COMPANY,
        "Template": TEMPLATE,
        "Description": "ml-connector expense accruals",
        "VoucherType": VOUCHER_TYPE,
        "UserGroup": "AC",
        "Objstate": "Active",
        "_objid": objid("tpl", TEMPLATE),
        "_objversion": version,
    }
    return {CODE_PART_VALUES.name: rows, TEMPLATES.name: [template], VOUCHERS.name: [], VOUCHER_ROWS.name: []}


def valid_on(row, day):
    """A code part value usable on ``day`` (ISO date): active and within its validity."""
    return row["Objstate"] == "Active" and row["ValidFrom"] <= day <= row["ValidUntil"]
