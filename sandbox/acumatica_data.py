"""Deterministic Acumatica data, in the same seeded world as the Expensify fake.

The people are the Expensify fake's policy employees (``expensify_data.build_policies`` on the
same seed), so a demo tenant lines up end to end: each is an Employee (department by policy,
reporting to the policy's approver) and, as in Acumatica where an employee is a business
account AP can pay, a Vendor with the same ID and e-mail. A few new hires exist only here
(the mirror flow provisions them) and one employee is Inactive (terminated). The chart of
accounts is the sandbox catalog's expense objects plus the offsets; one account and one
subaccount are inactive so holds have something to find.
"""

import datetime as dt
import hashlib
import random
import uuid

from . import catalog, expensify_data

TENANT = "MLConnector"
ENDPOINTS = {"Default": ["20.200.001", "22.200.001", "23.200.001", "24.200.001"]}
BUILD_VERSION = "24.212.0021"
# Expensify policy -> the department its people sit in here (the mirror maps it back).
POLICY_DEPARTMENTS = {"HQ": "ADMIN", "Field Sales": "SALES", "Engineering EU": "ENG"}
OFFSET_ACCOUNTS = {
    "1000": ("Cash", "Asset"),
    "2000": ("Accounts payable", "Liability"),
    "2100": ("Employee payable", "Liability"),
    "2150": ("Card clearing", "Liability"),
}
INACTIVE_ACCOUNT = "6999"
INACTIVE_SUBACCOUNT = "CC99"
DEFAULT_SUBACCOUNT = "000"


def credentials_for(seed):
    digest = hashlib.sha256(f"sandbox-acumatica-{seed}".encode()).hexdigest()
    guid = str(uuid.UUID(digest[:32])).upper()
    return {
        "client_id": f"{guid}@{TENANT}",
        "client_secret": digest[32:56],
        "username": "admin",
        "password": digest[40:60],
        "company": TENANT,
        "endpoint_name": "Default",
        "endpoint_version": ENDPOINTS["Default"][-1],
    }


class World:
    """Every entity's records, in creation order: ``records[entity]`` is a list of plain dicts."""

    def __init__(self, seed, size, anchor):
        self.rng = random.Random(f"acumatica-{seed}")
        self.base = dt.datetime.combine(anchor, dt.time(), dt.UTC) - dt.timedelta(days=30)
        self.counter = 0
        self.records = {name: [] for name in ("Bill", "JournalTransaction", "Employee", "Vendor", "Account", "Subaccount")}
        self._accounts()
        self._people(seed, size)

    def stamp(self):
        self.counter += 1
        return (self.base + dt.timedelta(minutes=7 * self.counter)).isoformat(timespec="milliseconds")

    def new_id(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def add(self, entity, **fields):
        record = {"id": self.new_id(), "LastModifiedDateTime": self.stamp(), **fields}
        self.records[entity].append(record)
        return record

    def _accounts(self):
        number = 1
        for code, (description, kind) in OFFSET_ACCOUNTS.items():
            self.add(
                "Account",
                AccountCD=code,
                AccountID=number,
                AccountClass=kind.upper(),
                Type=kind,
                Active=True,
                Description=description,
                PostOption="Summary",
                CashAccount=code == "1000",
                CurrencyID=None,
            )
            number += 1
        for code, description in catalog.EXPENSE_OBJECTS.items():
            self.add(
                "Account",
                AccountCD=code,
                AccountID=number,
                AccountClass="EXPENSE",
                Type="Expense",
                Active=True,
                Description=description,
                PostOption="Detail",
                CashAccount=False,
                CurrencyID=None,
            )
            number += 1
        self.add(
            "Account",
            AccountCD=INACTIVE_ACCOUNT,
            AccountID=number,
            AccountClass="EXPENSE",
            Type="Expense",
            Active=False,
            Description="Obsolete expenses",
            PostOption="Detail",
            CashAccount=False,
            CurrencyID=None,
        )
        for n, code in enumerate([DEFAULT_SUBACCOUNT, *catalog.COST_CENTERS, INACTIVE_SUBACCOUNT], start=1):
            self.add(
                "Subaccount",
                SubaccountCD=code,
                SubaccountID=n,
                Active=code != INACTIVE_SUBACCOUNT,
                Description="Default" if code == DEFAULT_SUBACCOUNT else f"Cost center {code}",
            )

    def _people(self, seed, size):
        policies = expensify_data.build_policies(random.Random(seed), size)
        people = []
        for policy in policies.values():
            department = POLICY_DEPARTMENTS.get(policy["name"], "ADMIN")
            approver = policy["employees"][0]
            for person in policy["employees"]:
                manager = "" if person is approver else approver["employeeID"]
                people.append((person, department, manager))
        used = {p["email"] for p, _, _ in people}
        number = 1000 + len(people) + 100
        hires = 2 + size // 20
        for n in range(hires):  # new hires: in Acumatica, not yet in Expensify
            person = expensify_data._person(self.rng, used)
            number += 1
            department = list(POLICY_DEPARTMENTS.values())[n % len(POLICY_DEPARTMENTS)]
            manager = next(p["employeeID"] for p, d, m in people if d == department and not m)
            people.append(({**person, "employeeID": f"E{number}"}, department, manager))
        terminated = people[2][0]["employeeID"] if len(people) > 2 else ""
        for person, department, manager in people:
            status = "Inactive" if person["employeeID"] == terminated else "Active"
            name = f"{person['firstName']} {person['lastName']}"
            contact = {
                "Email": person["email"],
                "FirstName": person["firstName"],
                "LastName": person["lastName"],
                "DisplayName": name,
            }
            self.add(
                "Employee",
                EmployeeID=person["employeeID"],
                EmployeeName=name,
                Status=status,
                ContactInfo=dict(contact),
                EmployeeSettings={
                    "BranchID": "HQ",
                    "DepartmentID": department,
                    "EmployeeClass": "EMPSTAND",
                    "ReportsToID": manager,
                    "Calendar": "MAIN",
                },
            )
            self.add(
                "Vendor",
                VendorID=person["employeeID"],
                VendorName=name,
                VendorClass="EMPLOYEE",
                Status=status,
                CurrencyID="USD",
                MainContact=dict(contact),
            )
        for n, name in enumerate(["Office Depot Inc", "Delta Air Lines"], start=1):
            self.add(
                "Vendor",
                VendorID=f"V{n:05d}",
                VendorName=name,
                VendorClass="DEFAULT",
                Status="Active",
                CurrencyID="USD",
                MainContact={"Email": f"ap@vendor{n}.example", "DisplayName": name},
            )
