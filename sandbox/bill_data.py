"""Deterministic BILL (API v3) data: vendors, chart of accounts, departments, bills, payments.

``generate(seed, size, anchor)`` uses ``random.Random`` seeded from ``seed`` only. Facts from
shared/reference/bill.md: ids are 20 characters starting with the entity's prefix (organization
``008``, vendor ``009``, bill ``00n``, user ``006``, chart of accounts ``0ca``; departments ``0de``
as in BILL's create-bill example; payments ``stp`` as v2's SentPay, UNCONFIRMED); amounts are
decimal currency units (228.99), not cents; timestamps ``yyyy-MM-ddTHH:mm:ss.SSS+00:00``-style UTC.

The chart of accounts uses the JD Edwards fake's object accounts as account numbers, and the
departments its business units (``shortName`` = the unit code), so a bill line can reference a
GL account and department that exist on both sides; ``7000 Consulting`` exists only in BILL.
"""

import datetime as dt
import hashlib
import random
import string
from decimal import Decimal

from . import catalog
from .jde_data import SUPPLIER_KINDS, SUPPLIER_STEMS

ID_CHARS = string.ascii_uppercase + string.digits
PREFIX = {
    "organization": "008",
    "user": "006",
    "vendor": "009",
    "bill": "00n",
    "chart_of_account": "0ca",
    "department": "0de",
    "payment": "stp",
    "subscription": "sub",
}
BILL_ONLY_ACCOUNT = ("7000", "Consulting (BILL only)")


def new_id(rng, kind):
    """A 20-character id: the entity prefix, ``01`` and 15 random characters."""
    return PREFIX[kind] + "01" + "".join(rng.choice(ID_CHARS) for _ in range(15))


def stamp(value):
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def amount(value):
    """Currency units as a JSON number with at most two decimals."""
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


def credentials_for(seed):
    digest = hashlib.sha256(f"sandbox-bill-{seed}".encode()).hexdigest()
    rng = random.Random(f"bill-org-{seed}")
    return {
        "dev_key": f"01{digest[:30].upper()}",
        "username": "ap.api@sandbox.example",
        "password": digest[30:50],
        "org_id": new_id(rng, "organization"),
    }


def _when(rng, anchor, days=120):
    return dt.datetime.combine(anchor, dt.time()) - dt.timedelta(days=rng.randint(1, days), seconds=rng.randint(0, 86399))


def build_chart(rng, anchor):
    rows = []
    accounts = [(obj, name) for obj, name in catalog.EXPENSE_OBJECTS.items()]
    accounts += [("2000", "Accounts Payable"), ("1010", "Operating Cash"), BILL_ONLY_ACCOUNT]
    for number, name in accounts:
        created = stamp(_when(rng, anchor, 700))
        kind = "EXPENSE" if number >= "6000" else ("ACCOUNTS_PAYABLE" if number == "2000" else "BANK")
        rows.append(
            {
                "id": new_id(rng, "chart_of_account"),
                "name": name,
                "accountNumber": number,
                "accountType": kind,
                "archived": False,
                "parentId": None,
                "createdTime": created,
                "updatedTime": created,
            }
        )
    return rows


def build_departments(rng, anchor):
    rows = []
    for code, name in catalog.BUSINESS_UNITS.items():
        created = stamp(_when(rng, anchor, 700))
        rows.append(
            {
                "id": new_id(rng, "department"),
                "name": name,
                "shortName": code,
                "archived": code in catalog.INACTIVE_BUSINESS_UNITS,
                "createdTime": created,
                "updatedTime": created,
            }
        )
    return rows


def build_vendors(rng, size, anchor):
    names = [f"{stem} {kind}" for stem in SUPPLIER_STEMS for kind, _ in SUPPLIER_KINDS]
    rng.shuffle(names)
    rows = []
    for i in range(4 + size // 4):
        name = names[i % len(names)]
        created = _when(rng, anchor, 400)
        rows.append(
            {
                "id": new_id(rng, "vendor"),
                "name": name,
                "shortName": name[:20],
                "accountType": "BUSINESS",
                "email": f"billing@{name.split()[0].lower()}.example",
                "phone": f"555{rng.randint(1000000, 9999999)}",
                "address": {
                    "line1": f"{rng.randint(1, 999)} Market St",
                    "line2": "",
                    "city": "Denver",
                    "stateOrProvince": "CO",
                    "zipOrPostalCode": f"{rng.randint(80000, 80999)}",
                    "country": "US",
                },
                "additionalInfo": {
                    "taxId": f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
                    "taxIdType": "EIN",
                    "track1099": False,
                },
                "billCurrency": "USD",
                "accountNumber": "",
                "archived": False,
                "createdTime": stamp(created),
                "updatedTime": stamp(created),
            }
        )
    return rows


def build_bills(rng, size, anchor, vendors, chart, departments):
    expense = [c for c in chart if c["accountType"] == "EXPENSE"]
    cash = next(c for c in chart if c["accountNumber"] == "1010")
    live_departments = [d for d in departments if not d["archived"]]
    rows = []
    for i in range(size // 2):
        vendor = rng.choice(vendors)
        lines = []
        for _ in range(rng.randint(1, 3)):
            lines.append(
                {
                    "amount": amount(Decimal(rng.randint(1000, 300000)) / 100),
                    "description": "Goods received",
                    "classifications": {
                        "chartOfAccountId": rng.choice(expense)["id"],
                        "departmentId": rng.choice(live_departments)["id"],
                    },
                }
            )
        created = _when(rng, anchor, 90)
        total = amount(sum(Decimal(str(line["amount"])) for line in lines))
        rows.append(
            {
                "id": new_id(rng, "bill"),
                "vendorId": vendor["id"],
                "vendorName": vendor["name"],
                "invoice": {"invoiceNumber": f"B-{5000 + i * 3}", "invoiceDate": created.date().isoformat()},
                "dueDate": (created + dt.timedelta(days=30)).date().isoformat(),
                "amount": total,
                "dueAmount": total,
                "paymentStatus": "UNPAID",
                "approvalStatus": "APPROVED",
                "archived": False,
                "purchaseOrderNumber": "",
                "description": "",
                "payFromChartOfAccountId": cash["id"],
                "billLineItems": lines,
                "createdTime": stamp(created),
                "updatedTime": stamp(created),
            }
        )
    return rows


def payment_for(rng, bill, when, status="PAID"):
    return {
        "id": new_id(rng, "payment"),
        "billId": bill["id"],
        "vendorId": bill["vendorId"],
        "vendorName": bill["vendorName"],
        "amount": bill["dueAmount"] or bill["amount"],
        "processDate": when.date().isoformat(),
        "status": status,
        "paymentType": "ACH",
        "description": "",
        "createdTime": stamp(when),
        "updatedTime": stamp(when),
    }


def generate(seed, size, anchor):
    rng = random.Random(f"bill-{seed}")
    size = max(0, int(size))
    chart = build_chart(rng, anchor)
    departments = build_departments(rng, anchor)
    vendors = build_vendors(rng, size, anchor)
    bills = build_bills(rng, size, anchor, vendors, chart, departments)
    payments = []
    for bill in bills[::3]:  # a third of the bills were paid a few days after they arrived
        when = min(
            dt.datetime.fromisoformat(bill["createdTime"]).replace(tzinfo=None) + dt.timedelta(days=rng.randint(1, 9)),
            dt.datetime.combine(anchor, dt.time()) - dt.timedelta(minutes=5),
        )
        payments.append(payment_for(rng, bill, when))
        bill.update(paymentStatus="PAID", dueAmount=0.0, updatedTime=stamp(when))
    return {"vendors": vendors, "chart_of_accounts": chart, "departments": departments, "bills": bills, "payments": payments}
