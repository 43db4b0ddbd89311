"""Acumatica employees -> Expensify policy members (the first mirror flow, see ``engine.mirror``).

Each Acumatica employee is kept as a member of the Expensify policy their department (or, failing
that, their employee class) maps to, submitting to their Acumatica manager (``ReportsToID``);
a changed employee is updated (moving policy removes them from the old one), an Inactive one or one
deleted in Acumatica is removed from their policies (Expensify's employee updater ``isTerminated``).
An employee already in the policy is linked by e-mail, never added twice. A run that finds no
change makes no write call.

Which policy: the mapping rules first (match "Acumatica employee department" and/or "Acumatica
employee class", target "Expensify policy ID"; the most specific rule wins, as for GL codes), then
the options department_policies ({DepartmentID: policyID}), class_policies ({EmployeeClass:
policyID}) and default_policy. Other options: default_manager (approver of an employee without a
manager; else themselves), page_size (500).
"""

from mappings.resolver import Resolver

from ..engine.mirror import MirrorTarget
from ..engine.sanitize import clean_text
from ..systems.acumatica import AcumaticaClient
from ..systems.expensify import ExpensifyClient
from ..systems.source_fields import FieldReader, trackable_id
from .checks import BAD_FIELD
from .mirror import MirrorFlow


class AcumaticaToExpensify(MirrorFlow):
    source_kind = "acumatica_employee"
    reference_prefix = "EMP"

    def open(self):
        self.acumatica = AcumaticaClient(self.flow.source)
        self.target = PolicyMembers(ExpensifyClient(self.flow.target))
        self.resolver = Resolver.for_flow(self.flow)

    def describe(self, state):
        return f"{state.get('email') or state['key']} -> policy {state.get('policyID') or '?'}"

    def source_states(self):
        employees = [read_employee(e) for e in self.acumatica.list("Employee", expand=["ContactInfo", "EmployeeSettings"],
                                                                   page_size=int(self.options.get("page_size", 500)))]
        employees = [e for e in employees if e is not None]
        emails = {e["key"]: e["email"] for e in employees}
        return self.states_of(employees, lambda e: self.state(e, emails), key=lambda e: e["key"]), True

    def coverage_gaps(self):
        """Every department and class of an active employee that maps to no Expensify policy."""
        from mappings.coverage import UNMAPPED, Gap

        states, _ = self.source_states()
        gaps, seen = [], set()
        for state in states:
            if state.get("problem", [""])[0] != "MAP-NO-POLICY" or state["problem"][1] in seen:
                continue
            seen.add(state["problem"][1])
            source = {"department": state.get("department", ""), "class": state.get("class", "")}
            gaps.append(Gap(source, "policyID", None, UNMAPPED, state["problem"][1]))
        return gaps

    def state(self, employee, emails):
        """``employee`` as ``read_employee`` gives it -> the target state."""
        key, email = employee["key"], employee["email"]
        state = {"key": key, "active": employee["status"] == "Active", "email": email, "employeeID": key,
                 "firstName": employee["firstName"], "lastName": employee["lastName"]}
        department, klass = employee["department"], employee["class"]
        policy = self.policy_for(department, klass)
        manager = emails.get(employee["reportsTo"]) or self.options.get("default_manager") or email
        state.update(policyID=policy or "", managerEmail=manager, department=department, **{"class": klass})
        if employee["problems"]:
            state["problem"] = [BAD_FIELD, "; ".join(employee["problems"])[:500]]
        elif not email:
            state["problem"] = ["SRC-NO-EMAIL", f"employee {key} has no e-mail in Acumatica (Contact info)"]
        elif not policy and state["active"]:
            state["problem"] = ["MAP-NO-POLICY", f'no Expensify policy for department "{department}" or class '
                                f'"{klass}" (employee {key})']
        return state

    def policy_for(self, department, klass):
        resolver = getattr(self, "resolver", None) or Resolver.for_flow(self.flow)
        ruled = resolver.resolve({"acumatica_department": department, "acumatica_employee_class": klass})
        return (ruled.get("expensify_policy") or (self.options.get("department_policies") or {}).get(department)
                or (self.options.get("class_policies") or {}).get(klass) or self.options.get("default_policy"))


def read_employee(employee):
    """An Acumatica employee as plain text fields, with ``problems`` for values not as documented; None when it
    has no EmployeeID to follow it by. Names lose control characters (never sent to Expensify)."""
    problems = []
    key = trackable_id(employee.get("EmployeeID"))
    if key is None:
        return None
    read = FieldReader(problems, f"employee {key}")
    contact = read.record(employee.get("ContactInfo"), "ContactInfo")
    settings = read.record(employee.get("EmployeeSettings"), "EmployeeSettings")
    return {"key": key, "status": read.text(employee.get("Status"), "Status"), "problems": problems,
            "email": read.text(contact.get("Email"), "Email").strip().lower(),
            "firstName": clean_text(read.text(contact.get("FirstName"), "FirstName")),
            "lastName": clean_text(read.text(contact.get("LastName"), "LastName")),
            "department": read.text(settings.get("DepartmentID"), "DepartmentID"),
            "class": read.text(settings.get("EmployeeClass"), "EmployeeClass"),
            "reportsTo": read.text(settings.get("ReportsToID"), "ReportsToID")}


class PolicyMembers(MirrorTarget):
    """Expensify policy members, read once per cycle (the policy getter's ``employees``) and written
    through the advanced employee updater."""

    def __init__(self, expensify):
        self.expensify = expensify
        self.members = None  # policyID -> {email: member}

    def _load(self, state):
        wanted = {state.get("policyID")} - {None, ""}
        if self.members is None:
            self.members = {}
            wanted |= {p["id"] for p in self.expensify.list_policies()}
        missing = sorted(wanted - set(self.members))
        if missing:
            info = self.expensify.get_policies(missing, fields=("employees",))
            for policy_id in missing:
                people = (info.get(policy_id) or {}).get("employees") or []
                self.members[policy_id] = {str(p.get("email", "")).lower(): p for p in people}

    def match(self, state):
        self._load(state)
        where = [pid for pid, people in self.members.items() if state["email"] in people]
        if not where:
            return None
        home = state.get("policyID") if state.get("policyID") in where else where[0]
        return {"policies": where, "member": self.members[home][state["email"]], "home": home}

    def same(self, existing, state):
        if not state.get("active", True):
            return existing is None
        member = existing["member"]
        return (existing["policies"] == [state["policyID"]]
                and str(member.get("submitsTo") or "").lower() == state["managerEmail"].lower()
                and str(member.get("employeeID") or "") == state["employeeID"]
                and (member.get("firstName") or "") == state["firstName"]
                and (member.get("lastName") or "") == state["lastName"])

    def target_id(self, existing, state):
        return f"{state['email']} in {state.get('policyID') or '-'}"

    def _record(self, state, policy_id, *, terminated=False):
        record = {"employeeEmail": state["email"], "managerEmail": state["managerEmail"] or state["email"],
                  "employeeID": state["employeeID"], "policyID": policy_id, "firstName": state["firstName"],
                  "lastName": state["lastName"]}
        if terminated:
            record["isTerminated"] = True
        return record

    def _send(self, records, state):
        self.expensify.update_employees(records)
        for record in records:
            people = self.members.setdefault(record["policyID"], {})
            if record.get("isTerminated"):
                people.pop(state["email"], None)
            else:
                people[state["email"]] = {"email": state["email"], "submitsTo": record["managerEmail"],
                                          "employeeID": record["employeeID"], "firstName": record["firstName"],
                                          "lastName": record["lastName"]}
        return self.target_id(None, state)

    def create(self, state):
        return self._send([self._record(state, state["policyID"])], state)

    def update(self, existing, state):
        others = [p for p in existing["policies"] if p != state["policyID"]]
        return self._send([self._record(state, state["policyID"])]
                          + [self._record(state, p, terminated=True) for p in others], state)

    def deactivate(self, existing, state):
        return self._send([self._record(state, p, terminated=True) for p in existing["policies"]], state)
