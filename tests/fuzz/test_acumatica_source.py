"""Fuzzed Acumatica employees through acumatica_to_expensify (a mirror into Expensify policies).

Each example breaks one to three employees in the fake's world (ids, status, contact and settings
of any JSON value, duplicate ids, control characters and huge names), runs one cycle over real
HTTP and checks ``harness.soundness``: a mirror's batches are versions ``<key>@<fingerprint>``."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integrations.demo import install_mirror_rules
from integrations.engine import run_cycle
from integrations.engine.sanitize import has_control
from tests.flows.conftest import make_acumatica_flow
from tests.sandbox_fixtures import sandbox_fixtures

from . import evil
from .harness import fresh, posted_ids, soundness, tenant

pytestmark = pytest.mark.django_db(transaction=True)
server, box = sandbox_fixtures(systems=["acumatica", "expensify"], size=10)
BASELINE = {}

texts = st.one_of(evil.any_text, evil.wrong_type)
change = st.one_of(
    st.tuples(st.just("EmployeeID"), st.one_of(st.just("DUPLICATE"), evil.odd_text, evil.huge_text, evil.wrong_type)),
    st.tuples(st.just("Status"), st.one_of(st.sampled_from(["Inactive", "Active", "active", ""]), evil.wrong_type)),
    # A linked entity is an object or a value, never a list (lists are detail entities; the fake cannot serve one).
    st.tuples(st.sampled_from(["ContactInfo", "EmployeeSettings"]),
              st.one_of(evil.scalars, st.dictionaries(st.text(max_size=5), evil.scalars, max_size=3))),
    st.tuples(st.sampled_from(["ContactInfo.Email", "ContactInfo.FirstName", "ContactInfo.LastName"]), texts),
    st.tuples(st.sampled_from(["EmployeeSettings.DepartmentID", "EmployeeSettings.EmployeeClass",
                               "EmployeeSettings.ReportsToID"]), texts),
)
corruptions = st.lists(st.tuples(st.integers(0, 30), change), min_size=1, max_size=3)


def apply(people, which, change):
    person = people[which % len(people)]
    field, value = change
    before = person.get("EmployeeID")
    if field == "EmployeeID" and value == "DUPLICATE":
        value = people[(which + 1) % len(people)]["EmployeeID"]
    head, _, tail = field.partition(".")
    if tail:
        if not isinstance(person.get(head), dict):
            person[head] = {}
        person[head][tail] = value
    else:
        person[head] = value
    return {str(before), str(person.get("EmployeeID"))}


def make(server):
    flow = make_acumatica_flow(server, tenant=tenant(), kind="acumatica_to_expensify", name="Employees", options={})
    install_mirror_rules(flow)
    return flow


def keys(people):
    """The employees a mirror can follow: an EmployeeID that is text or a number, not blank, no control character."""
    ids = [p.get("EmployeeID") for p in people]
    return [str(i) for i in ids if isinstance(i, (str, int)) and not isinstance(i, bool) and str(i).strip()
            and not has_control(str(i))]


def baseline(server):
    if "good" not in BASELINE:
        fresh(server)
        flow = make(server)
        result = run_cycle(flow)
        people = server.fakes["acumatica"].world.records["Employee"]
        assert soundness(server, flow, result, offered=keys(people), good=[], target="expensify", mirror=True) == []
        BASELINE["good"] = posted_ids(flow)
        assert len(BASELINE["good"]) >= 4, BASELINE["good"]
    return BASELINE["good"]


@given(corruptions=corruptions)
@example(corruptions=[(0, ("ContactInfo.FirstName", "Ann\x00\u202e" + "\U0001f600" * 300)), (1, ("ContactInfo", 5))])
@example(corruptions=[(2, ("EmployeeID", "DUPLICATE")), (3, ("EmployeeSettings.DepartmentID", ["x"]))])
@example(corruptions=[(4, ("EmployeeID", "E" * 300))])  # longer than a batch's source id: stored shortened, held
def test_corrupted_employees_are_held_and_the_rest_are_mirrored(server, corruptions):
    good = baseline(server)
    fresh(server)
    people = server.fakes["acumatica"].world.records["Employee"]
    touched = set().union(*(apply(people, which, change) for which, change in corruptions))
    flow = make(server)
    result = run_cycle(flow)
    good = {g for g in good if g.rpartition("@")[0] not in touched}
    problems = soundness(server, flow, result, offered=keys(people), good=good, target="expensify", mirror=True)
    assert problems == [], problems
