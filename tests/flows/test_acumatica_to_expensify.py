"""Acumatica employees -> Expensify policy members: the first mirror flow, over real HTTP."""

import pytest

from integrations.demo import add_rule, install_mirror_rules
from integrations.engine import run_cycle
from integrations.models import Batch, SyncCycle
from integrations.systems.acumatica import clear_token_cache
from sandbox import acumatica_data, catalog

from .conftest import control, make_acumatica_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
POLICY_OF = {dept: catalog.POLICIES[name][0] for name, dept in acumatica_data.POLICY_DEPARTMENTS.items()}


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture
def mirror(box, db):
    flow = make_acumatica_flow(box, kind="acumatica_to_expensify", name="Employees to Expensify", options={})
    install_mirror_rules(flow)
    return flow


def members(box):
    """policyID -> {email: member} as Expensify holds them."""
    return {p["id"]: {m["email"].lower(): m for m in p["employees"]} for p in control(box, "GET", "expensify/policies")}


def employees(box):
    return control(box, "GET", "acumatica/Employee")


def writes(box):
    calls = control(box, "GET", "calls")
    return calls.get("expensify", {}).get("update:employees", 0) + sum(
        n for name, n in calls.get("acumatica", {}).items() if name.startswith("put:"))


def assert_mirrored(box):
    people = employees(box)
    by_id = {e["EmployeeID"]: e for e in people}
    now = members(box)
    for person in people:
        email = person["ContactInfo"]["Email"].lower()
        home = POLICY_OF[person["EmployeeSettings"]["DepartmentID"]]
        where = [pid for pid, m in now.items() if email in m]
        if person["Status"] != "Active":
            assert where == [], f"{email} is terminated in Acumatica but still in {where}"
            continue
        assert where == [home], f"{email} belongs in {home}, is in {where}"
        manager = by_id.get(person["EmployeeSettings"]["ReportsToID"])
        expected = manager["ContactInfo"]["Email"].lower() if manager else email
        assert now[home][email]["submitsTo"].lower() == expected
        assert now[home][email]["employeeID"] == person["EmployeeID"]


def test_first_run_provisions_new_hires_links_existing_and_removes_the_terminated(box, mirror):
    before = members(box)
    result = run_cycle(mirror)
    assert result.state == SyncCycle.DONE, result.message
    assert_mirrored(box)
    actions = [b.posting.get("target", {}).get("action") for b in Batch.objects.filter(flow=mirror, state=S.CONFIRMED)]
    assert actions.count("created") == 2 + 40 // 20  # the sandbox's new hires
    assert actions.count("deactivated") == 1
    assert "linked" in actions  # already members as they should be: adopted, not added again
    hires = {e["ContactInfo"]["Email"] for e in employees(box)} - {e for m in before.values() for e in m}
    assert hires and all(any(h in m for m in members(box).values()) for h in hires)


def test_a_second_run_with_nothing_changed_makes_no_write_call(box, mirror):
    run_cycle(mirror)
    batches = Batch.objects.filter(flow=mirror).count()
    control(box, "DELETE", "calls")
    second = run_cycle(mirror)
    assert second.state == SyncCycle.DONE
    assert writes(box) == 0
    assert control(box, "GET", "calls").get("expensify", {}) == {}  # not even a read: nothing changed
    assert Batch.objects.filter(flow=mirror).count() == batches


def test_changes_in_acumatica_follow_into_expensify(box, mirror):
    run_cycle(mirror)
    people = [e for e in employees(box) if e["Status"] == "Active" and e["EmployeeSettings"]["ReportsToID"]]
    mover, leaver, renamed = people[0], people[1], people[2]
    new_department = next(d for d in POLICY_OF if d != mover["EmployeeSettings"]["DepartmentID"])
    control(box, "POST", "acumatica/employee", json={"EmployeeID": mover["EmployeeID"],
                                                     "EmployeeSettings": {"DepartmentID": new_department}})
    control(box, "POST", "acumatica/employee", json={"EmployeeID": leaver["EmployeeID"], "Status": "Inactive"})
    control(box, "POST", "acumatica/employee", json={"EmployeeID": renamed["EmployeeID"],
                                                     "ContactInfo": {"LastName": "Newname"}})
    control(box, "DELETE", "calls")
    result = run_cycle(mirror)
    assert result.state == SyncCycle.DONE and result.posted == 3
    assert writes(box) == 3  # one employee-updater call per changed employee
    assert_mirrored(box)
    home = POLICY_OF[renamed["EmployeeSettings"]["DepartmentID"]]
    assert members(box)[home][renamed["ContactInfo"]["Email"].lower()]["lastName"] == "Newname"


def test_an_employee_deleted_in_acumatica_is_removed(box, mirror):
    run_cycle(mirror)
    gone = next(e for e in employees(box) if e["Status"] == "Active" and e["EmployeeSettings"]["ReportsToID"])
    control(box, "POST", "acumatica/employee", json={"EmployeeID": gone["EmployeeID"], "deleted": True})
    run_cycle(mirror)
    assert not any(gone["ContactInfo"]["Email"].lower() in m for m in members(box).values())
    control(box, "DELETE", "calls")
    run_cycle(mirror)
    assert writes(box) == 0


def test_an_unmapped_department_is_held_with_a_reason_and_written_once_mapped(box, mirror):
    person = next(e for e in employees(box) if e["Status"] == "Active" and e["EmployeeSettings"]["ReportsToID"])
    control(box, "POST", "acumatica/employee", json={"EmployeeID": person["EmployeeID"],
                                                     "EmployeeSettings": {"DepartmentID": "LEGAL"}})
    run_cycle(mirror)
    held = Batch.objects.get(flow=mirror, state=S.HELD)
    assert held.error_code == "MAP-NO-POLICY" and "LEGAL" in held.last_error
    # The customer adds the missing row to their mapping table; the next cycle writes the employee.
    add_rule(mirror, match={"acumatica_department": "LEGAL"}, target={"expensify_policy": POLICY_OF["ADMIN"]})
    run_cycle(mirror)
    assert person["ContactInfo"]["Email"].lower() in members(box)[POLICY_OF["ADMIN"]]


def test_a_lost_answer_is_resent_safely_and_nothing_is_left_behind(box, mirror):
    # The employee updater sets a state (no counter, no new record), so the client resends it after a drop.
    control(box, "POST", "faults", json={"system": "expensify", "endpoint": "update:employees", "action": "drop_after",
                                         "count": 1})
    first = run_cycle(mirror)
    assert first.state == SyncCycle.DONE
    assert_mirrored(box)
    assert not Batch.objects.filter(flow=mirror).exclude(state=S.CONFIRMED).exists()
    control(box, "DELETE", "calls")
    run_cycle(mirror)
    assert writes(box) == 0


def test_coverage_names_departments_without_a_policy_and_dry_run_shows_what_would_change(box, mirror):
    from integrations.coverage import flow_coverage
    from integrations.preview import preview

    assert flow_coverage(mirror) == []
    person = next(e for e in employees(box) if e["Status"] == "Active")
    control(box, "POST", "acumatica/employee", json={"EmployeeID": person["EmployeeID"],
                                                     "EmployeeSettings": {"DepartmentID": "LEGAL"}})
    gaps = flow_coverage(mirror)
    assert [g.source["department"] for g in gaps] == ["LEGAL"] and gaps[0].field == "policyID"
    control(box, "DELETE", "calls")
    previews = preview(mirror)
    assert previews and writes(box) == 0  # a dry run writes nothing
    assert all(p["external_ref"].startswith("EMP-") for p in previews if p["ok"])
    assert Batch.objects.filter(flow=mirror).count() == 0


def test_an_employee_class_rule_routes_when_no_department_rule_matches(box, mirror):
    person = next(e for e in employees(box) if e["Status"] == "Active" and e["EmployeeSettings"].get("EmployeeClass"))
    klass = person["EmployeeSettings"]["EmployeeClass"]
    control(box, "POST", "acumatica/employee", json={"EmployeeID": person["EmployeeID"],
                                                     "EmployeeSettings": {"DepartmentID": "LEGAL"}})
    add_rule(mirror, match={"acumatica_employee_class": klass}, target={"expensify_policy": POLICY_OF["ADMIN"]})
    run_cycle(mirror)
    assert person["ContactInfo"]["Email"].lower() in members(box)[POLICY_OF["ADMIN"]]
    # A department rule is more specific than a class rule: it wins once it exists.
    other = next(p for d, p in POLICY_OF.items() if d != "ADMIN")
    add_rule(mirror, match={"acumatica_department": "LEGAL"}, target={"expensify_policy": other})
    run_cycle(mirror)
    assert person["ContactInfo"]["Email"].lower() in members(box)[other]
    assert person["ContactInfo"]["Email"].lower() not in members(box)[POLICY_OF["ADMIN"]]
