"""Deterministic Expensify data: policies, employees, reports and expenses.

``generate(seed, size, anchor)`` builds the world from ``random.Random(seed)`` only, so
the same arguments give byte-identical data; every date lies before ``anchor``
(within about 180 days of it), so a caller can treat the anchor as "today".

Money follows Expensify: integer minor units. ``amount`` is in the expense's own
currency, ``convertedAmount`` in the report currency (exact integer cents, from the
stored ``currencyConversionRate``), and a report's ``total`` is the sum of its
``convertedAmount``s. Report currency is the policy's output currency (USD or EUR);
about one expense in six is foreign (EUR, GBP, CAD, USD or JPY, which has no minor unit).
"""

import datetime as dt
import hashlib
import random
from decimal import ROUND_HALF_UP, Decimal

from . import catalog

STATES = ("OPEN", "SUBMITTED", "APPROVED", "REIMBURSED", "ARCHIVED")
# Expensify's website names for the API states; the export's ``report.status``.
STATUS_NAMES = {"OPEN": "Open", "SUBMITTED": "Processing", "APPROVED": "Approved",
                "REIMBURSED": "Reimbursed", "ARCHIVED": "Closed"}
STATE_WEIGHTS = (8, 8, 42, 32, 10)  # about three reports in four are approved or reimbursed

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATE_FORMAT = "%Y-%m-%d"

# Value of one unit of each currency in USD (a fixed, made-up table).
USD_VALUE = {"USD": Decimal("1"), "EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "CAD": Decimal("0.73"),
             "JPY": Decimal("0.0067")}
FOREIGN = ("EUR", "GBP", "CAD", "JPY", "USD")

# category -> (relative weight, min USD cents, max USD cents, merchants, MCC)
CATEGORY_PROFILE = {
    "Airfare": (6, 9000, 90000, ["Delta Air Lines", "United Airlines", "Lufthansa", "Air Canada", "British Airways"], "4511"),
    "Meals": (22, 800, 12000, ["Blue Bottle Coffee", "Chipotle", "The Capital Grille", "Pret A Manger", "Sushi Zen"], "5812"),
    "Lodging": (10, 12000, 60000, ["Marriott", "Hilton", "Hyatt Regency", "Holiday Inn", "Airbnb"], "7011"),
    "Mileage": (6, 1500, 9000, ["Mileage"], ""),
    "Office Supplies": (10, 500, 15000, ["Staples", "Office Depot", "Amazon"], "5943"),
    "Software": (8, 1000, 50000, ["Atlassian", "GitHub", "Adobe", "JetBrains", "Zoom"], "5734"),
    "Telephone": (8, 2000, 12000, ["Verizon", "AT&T", "T-Mobile", "Vodafone"], "4814"),
    "Training": (5, 5000, 150000, ["Coursera", "O'Reilly Media", "Udemy", "PMI"], "8299"),
    "Entertainment": (6, 3000, 40000, ["Topgolf", "Dave & Buster's", "Ticketmaster"], "7999"),
    "Gifts": (2, 1500, 15000, ["Edible Arrangements", "1-800-Flowers", "Harry & David"], "5947"),
}
CATEGORY_NAMES = list(CATEGORY_PROFILE)
CATEGORY_WEIGHTS = [CATEGORY_PROFILE[c][0] for c in CATEGORY_NAMES]

FIRST_NAMES = ["Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan", "Morgan",
               "Noel", "Parker", "Quinn", "Riley", "Rowan", "Sage", "Taylor", "Drew", "Jamie"]
LAST_NAMES = ["Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen", "Kowalski",
              "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber"]
DOMAIN = "demo.example"
CITIES = ["Denver", "Chicago", "Austin", "Toronto", "London", "Berlin", "Paris", "Tokyo", "Boston", "Seattle"]
DEPARTMENTS = ["Sales", "Engineering", "Finance", "Operations", "Marketing"]
BANKS = ("vcf", "cdf", "Expensify Card")

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def money_exponent(currency):
    return catalog.CURRENCY_EXPONENTS.get(currency, 2)


def conversion_rate(from_currency, to_currency):
    """Units of ``to_currency`` per unit of ``from_currency``, 6 decimals."""
    if from_currency == to_currency:
        return Decimal("1")
    return (USD_VALUE[from_currency] / USD_VALUE[to_currency]).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def convert(amount, from_currency, to_currency, rate=None):
    """Minor units of ``from_currency`` -> minor units of ``to_currency``, rounded half up."""
    if from_currency == to_currency and rate is None:
        return int(amount)
    rate = conversion_rate(from_currency, to_currency) if rate is None else Decimal(str(rate))
    major = Decimal(int(amount)).scaleb(-money_exponent(from_currency)) * rate
    return int(major.scaleb(money_exponent(to_currency)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def fmt_datetime(value):
    return value.strftime(DATETIME_FORMAT) if value else None


def credentials_for(seed):
    secret = hashlib.sha256(f"sandbox-expensify-{seed}".encode()).hexdigest()[:40]
    return {"partnerUserID": "aa_api_demo_example", "partnerUserSecret": secret}


def build_policies(rng, size):
    policies = {}
    used_emails = set()
    employee_number = 1000
    per_policy = 3 + size // 25
    for index, (name, (policy_id, currency, _unit)) in enumerate(catalog.POLICIES.items()):
        approver = _person(rng, used_emails)
        employee_number += 1
        approver.update(role="admin", submitsTo="", employeeID=f"E{employee_number}", payrollID=f"P{employee_number}")
        employees = [approver]
        for _ in range(per_policy):
            person = _person(rng, used_emails)
            employee_number += 1
            person.update(role="user", submitsTo=approver["email"], employeeID=f"E{employee_number}",
                          payrollID=f"P{employee_number}")
            if rng.random() < 0.45:
                person["card"] = {"cardID": str(rng.randint(1_000_000, 9_999_999)), "bank": rng.choice(BANKS),
                                  "cardNumber": f"XXXX{rng.randint(0, 9999):04d}"}
            employees.append(person)
        policies[policy_id] = {
            "id": policy_id,
            "name": name,
            "type": "corporate",
            "owner": f"finance.admin@{DOMAIN}",
            "role": "admin",
            "outputCurrency": currency,
            "approver": approver["email"],
            "categories": [
                {"name": cat, "enabled": True, "glCode": gl or "", "areCommentsRequired": cat == "Entertainment"}
                for cat, gl in catalog.CATEGORIES.items()
            ],
            "tags": [
                {"name": level, "tags": [{"name": value, "glCode": "", "enabled": True} for value in values]}
                for level, values in catalog.TAG_LEVELS.items()
            ],
            "reportFields": [
                {"name": "Trip Purpose", "type": "text", "values": []},
                {"name": "Department", "type": "dropdown", "values": list(DEPARTMENTS)},
            ],
            "tax": {"default": "Tax exempt", "rates": [{"rateID": "id_TAX_EXEMPT", "name": "Tax exempt", "rate": 0}]},
            "employees": employees,
            "index": index,
        }
    return policies


def _person(rng, used):
    while True:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first.lower()}.{last.lower()}@{DOMAIN}"
        n = 2
        while email in used:
            email = f"{first.lower()}.{last.lower()}{n}@{DOMAIN}"
            n += 1
        used.add(email)
        return {"email": email, "firstName": first, "lastName": last}


class _Ids:
    def __init__(self, rng, start, gap):
        self.rng = rng
        self.value = start
        self.gap = gap

    def next(self):
        self.value += self.rng.randint(1, self.gap)
        return str(self.value)


def generate(seed, size, anchor):
    """-> (policies {policyID: policy}, reports {reportID: report} in generation order)."""
    rng = random.Random(seed)
    policies = build_policies(rng, size)
    policy_list = list(policies.values())
    policy_weights = [45, 35, 20][: len(policy_list)] + [10] * max(0, len(policy_list) - 3)
    report_ids = _Ids(rng, rng.randint(40_000_000, 60_000_000), 997)
    txn_ids = _Ids(rng, rng.randint(10**17, 5 * 10**17), 10**6)
    entry_ids = _Ids(rng, rng.randint(1_000_000, 2_000_000), 50)
    start_of_anchor = dt.datetime.combine(anchor, dt.time())
    latest = start_of_anchor - dt.timedelta(minutes=1)
    reports = {}
    for _ in range(size):
        policy = rng.choices(policy_list, weights=policy_weights)[0]
        employee = rng.choice(policy["employees"][1:])
        state = rng.choices(STATES, weights=STATE_WEIGHTS)[0]
        created = start_of_anchor - dt.timedelta(days=rng.randint(2, 175)) + dt.timedelta(seconds=rng.randint(28800, 68400))
        submitted = approved = reimbursed = None
        if state != "OPEN":
            submitted = created + dt.timedelta(seconds=rng.randint(600, 3 * 86400))
        if state in ("APPROVED", "REIMBURSED", "ARCHIVED"):
            approved = submitted + dt.timedelta(seconds=rng.randint(3600, 5 * 86400))
        if state == "REIMBURSED":
            reimbursed = approved + dt.timedelta(seconds=rng.randint(86400, 7 * 86400))
        created, submitted, approved, reimbursed = (min(d, latest) if d else None
                                                     for d in (created, submitted, approved, reimbursed))
        report_id = report_ids.next()
        currency = policy["outputCurrency"]
        report = {
            "reportID": report_id,
            "reportName": _report_name(rng, created),
            "state": state,
            "status": STATUS_NAMES[state],
            "currency": currency,
            "total": 0,
            "created": fmt_datetime(created),
            "submitted": fmt_datetime(submitted),
            "approved": fmt_datetime(approved),
            "reimbursed": fmt_datetime(reimbursed),
            "policyID": policy["id"],
            "policyName": policy["name"],
            "accountEmail": employee["email"],
            "accountID": 10_000_000 + int(employee["employeeID"][1:]),
            "managerEmail": policy["approver"] if submitted else None,
            "submitterUserID": employee["employeeID"],
            "submitterPayrollID": employee["payrollID"],
            "approvers": [{"email": policy["approver"], "date": fmt_datetime(approved)}] if approved else [],
            "entryID": int(entry_ids.next()),
            "isACHReimbursed": bool(reimbursed) and rng.random() < 0.5,
            "customField": {"Trip_Purpose": rng.choice(["Customer visit", "Conference", "Team offsite", "Training", ""]),
                            "Department": rng.choice(DEPARTMENTS)},
            "transactionList": [],
            "actionList": [],
            "labels": [],
        }
        for _ in range(rng.randint(1, 8)):
            report["transactionList"].append(_expense(rng, txn_ids.next(), report, employee, created))
        report["total"] = sum(t["convertedAmount"] for t in report["transactionList"])
        reports[report_id] = report
    if size >= 20:
        # A deterministic "Gifts" expense (no GL code) on the first approved report.
        first_approved = next((r for r in reports.values() if r["state"] == "APPROVED"), None)
        if first_approved is not None:
            txn = first_approved["transactionList"][0]
            txn["category"] = "Gifts"
            txn["merchant"] = CATEGORY_PROFILE["Gifts"][3][0]
            if txn["mcc"]:
                txn["mcc"] = CATEGORY_PROFILE["Gifts"][4]
    return policies, reports


def _report_name(rng, created):
    roll = rng.random()
    if roll < 0.4:
        return f"{MONTHS[created.month - 1]} {created.year} expenses"
    if roll < 0.8:
        return f"Trip to {rng.choice(CITIES)}"
    return f"{rng.choice(['Q', 'Client', 'Team'])} {rng.choice(['review', 'workshop', 'summit', 'kickoff'])}"


def _expense(rng, transaction_id, report, employee, report_created):
    category = rng.choices(CATEGORY_NAMES, weights=CATEGORY_WEIGHTS)[0]
    _, low, high, merchants, mcc = CATEGORY_PROFILE[category]
    report_currency = report["currency"]
    card = employee.get("card")
    on_card = bool(card) and category != "Mileage" and rng.random() < 0.6
    currency = report_currency
    if category != "Mileage" and rng.random() < 0.17:
        currency = rng.choice([c for c in FOREIGN if c != report_currency])
    usd_cents = rng.randint(low, high)
    amount = int((Decimal(usd_cents) / 100 / USD_VALUE[currency]).scaleb(money_exponent(currency))
                 .quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    amount = max(amount, 1)
    rate = conversion_rate(currency, report_currency)
    converted = convert(amount, currency, report_currency, rate)
    roll = rng.random()
    if roll < 0.15:
        tag = ""
    elif roll < 0.25:
        tag = rng.choice(catalog.COST_CENTERS)
    else:
        tag = f"{rng.choice(catalog.TAG_LEVELS['Cost Center'])}:{rng.choice(catalog.TAG_LEVELS['Project'])}"
    spent = report_created.date() - dt.timedelta(days=rng.randint(0, 12))
    receipt = rng.random() < 0.8
    receipt_id = str(rng.randint(10**8, 10**9 - 1)) if receipt else None
    return {
        "transactionID": transaction_id,
        "reportID": report["reportID"],
        "merchant": rng.choice(merchants),
        "modifiedMerchant": None,
        "amount": amount,
        "modifiedAmount": None,
        "convertedAmount": converted,
        "currency": currency,
        "currencyConversionRate": float(rate),
        "category": category,
        "tag": tag,
        "comment": rng.choice(["", "", "", "client dinner", "see receipt", "pre-approved by manager"]),
        "created": spent.strftime(DATE_FORMAT),
        "modifiedCreated": None,
        "inserted": fmt_datetime(report_created),
        "reimbursable": not on_card,
        "billable": rng.random() < 0.1,
        "receiptID": receipt_id,
        "receiptFilename": f"w_{receipt_id}.jpg" if receipt else None,
        "receiptObject": {"url": f"https://www.expensify.com/receipts/w_{receipt_id}.jpg"} if receipt else {},
        "cardID": card["cardID"] if on_card else "",
        "bank": card["bank"] if on_card else "",
        "cardNumber": card["cardNumber"] if on_card else "",
        "mcc": mcc if on_card else "",
        "externalID": "",
        "transactionHash": hashlib.md5(transaction_id.encode()).hexdigest()[:16],
        "unverified": False,
        "modified": False,
    }
