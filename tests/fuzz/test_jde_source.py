"""Fuzzed JD Edwards suppliers and purchase orders through the flows that read them: jde_to_bill
(vendors, then bills) and jde_to_procurify (suppliers, purchase orders).

JD Edwards is a typed database, so the values stay within what its data service can send: text of
any Unicode (control characters, right-to-left, emoji, longer than the column), amounts and
quantities negative, zero, huge or with more decimals than the currency, Julian dates out of range
or blank, odd statuses, and a few values of the wrong type. Each example changes one to three rows in
the fake's tables, runs the flow over real HTTP and checks ``harness.soundness``."""

from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from integrations.engine import run_cycle
from integrations.models import Connection, Flow
from tests.flows.conftest import control
from tests.sandbox_fixtures import sandbox_fixtures

from . import evil
from .harness import EXAMPLES, fresh, posted_ids, soundness, tenant

pytestmark = pytest.mark.django_db(transaction=True)
server, box = sandbox_fixtures(systems=["jde", "bill", "procurify"], size=10)
KINDS = ["jde_to_bill:vendors", "jde_to_bill:bills", "jde_to_procurify:suppliers", "jde_to_procurify:purchase_orders"]
BASELINE = {}

# JD Edwards columns are never NULL and keep their type: text is text (blank, not null), numbers are numbers.
jde_text = st.one_of(evil.any_text, st.integers(-5, 5).map(str))
numbers = st.one_of(
    st.decimals(min_value=-(10**6), max_value=10**6, places=4, allow_nan=False),
    st.sampled_from([Decimal(0), Decimal("-1"), Decimal("1E+14"), Decimal("99999999999999.9999"), Decimal("0.00001")]),
)
# A Julian date column is NUMERIC(6,0) (CYYDDD): any six digits, a day of year past 366 included.
julian = st.one_of(st.sampled_from([0, 1, 99001, 126366, 126999, 999365, 999999]), st.integers(min_value=0, max_value=999999))
change = st.one_of(
    st.tuples(st.just("F0101"), st.sampled_from(["ALPH", "TAX"]), jde_text),
    st.tuples(st.just("F0101"), st.just("AT1"), st.sampled_from(["V", "VX", "", "v"])),
    st.tuples(st.just("F0401"), st.sampled_from(["HDPY", "MCUP", "OBAP", "CRRP"]), jde_text),
    st.tuples(st.just("F4311"), st.sampled_from(["DSC1", "LITM", "UOM", "ANI", "LTTR"]), jde_text),
    st.tuples(st.just("F4311"), st.sampled_from(["UORG", "PRRC", "AEXP", "AOPN"]), numbers),
    st.tuples(st.just("F4311"), st.just("PDDJ"), julian),
    st.tuples(st.just("F4301"), st.sampled_from(["DESC", "CRCD"]), jde_text),
    st.tuples(st.just("F4301"), st.sampled_from(["TRDJ", "DRQJ"]), julian),
    st.tuples(st.just("F4301"), st.just("OTOT"), numbers),
)
corruptions = st.lists(st.tuples(st.integers(0, 40), change), min_size=1, max_size=3)


def apply(tables, which, change):
    """Change one row; the tokens that name what it touched (address numbers, order numbers)."""
    table, column, value = change
    rows = tables[table]
    row = rows[which % len(rows)]
    row[column] = value
    if table in ("F0101", "F0401"):
        supplier = str(row["AN8"])
        return {supplier} | {str(h["DOCO"]) for h in tables["F4301"] if str(h["AN8"]) == supplier}
    return {str(row["DOCO"])}


def make(server, kind):
    flow_kind, records = kind.split(":")
    creds = control(server, "GET", "credentials")
    owner = tenant()
    jde = Connection.objects.create(tenant=owner, system="jde", name="JD Edwards", base_url=server.system_url("jde"),
                                    credentials=creds["jde"], options={"settle_seconds": 0})
    if flow_kind == "jde_to_bill":
        target = Connection.objects.create(tenant=owner, system="bill", name="BILL",
                                           base_url=server.system_url("bill") + "/connect", credentials=creds["bill"],
                                           # one write at a time: SQLite's test database locks a table a
                                           # posting thread reads while another writes (PostgreSQL does not)
                                           options={"backoff_max": 0.05, "settle_seconds": 0, "concurrency": 1})
    else:
        target = Connection.objects.create(tenant=owner, system="procurify", name="Procurify",
                                           base_url=server.system_url("procurify"), credentials=creds["procurify"],
                                           options={"settle_seconds": 0, "concurrency": 1})
    options = {"records": records}
    if records == "purchase_orders":
        options.update(location="Vancouver HQ", department="Operations")
    flow = Flow.objects.create(tenant=owner, name=kind, kind=flow_kind, source=jde, target=target, options=options)
    # Bills wait for their vendors, Procurify orders need their vendors and account codes: mirror those first.
    first = {"bills": ["vendors"], "purchase_orders": ["accounts", "suppliers"]}.get(records, [])
    for before in first:
        run_cycle(Flow.objects.create(tenant=owner, name=before, kind=flow_kind, source=jde, target=target,
                                      options={"records": before}))
    return flow


def system(kind):
    return "bill" if kind.startswith("jde_to_bill") else "procurify"


def baseline(server, kind):
    if kind not in BASELINE:
        fresh(server)
        flow = make(server, kind)
        result = run_cycle(flow)
        assert soundness(server, flow, result, offered=[], good=[], target=system(kind)) == []
        BASELINE[kind] = posted_ids(flow)
        assert len(BASELINE[kind]) >= 3, (kind, BASELINE[kind])
    return BASELINE[kind]


def untouched(good, touched):
    """The baseline's posted records none of whose id parts (address number, order number) was touched."""
    def parts(source_id):
        key = source_id.rpartition("@")[0] or source_id
        return set(key.split("-")) | {key}
    return {g for g in good if not parts(g) & touched}


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=max(2, EXAMPLES // 2))
@given(corruptions=corruptions)
@example(corruptions=[(0, ("F0101", "ALPH", "Acme\x00\u202e" + "\U0001f600" * 60)), (1, ("F4311", "PRRC", Decimal("0.00001")))])
@example(corruptions=[(38, ("F4301", "CRCD", "A\x00" * 232))])  # a currency no batch column holds (PostgreSQL)
@example(corruptions=[(28, ("F4311", "DSC1", "\x9d\x90 Pallet\x07 wrap")), (5, ("F0101", "ALPH", "\x9dSupplier\x8b"))])
@example(corruptions=[(2, ("F4301", "DRQJ", 999999)), (3, ("F4311", "UORG", Decimal("-3"))), (4, ("F4311", "DSC1", "\t" * 90))])
def test_corrupted_suppliers_and_orders_are_held_and_the_rest_mirror(server, kind, corruptions):
    good = baseline(server, kind)
    fresh(server)
    tables = server.fakes["jde"].tables
    touched = set().union(*(apply(tables, which, change) for which, change in corruptions))
    flow = make(server, kind)
    result = run_cycle(flow)
    problems = soundness(server, flow, result, offered=[], good=untouched(good, touched), target=system(kind))
    assert problems == [], problems
