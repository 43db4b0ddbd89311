"""Fuzzed Procurify bills and payments through procurify_to_jde (AP vouchers and payment journals).

Each example breaks one to three bills or payments in the fake's world as Procurify could send them
(any field any JSON value, amounts with too many decimals or out of range, lines of the wrong shape,
a duplicate line id, dates out of range), runs one cycle over real HTTP and checks ``harness.soundness``."""

import copy

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integrations.engine import run_cycle
from tests.flows.test_procurify_to_jde import make_procurify_flow
from tests.sandbox_fixtures import sandbox_fixtures

from . import evil
from .harness import fresh, posted_ids, soundness, tenant

pytestmark = pytest.mark.django_db(transaction=True)
server, box = sandbox_fixtures(systems=["procurify", "jde"], size=10)
BASELINE = {}

texts = st.one_of(evil.any_text, evil.wrong_type)
bill_change = st.one_of(
    st.tuples(st.sampled_from(["invoice_number", "currency"]), st.one_of(texts, evil.currencies)),
    st.tuples(st.just("vendor"), st.one_of(st.builds(lambda n: {"id": 1, "name": n}, texts), evil.wrong_type)),
    st.tuples(st.sampled_from(["invoice_date", "due_date", "gl_post_date"]), evil.dates),
    st.tuples(st.just("total_cost_with_tax"), evil.decimal_amount),
    st.tuples(st.just("status"), st.one_of(st.just(2), evil.wrong_type)),
    st.tuples(st.just("items"), st.one_of(st.just([]), evil.wrong_type)),
    st.tuples(st.sampled_from(["line:description", "line:account_code"]), texts),
    st.tuples(st.just("line:total"), evil.decimal_amount),
    st.tuples(st.just("line:account"), evil.wrong_type),
    st.tuples(st.just("line:duplicate"), st.just(True)),
    st.tuples(st.just("line:not_a_record"), evil.scalars),
)
payment_change = st.one_of(
    st.tuples(st.just("amount"), evil.decimal_amount),
    st.tuples(st.just("currency"), st.one_of(st.builds(lambda c: {"id": 1, "name": c}, evil.currencies), evil.wrong_type)),
    st.tuples(st.sampled_from(["vendor_name", "uuid"]), texts),
    st.tuples(st.just("processing_date"), evil.dates),
    st.tuples(st.just("bill_groups"), evil.wrong_type),
)
corruptions = st.lists(st.one_of(st.tuples(st.just("bill"), st.integers(0, 9), bill_change),
                                 st.tuples(st.just("payment"), st.integers(0, 9), payment_change)), min_size=1, max_size=3)


def apply(world, kind, which, change):
    rows = world["bills" if kind == "bill" else "payments"]
    if not rows:
        return None
    row = rows[which % len(rows)]
    field, value = change
    if field.startswith("line:"):
        items = row.get("items")
        if not isinstance(items, list) or not items:
            return _source_id(kind, row)
        what = field[5:]
        if what == "duplicate":
            items.append(copy.deepcopy(items[0]))
        elif what == "not_a_record":
            items.append(value)
        elif isinstance(items[0], dict):
            items[0][what] = value
    else:
        row[field] = value
    return _source_id(kind, row)


def _source_id(kind, row):
    return f"{'BILL' if kind == 'bill' else 'PAY'}-{row['id']}"


def offered(world):
    """Every record procurify_to_jde takes: bills approved or paid, payments paid."""
    bills = [f"BILL-{b['id']}" for b in world["bills"] if b.get("status") in (2, 3)]
    return bills + [f"PAY-{p['id']}" for p in world["payments"] if p.get("status") == "paid"]


def baseline(server):
    if "good" not in BASELINE:
        fresh(server)
        flow = make_procurify_flow(server, tenant=tenant())
        result = run_cycle(flow)
        assert soundness(server, flow, result, offered=offered(server.fakes["procurify"].world), good=[], target="jde") == []
        BASELINE["good"] = posted_ids(flow)
        assert len(BASELINE["good"]) >= 4, BASELINE["good"]
    return BASELINE["good"]


@given(corruptions=corruptions)
@example(corruptions=[("bill", 0, ("total_cost_with_tax", "12.x")), ("payment", 0, ("amount", "1e400"))])
@example(corruptions=[("bill", 1, ("line:total", "10.001")), ("bill", 2, ("invoice_number", "\u202e" + "x" * 300))])
def test_corrupted_bills_and_payments_are_held_and_the_rest_post(server, corruptions):
    good = baseline(server)
    fresh(server)
    flow = make_procurify_flow(server, tenant=tenant())  # JD Edwards suppliers for the vendors as seeded
    world = server.fakes["procurify"].world
    touched = {apply(world, kind, which, change) for kind, which, change in corruptions}
    result = run_cycle(flow)
    problems = soundness(server, flow, result, offered=offered(world), good=good - touched, target="jde")
    assert problems == [], problems
