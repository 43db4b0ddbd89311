"""Deterministic Procurify data: vendors, account codes, departments, locations, purchase
orders with items, AP bills with lines, and payments.

``generate(seed, size, anchor)`` uses ``random.Random`` seeded from ``seed`` only, so the same
arguments give identical data; every timestamp lies before ``anchor`` (midnight UTC).
Field names follow Procurify's OpenAPI as summarised in shared/reference/procurify.md
(vendor, PO list item, order item, bill, public payment, account code, department).
Money is a decimal string with two places, as the spec's ``total`` / ``amount`` are.
Account codes are ``BU.OBJ`` strings matching the JD Edwards fake's F0901 accounts, plus one
(``100.4000``) that F0901 does not hold, so a bill allocated to it has something to wait for.
"""

import datetime as dt
import hashlib
import random
import uuid
from decimal import Decimal

from . import catalog
from .jde_data import SUPPLIER_KINDS, SUPPLIER_STEMS

AUDIENCE = "https://api.procurify.com/"  # the token request's documented audience
MISSING_IN_JDE = "100.4000"
LOCATIONS = ["Vancouver HQ", "Toronto Plant", "Denver Warehouse"]
DEPARTMENTS = ["Operations", "Engineering", "Finance", "Facilities", "Sales"]
# A vendor's contact person (``contact``, a string of at most 50 beside ``phoneOne`` of at most 20 in the
# Vendor schema of Procurify's OpenAPI: konfig-sdks/procurify-python-sdk procurify_python_sdk/model/vendor.py):
# set on every other vendor, without drawing from the random stream, so the other rows stay as they were.
VENDOR_CONTACTS = ("Avery Stone", "Blake Morgan", "Casey Hart", "Drew Patel")
# Vendor type codes (reference: 1 OTHER, 3 PREFERRED (default), 4 REGULAR ...).
VENDOR_TYPES = (3, 3, 4, 1)
# PO states for the list's {status} path segment; the integer state codes are a sandbox choice.
PO_STATES = {"open": 1, "partial": 2, "closed": 3, "cancelled": 4, "paid": 5}
# Bill status codes: the spec lists 0-8 without names; the sandbox reads 0 draft, 1 pending approval,
# 2 approved, 3 paid, 4 rejected (UNCONFIRMED: a sandbox choice).
BILL_STATUSES = (0, 1, 2, 2, 2, 3, 3)
PAYMENT_STATUSES = ("draft", "pending_approval", "approved", "denied", "paid", "processing", "failed", "scheduled")
ITEM_NAMES = [
    "Copy paper (case)",
    "Laptop dock",
    "Safety gloves",
    "Toner cartridge",
    "Pallet wrap",
    "Desk chair",
    "Monitor 27in",
    "Label printer",
    "Forklift service",
    "Cleaning supplies",
]


def money(value):
    return f"{Decimal(value).quantize(Decimal('0.01'))}"


def stamp(value):
    """An ISO 8601 UTC timestamp as DRF renders one."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def credentials_for(seed):
    digest = hashlib.sha256(f"sandbox-procurify-{seed}".encode()).hexdigest()
    return {"client_id": f"pcf_{digest[:24]}", "client_secret": digest[24:64], "domain": "sandbox"}


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _when(rng, anchor, max_days=120):
    start = dt.datetime.combine(anchor, dt.time())
    return start - dt.timedelta(days=rng.randint(1, max_days), seconds=rng.randint(0, 86399))


def account_codes():
    codes, next_id = [], 100
    for bu in catalog.BUSINESS_UNITS:
        for obj, description in catalog.EXPENSE_OBJECTS.items():
            next_id += 1
            codes.append(
                {
                    "id": next_id,
                    "code": f"{bu}.{obj}",
                    "description": f"{description} ({bu})",
                    "account_type": 3,
                    "active": bu not in catalog.INACTIVE_BUSINESS_UNITS,
                    "parent": None,
                }
            )
    codes.append(
        {
            "id": next_id + 1,
            "code": MISSING_IN_JDE,
            "description": "Revenue clearing (not in JDE)",
            "account_type": 4,
            "active": True,
            "parent": None,
        }
    )
    return codes


def build_vendors(rng, size, anchor):
    names = [f"{stem} {kind}" for stem in SUPPLIER_STEMS for kind, _ in SUPPLIER_KINDS]
    rng.shuffle(names)
    vendors = []
    for i in range(6 + size // 4):
        name = names[i % len(names)]
        vendors.append(
            {
                "id": 500 + i,
                "name": name,
                "active": rng.random() > 0.1,
                "addressLineOne": f"{rng.randint(10, 999)} {rng.choice(['Main', 'Oak', 'Harbour', 'Pine'])} St",
                "addressLineTwo": "",
                "city": rng.choice(["Vancouver", "Toronto", "Denver", "Austin"]),
                "state_province": rng.choice(["BC", "ON", "CO", "TX"]),
                "postalCode": f"{rng.randint(10000, 99999)}",
                "country": "US",
                "phoneOne": f"+1-555-{rng.randint(1000, 9999)}",
                "contact": VENDOR_CONTACTS[i // 2 % len(VENDOR_CONTACTS)] if i % 2 else "",
                "email": [f"ap@{name.split()[0].lower()}.example"],
                "external_id": "",
                "currency": "USD",
                "type": rng.choice(VENDOR_TYPES),
                "overall_score": 0,
                "is_1099_eligible": rng.random() < 0.3,
                "dateModified": stamp(_when(rng, anchor, 400)),
            }
        )
    return vendors


def build_departments():
    departments, next_id = [], 10
    for branch_id, location in enumerate(LOCATIONS, start=1):
        for name in DEPARTMENTS:
            next_id += 1
            departments.append(
                {"id": next_id, "name": name, "branch": {"id": branch_id, "name": location}, "external_id": "", "active": True}
            )
    return departments


def _order_item(rng, item_id, order_num, code, anchor, currency):
    quantity, price = rng.randint(1, 20), Decimal(rng.randint(500, 250000)) / 100
    return {
        "id": item_id,
        "orderNum": order_num,
        "PO": [],
        "name": rng.choice(ITEM_NAMES),
        "sku": f"SKU-{item_id}",
        "quantity": money(quantity),
        "price": money(price),
        "total_cost": money(quantity * price),
        "currency": currency,
        "unit": "each",
        "account": code["id"],
        "accountCode": code["code"],
        "status": 2,
        "last_modified": stamp(_when(rng, anchor, 60)),
    }


def build_purchase_orders(rng, size, anchor, vendors, codes):
    active_codes = [c for c in codes if c["active"] and c["code"] != MISSING_IN_JDE]
    pos, item_id = [], 9000
    for i in range(max(2, size // 2)):
        vendor = rng.choice(vendors)
        number = 2000 + i
        items = []
        for _ in range(rng.randint(1, 4)):
            item_id += 1
            items.append(_order_item(rng, item_id, 700 + i, rng.choice(active_codes), anchor, "USD"))
        for item in items:
            item["PO"] = [number]
        state = rng.choice(["open", "open", "partial", "closed", "paid"])
        pos.append(
            {
                "procurify_PO": number,
                "uuid": _uuid(rng),
                "PO_Num": "",
                "date": _when(rng, anchor).date().isoformat(),
                "pref_vendor": {"id": vendor["id"], "name": vendor["name"]},
                "vendor_name": vendor["name"],
                "purchased_currency": "USD",
                "state": PO_STATES[state],
                "status_name": state,
                "fulfilment_status": 0,
                "closed_date": None,
                "version": 1,
                "last_modified": max(it["last_modified"] for it in items),
                "order_items": items,
            }
        )
    for po in pos:
        recompute_po(po)
    return pos


def recompute_po(po):
    subtotal = sum((Decimal(it["quantity"]) * Decimal(it["price"]) for it in po["order_items"]), Decimal(0))
    for it in po["order_items"]:
        it["total_cost"] = money(Decimal(it["quantity"]) * Decimal(it["price"]))
    po.update(subtotal=money(subtotal), tax=money(0), total=money(subtotal), item_count=len(po["order_items"]))


def build_bills(rng, size, anchor, vendors, codes, departments):
    usable = [c for c in codes if c["active"]]
    bills = []
    for i in range(size):
        vendor = rng.choice(vendors)
        lines, total = [], Decimal(0)
        for n in range(rng.randint(1, 3)):
            amount = Decimal(rng.randint(1000, 500000)) / 100
            # One bill in ten is allocated to the account code JD Edwards lacks.
            code = next(c for c in codes if c["code"] == MISSING_IN_JDE) if rng.random() < 0.1 else rng.choice(usable)
            department = rng.choice(departments)
            lines.append(
                {
                    "id": 30000 + i * 10 + n,
                    "description": rng.choice(ITEM_NAMES),
                    "quantity": "1.00",
                    "unit_cost": money(amount),
                    "total": money(amount),
                    "account_code": code["code"],
                    "account": {
                        "id": code["id"],
                        "code": code["code"],
                        "department": {"id": department["id"], "name": department["name"]},
                    },
                }
            )
            total += amount
        invoiced = _when(rng, anchor, 90)
        modified = min(invoiced + dt.timedelta(days=rng.randint(0, 20)), dt.datetime.combine(anchor, dt.time()))
        bills.append(
            {
                "id": 4000 + i,
                "uuid": _uuid(rng),
                "status": rng.choice(BILL_STATUSES),
                "vendor": {"id": vendor["id"], "name": vendor["name"]},
                "invoice_number": f"INV-{10000 + i * 7}",
                "invoice_date": invoiced.date().isoformat(),
                "due_date": (invoiced + dt.timedelta(days=30)).date().isoformat(),
                "total_cost_with_tax": money(total),
                "currency": "USD",
                "last_modified_datetime": stamp(modified),
                "gl_post_date": invoiced.date().isoformat(),
                "last_export_date": None,
                "items": lines,
            }
        )
    return bills


def build_payments(rng, anchor, bills):
    payments = []
    for bill in bills:
        if bill["status"] != 3:
            continue
        paid = dt.datetime.fromisoformat(bill["last_modified_datetime"].rstrip("Z"))
        payments.append(payment_for(rng, len(payments) + 1, bill, "paid", paid))
    return payments


def payment_for(rng, number, bill, status, when):
    return {
        "id": 800 + number,
        "uuid": _uuid(rng),
        "amount": bill["total_cost_with_tax"],
        "currency": {"id": 1, "name": bill["currency"]},
        "status": status,
        "processing_date": when.date().isoformat(),
        "vendor_name": bill["vendor"]["name"],
        "bill_groups": [
            {
                "id": 900 + number,
                "bills": [
                    {
                        "id": bill["id"],
                        "uuid": bill["uuid"],
                        "invoice_number": bill["invoice_number"],
                        "amount": bill["total_cost_with_tax"],
                    }
                ],
            }
        ],
        "created_at": stamp(when),
        "updated_at": stamp(when),
    }


def generate(seed, size, anchor):
    rng = random.Random(f"procurify-{seed}")
    size = max(0, int(size))
    codes = account_codes()
    vendors = build_vendors(rng, size, anchor)
    departments = build_departments()
    locations = [{"id": i, "name": name, "active": True} for i, name in enumerate(LOCATIONS, start=1)]
    pos = build_purchase_orders(rng, size, anchor, vendors, codes)
    bills = build_bills(rng, size, anchor, vendors, codes, departments)
    return {
        "vendors": vendors,
        "account_codes": codes,
        "departments": departments,
        "locations": locations,
        "purchase_orders": pos,
        "requisitions": [],
        "bills": bills,
        "payments": build_payments(rng, anchor, bills),
    }
