"""Deterministic JD Edwards data: the chart of accounts (F0901), suppliers (F0101/F0401),
and the journal tables (F0911Z1 batch input, F0911 account ledger), which start empty.

``generate(seed, size, anchor)`` builds every table from ``random.Random(seed)`` only, so
the same arguments give the same rows. Rows are plain dicts keyed by the data-dictionary
alias without the table's two-letter prefix (``AID``, ``MCU``...); ``TABLES`` describes
each table's columns and how their values look on the wire.

Values are stored the way the fake serves them: strings unpadded except business units
(``MCU``-like columns, right-justified to 12 as JDE keeps them), dates as Julian CYYDDD
integers (value = (year - 1900) * 1000 + day of year), times as HHMMSS integers and
amounts as ``Decimal``.

The chart (from ``sandbox.catalog``): for each business unit a non-posting header
account (object 6000, level of detail 3), and for each expense object the base account
(subsidiary blank, level 5) plus one account per cost center subsidiary (level 6); the
balance-sheet offsets (employee payable, card clearing) under unit 100 below their own
header (2000). Posting edit codes: blank = posting; ``N`` = non-posting (headers and
``catalog.RESTRICTED_ACCOUNTS``); ``I`` = inactive (every account of
``catalog.INACTIVE_BUSINESS_UNITS``; "I" is this sandbox's choice, the real code list is
UNCONFIRMED). ``size`` scales the number of suppliers.
"""

import datetime as dt
import hashlib
import random

from . import catalog
from .jde_schema_ap import AP_TABLES

# Column kinds: "str" (trimmed text), "mcu" (right-justified to 12), "num" (integer),
# "amount" (Decimal), "date" (Julian CYYDDD integer; 0 = no date), "time" (HHMMSS integer).
TABLES = {
    "F0901": {
        "prefix": "GM",
        "title": "Account Master",
        "key": ("AID",),
        "columns": {
            "AID": ("str", "Account ID"),
            "CO": ("str", "Company"),
            "MCU": ("mcu", "Business Unit"),
            "OBJ": ("str", "Object Account"),
            "SUB": ("str", "Subsidiary"),
            "DL01": ("str", "Description"),
            "LDA": ("str", "Level of Detail"),
            "PEC": ("str", "Posting Edit"),
            "CRCD": ("str", "Currency Code"),
            "UPMJ": ("date", "Date Updated"),
            "UPMT": ("time", "Time Last Updated"),
        },
    },
    "F0101": {
        "prefix": "AB",
        "title": "Address Book Master",
        "key": ("AN8",),
        "columns": {
            "AN8": ("num", "Address Number"),
            "ALPH": ("str", "Alpha Name"),
            "ALKY": ("str", "Long Address Number"),
            "AT1": ("str", "Search Type"),
            "TAX": ("str", "Tax ID"),
            "MCU": ("mcu", "Business Unit"),
            "UPMJ": ("date", "Date Updated"),
            "UPMT": ("time", "Time Last Updated"),
        },
    },
    "F0401": {
        "prefix": "A6",
        "title": "Supplier Master",
        "key": ("AN8",),
        "columns": {
            "AN8": ("num", "Address Number"),
            "MCUP": ("mcu", "Business Unit - A/P Default"),
            "OBAP": ("str", "Object Account - A/P Default"),
            "AIDP": ("str", "Account ID - A/P Default"),
            "CRRP": ("str", "Currency Code - A/P"),
            "TRAP": ("str", "Payment Terms - A/P"),
            "PYIN": ("str", "Payment Instrument"),
            "HDPY": ("str", "Hold Payment Code"),
            "UPMJ": ("date", "Date Updated"),
            "UPMT": ("time", "Time Last Updated"),
        },
    },
    "F0911Z1": {
        "prefix": "VN",
        "title": "Journal Entry Transactions - Batch File",
        "key": ("EDUS", "EDBT", "EDTN", "EDLN"),
        "columns": {
            "EDUS": ("str", "EDI - User ID"),
            "EDBT": ("str", "EDI - Batch Number"),
            "EDTN": ("str", "EDI - Transaction Number"),
            "EDLN": ("num", "EDI - Line Number"),
            "EDSP": ("str", "EDI - Successfully Processed"),
            "EDTC": ("str", "EDI - Transaction Action"),
            "EDTR": ("str", "EDI - Transaction Type"),
            "DCT": ("str", "Document Type"),
            "DOC": ("num", "Document Number"),
            "KCO": ("str", "Document Company"),
            "CO": ("str", "Company"),
            "DGJ": ("date", "G/L Date"),
            "ANI": ("str", "Account Number - Input"),
            "AM": ("str", "Account Mode - G/L"),
            "AID": ("str", "Account ID"),
            "MCU": ("mcu", "Business Unit"),
            "OBJ": ("str", "Object Account"),
            "SUB": ("str", "Subsidiary"),
            "LT": ("str", "Ledger Type"),
            "AA": ("amount", "Amount"),
            "CRCD": ("str", "Currency Code - From"),
            "EXA": ("str", "Explanation - Name Alpha"),
            "EXR": ("str", "Explanation - Remark"),
            "UPMJ": ("date", "Date Updated"),
            "UPMT": ("time", "Time Last Updated"),
        },
    },
    # What the Journal Entries Batch Processor (R09110Z) makes of F0911Z1 rows: one row per
    # journal line and ledger type. Key as in JDE: KCO, DCT, DOC, DGJ, JELN, LT (EXTL omitted).
    "F0911": {
        "prefix": "GL",
        "title": "Account Ledger",
        "key": ("KCO", "DCT", "DOC", "DGJ", "JELN", "LT"),
        "columns": {
            "KCO": ("str", "Document Company"),
            "DCT": ("str", "Document Type"),
            "DOC": ("num", "Document Number"),
            "DGJ": ("date", "G/L Date"),
            "JELN": ("num", "Journal Entry Line Number"),
            "LT": ("str", "Ledger Type"),
            "AID": ("str", "Account ID"),
            "MCU": ("mcu", "Business Unit"),
            "OBJ": ("str", "Object Account"),
            "SUB": ("str", "Subsidiary"),
            "ANI": ("str", "Account Number - Input"),
            "AA": ("amount", "Amount"),
            "CRCD": ("str", "Currency Code - From"),
            "EXA": ("str", "Explanation - Name Alpha"),
            "EXR": ("str", "Explanation - Remark"),
            "CO": ("str", "Company"),
            "ICU": ("num", "Batch Number"),
            "ICUT": ("str", "Batch Type"),
            "POST": ("str", "G/L Posted Code"),
            "UPMJ": ("date", "Date Updated"),
            "UPMT": ("time", "Time Last Updated"),
        },
    },
}

TABLES.update(AP_TABLES)  # purchasing, supplier contacts and the voucher tables (sandbox.jde_schema_ap)

EXPENSE_HEADER = ("6000", "Operating Expenses")
LIABILITY_HEADER = ("2000", "Current Liabilities")
OFFSET_NAMES = {catalog.EMPLOYEE_PAYABLE: "Employee Reimbursements Payable", catalog.CARD_CLEARING: "Corporate Card Clearing"}

SUPPLIER_STEMS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Soylent", "Tyrell", "Wonka",
                  "Cyberdyne", "Stark", "Wayne", "Gringotts", "Monarch", "Oscorp", "Pied Piper", "Sterling", "Dunder"]
SUPPLIER_KINDS = [("Office Supply", "6200"), ("Travel Services", "6100"), ("Software Inc", "6300"),
                  ("Telecom", "6400"), ("Catering", "6110"), ("Training Group", "6500"), ("Hotels", "6120"),
                  ("Events LLC", "6900")]
PAY_TERMS = ["N30", "N30", "N45", "N15", "2/10"]
SUPPLIER_CURRENCIES = ["USD", "USD", "USD", "USD", "EUR", "CAD"]
PAYMENT_INSTRUMENTS = ["", "", "T", "C"]  # sandbox codes: blank = default, T = EFT, C = check (UNCONFIRMED)
EMPLOYEE_NAMES = ["Avery Adams", "Blake Brooks", "Casey Chen", "Devon Diaz", "Emery Evans", "Finley Fischer"]


def to_julian(day):
    """date -> JDE Julian CYYDDD integer, e.g. 2024-01-15 -> 124015."""
    return (day.year - 1900) * 1000 + day.timetuple().tm_yday


def from_julian(value):
    value = int(value)
    if value <= 0:
        return None
    return dt.date(1900 + value // 1000, 1, 1) + dt.timedelta(days=value % 1000 - 1)


def pad_mcu(value):
    return str(value or "").strip().rjust(12)


def account_key(bu, obj, sub=""):
    key = f"{str(bu).strip()}.{obj}"
    return f"{key}.{sub}" if sub else key


def credentials_for(seed):
    secret = hashlib.sha256(f"sandbox-jde-{seed}".encode()).hexdigest()[:16]
    return {"username": "MLCONN", "password": f"Jde-{secret}", "environment": "JDV920", "role": "*ALL"}


def _stamp(rng, anchor, max_days=700):
    day = anchor - dt.timedelta(days=rng.randint(2, max_days))
    return to_julian(day), rng.randint(0, 23) * 10000 + rng.randint(0, 59) * 100 + rng.randint(0, 59)


def build_accounts(rng, anchor):
    specs = []  # (bu, obj, sub, description, lda, pec)
    for bu, bu_name in catalog.BUSINESS_UNITS.items():
        specs.append((bu, EXPENSE_HEADER[0], "", f"{EXPENSE_HEADER[1]} - {bu_name}"[:30], "3", "N"))
        for obj, description in catalog.EXPENSE_OBJECTS.items():
            specs.append((bu, obj, "", description, "5", ""))
            for sub in catalog.COST_CENTERS:
                specs.append((bu, obj, sub, f"{description} {sub}"[:30], "6", ""))
    specs.append((catalog.EMPLOYEE_PAYABLE[0], LIABILITY_HEADER[0], "", LIABILITY_HEADER[1], "3", "N"))
    for offset in (catalog.EMPLOYEE_PAYABLE, catalog.CARD_CLEARING):
        bu, obj, sub = offset
        specs.append((bu, obj, sub, OFFSET_NAMES[offset], "5", ""))
    specs.sort(key=lambda s: (int(s[0]), s[1], s[2]))
    next_aid = 10000 + rng.randrange(0, 90000, 100)
    rows = []
    for bu, obj, sub, description, lda, pec in specs:
        if bu in catalog.INACTIVE_BUSINESS_UNITS:
            pec = "I"
        pec = catalog.RESTRICTED_ACCOUNTS.get((bu, obj, sub), pec)
        upmj, upmt = _stamp(rng, anchor)
        rows.append({"AID": f"{next_aid:08d}", "CO": catalog.COMPANY, "MCU": pad_mcu(bu), "OBJ": obj, "SUB": sub,
                     "DL01": description, "LDA": lda, "PEC": pec, "CRCD": "", "UPMJ": upmj, "UPMT": upmt})
        next_aid += 1
    return rows


def build_address_book(rng, size, anchor, accounts):
    """Suppliers (F0101 with search type V plus F0401) and a few employees (search type E)."""
    by_key = {account_key(a["MCU"], a["OBJ"], a["SUB"]): a for a in accounts}
    units = [bu for bu in catalog.BUSINESS_UNITS if bu not in catalog.INACTIVE_BUSINESS_UNITS]
    count = 8 + size // 2
    names = [(f"{stem} {kind}", obj) for stem in SUPPLIER_STEMS for kind, obj in SUPPLIER_KINDS]
    rng.shuffle(names)
    address_book, suppliers = [], []
    an8 = 4000
    for i in range(count):
        an8 += rng.randint(1, 7)
        name, obj = names[i % len(names)]
        if i >= len(names):
            name = f"{name} {i // len(names) + 1}"
        bu = rng.choice(units)
        upmj, upmt = _stamp(rng, anchor)
        tax = f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
        address_book.append({"AN8": an8, "ALPH": name[:40], "ALKY": "", "AT1": "V", "TAX": tax, "MCU": pad_mcu(bu),
                             "UPMJ": upmj, "UPMT": upmt})
        account = by_key.get(account_key(bu, obj))
        suppliers.append({"AN8": an8, "MCUP": pad_mcu(bu), "OBAP": obj, "AIDP": account["AID"] if account else "",
                          "CRRP": rng.choice(SUPPLIER_CURRENCIES), "TRAP": rng.choice(PAY_TERMS),
                          "PYIN": rng.choice(PAYMENT_INSTRUMENTS), "HDPY": "Y" if rng.random() < 0.1 else "N",
                          "UPMJ": upmj, "UPMT": upmt})
    employee_an8 = 7000
    for name in EMPLOYEE_NAMES:
        employee_an8 += rng.randint(1, 5)
        upmj, upmt = _stamp(rng, anchor)
        address_book.append({"AN8": employee_an8, "ALPH": name, "ALKY": "", "AT1": "E", "TAX": "",
                             "MCU": pad_mcu(rng.choice(units)), "UPMJ": upmj, "UPMT": upmt})
    return address_book, suppliers


def generate(seed, size, anchor):
    """``{table name: [rows]}`` for every table in ``TABLES`` (the batch files and ledgers start empty)."""
    from . import jde_purchasing_data  # it builds on this module's helpers and rows

    rng = random.Random(f"jde-{seed}")
    accounts = build_accounts(rng, anchor)
    address_book, suppliers = build_address_book(rng, max(0, int(size)), anchor, accounts)
    tables = {"F0901": accounts, "F0101": address_book, "F0401": suppliers, "F0911Z1": [], "F0911": []}
    tables.update(jde_purchasing_data.generate(seed, size, anchor, tables))
    return tables
