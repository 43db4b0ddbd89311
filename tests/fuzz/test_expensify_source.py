"""Fuzzed Expensify reports through the three flows that read them (to JD Edwards, IFS, Acumatica).

Each example corrupts one to three approved reports through the fake's control API (fields set to
anything JSON can carry, lines added in other currencies or with a duplicate id, lines removed),
runs one cycle over real HTTP and checks ``harness.soundness``."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integrations.engine import run_cycle
from tests.flows.conftest import control, make_acumatica_flow, make_flow
from tests.sandbox_fixtures import sandbox_fixtures

from . import evil
from .harness import fresh, posted_ids, soundness, tenant

pytestmark = pytest.mark.django_db(transaction=True)
server, box = sandbox_fixtures(systems=["expensify", "jde", "ifs", "acumatica"], size=10)
FLOWS = ["expensify_to_jde", "expensify_to_ifs", "expensify_to_acumatica"]
TARGET = {"expensify_to_jde": "jde", "expensify_to_ifs": "ifs", "expensify_to_acumatica": "acumatica"}
REPORT_TEXT = ["reportName", "policyName", "accountEmail", "managerEmail"]
EXPENSE_TEXT = ["merchant", "comment", "category", "tag", "bank", "cardNumber", "categoryGlCode"]

report_change = st.one_of(
    st.builds(lambda f, v: ("set_report", {f: v}), st.sampled_from(REPORT_TEXT), st.one_of(evil.any_text, evil.wrong_type)),
    st.builds(lambda v: ("set_report", {"currency": v}), evil.currencies),
    st.builds(lambda v: ("set_report", {"total": v}), evil.minor_units),
    st.builds(lambda f, v: ("set_report", {f: v}), st.sampled_from(["created", "approved", "submitted"]), evil.dates),
    st.just(("remove_transactions", True)),
)
expense_change = st.one_of(
    st.builds(lambda f, v: (f, v), st.sampled_from(EXPENSE_TEXT), st.one_of(evil.any_text, evil.wrong_type)),
    st.builds(lambda f, v: (f, v), st.sampled_from(["convertedAmount", "amount"]), evil.minor_units),
    st.builds(lambda v: ("currency", v), evil.currencies),
    st.builds(lambda v: ("created", v), evil.dates),
    st.builds(lambda v: ("reimbursable", v), evil.wrong_type),
    st.builds(lambda v: ("transactionID", v), st.one_of(st.just("DUPLICATE"), evil.any_text, evil.wrong_type)),
)
# A second line in another currency (mixed currencies in one report), with any amount.
extra_line = st.builds(lambda cur, amount, conv: ("add_line", {"currency": cur, "amount": amount, "convertedAmount": conv}),
                       evil.currencies, evil.minor_units, evil.minor_units)
change = st.one_of(report_change, st.tuples(st.just("set_expense"), expense_change), extra_line)
corruptions = st.lists(st.tuples(st.integers(min_value=0, max_value=6), change), min_size=1, max_size=3)

BASELINE = {}


def approved(box):
    reports = control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})
    return sorted(reports, key=lambda r: int(r["reportID"]))


def apply(box, ids, which, what):
    rid = ids[which % len(ids)]
    lines = control(box, "GET", f"expensify/reports/{rid}")["transactions"]
    kind, value = what
    if kind in ("set_report", "remove_transactions"):
        body = {kind: value}
    elif kind == "add_line":
        base = dict(lines[0]) if lines else {"category": "Meals", "reimbursable": True}
        base.pop("transactionID", None)
        body = {"add_transaction": {**base, **value}}
    elif not lines:
        return rid
    else:
        field, v = value
        if field == "transactionID":  # a line whose id repeats one of the report's, or an odd one
            v = lines[-1]["transactionID"] if v == "DUPLICATE" else v
            body = {"add_transaction": {**lines[0], "transactionID": v}}
        else:
            body = {"set_transaction": {"transactionID": lines[0]["transactionID"], field: v}}
    control(box, "POST", f"expensify/reports/{rid}", json=body)
    return rid


def make(box, kind):
    options = {"page_size": 4, "mark_wait_seconds": 0.5}
    if kind == "expensify_to_acumatica":
        return make_acumatica_flow(box, tenant=tenant(), options=options)
    return make_flow(box, tenant=tenant(), kind=kind, options=options)


def baseline(box, kind):
    """The reports that post when nothing is corrupted: they must still post beside corrupted ones."""
    if kind not in BASELINE:
        fresh(box)
        flow = make(box, kind)
        result = run_cycle(flow)
        assert soundness(box, flow, result, offered=[], good=[], target=TARGET[kind]) == []
        BASELINE[kind] = posted_ids(flow)
        assert len(BASELINE[kind]) >= 4, BASELINE[kind]
    return BASELINE[kind]


@pytest.mark.parametrize("kind", FLOWS)
@given(corruptions=corruptions)
@example(corruptions=[(0, ("set_report", {"reportName": "x" * 5000})),
                      (1, ("set_expense", ("merchant", "\u202e\x00\U0001f600")))])
@example(corruptions=[(2, ("add_line", {"currency": "EUR", "amount": 1999, "convertedAmount": 2150})),
                      (3, ("set_expense", ("transactionID", "DUPLICATE")))])
def test_corrupted_reports_are_held_and_the_rest_post(server, kind, corruptions):
    good = baseline(server, kind)
    fresh(server)
    ids = [r["reportID"] for r in approved(server)]
    touched = {apply(server, ids, which, what) for which, what in corruptions}
    flow = make(server, kind)
    result = run_cycle(flow)
    offered = [r["reportID"] for r in approved(server)]
    problems = soundness(server, flow, result, offered=offered, good=good - touched, target=TARGET[kind])
    assert problems == [], problems
