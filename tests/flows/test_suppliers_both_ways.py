"""Suppliers both ways between JD Edwards (F0401) and Procurify vendors, over real HTTP: vendors become
suppliers through the supplier orchestration, a field changed on both sides follows ``supplier_rules``,
a field changed on one side follows that side, and mismatches nobody can resolve are held and audited."""

import pytest

from audit.models import AuditEntry
from integrations.engine import run_cycle
from integrations.models import Batch, Connection, Flow, SyncCycle
from integrations.systems.jde import clear_token_cache as clear_jde_tokens
from integrations.systems.procurify import ProcurifyClient
from integrations.systems.procurify import clear_token_cache as clear_procurify_tokens

from .conftest import control
from .test_jde_to_procurify import make_mirror

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_jde_tokens(), clear_procurify_tokens()
    yield
    clear_jde_tokens(), clear_procurify_tokens()


def both_ways(box, **options):
    """The suppliers mirror (JDE -> Procurify) and the vendors mirror (Procurify -> JDE) of one tenant."""
    out = make_mirror(box, "suppliers")
    out.options.update(options)
    out.save()
    back = Flow.objects.create(tenant=out.tenant, name="Procurify vendors to JDE", kind="procurify_to_jde",
                               source=out.target, target=out.source, options={"records": "vendors", **options})
    return out, back


def procurify(box):
    creds = control(box, "GET", "credentials")["procurify"]
    return ProcurifyClient(Connection(system="procurify", base_url=box.system_url("procurify"), credentials=creds))


def suppliers(box):
    return {r["A6AN8"]: r for r in control(box, "GET", "jde/suppliers")}


def vendors(box):
    return {v["id"]: v for v in control(box, "GET", "procurify/vendors")}


def orchestrations(box):
    return control(box, "GET", "calls").get("jde", {}).get("orchestrator", 0)


def procurify_writes(box):
    calls = control(box, "GET", "calls").get("procurify", {})
    return sum(n for name, n in calls.items() if name.endswith((":create", ":update")))


def sync(out, back):
    for flow in (out, back):
        result = run_cycle(flow)
        assert result.state == SyncCycle.DONE, result.message


def paired(box, name):
    """The JDE supplier and the Procurify vendor of that name (exactly one each)."""
    found = [s for s in suppliers(box).values() if s["ABALPH"] == name]
    named = [v for v in vendors(box).values() if v["name"] == name]
    assert len(found) == 1 and len(named) == 1, (found, named)
    return found[0], named[0]


def test_a_procurify_vendor_becomes_one_jde_supplier_and_both_flows_then_rest(box, db):
    out, back = both_ways(box)
    sync(out, back)
    vendor = procurify(box).create_vendor("Northwind Fasteners", emails=["ap@northwind.example"])
    control(box, "DELETE", "calls")
    sync(back, out)
    supplier, mirrored = paired(box, "Northwind Fasteners")
    assert supplier["ABALKY"] == f"PRC-V-{vendor.id}" and supplier["ABAT1"] == "V"
    assert supplier["email"] == "ap@northwind.example"
    assert mirrored["id"] == vendor.id  # the other direction pairs it by the supplier's link, never adds a second
    control(box, "DELETE", "calls")
    sync(out, back)
    sync(back, out)
    assert orchestrations(box) == 0 and procurify_writes(box) == 0


def test_a_field_changed_on_one_side_wins_whatever_the_rule(box, db):
    out, back = both_ways(box)
    sync(out, back)
    an8 = next(n for n, r in suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    vendor = next(v for v in vendors(box).values() if v["external_id"] == str(an8))
    procurify(box).update_vendor(vendor["id"], name="Renamed In Procurify")  # name rule: JD Edwards
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "email": "billing@changed.example"})  # email rule: Procurify
    sync(out, back)
    sync(out, back)
    assert suppliers(box)[an8]["ABALPH"] == "Renamed In Procurify"
    assert vendors(box)[vendor["id"]]["name"] == "Renamed In Procurify"
    assert vendors(box)[vendor["id"]]["email"][0] == "billing@changed.example"
    assert suppliers(box)[an8]["email"] == "billing@changed.example"


@pytest.mark.parametrize("rules, name_from, email_from", [
    ({}, "jde", "procurify"),
    ({"name": "procurify", "email": "jde"}, "procurify", "jde"),
])
def test_a_field_changed_on_both_sides_follows_the_rule_in_both_systems(box, db, rules, name_from, email_from):
    out, back = both_ways(box, supplier_rules=rules) if rules else both_ways(box)
    sync(out, back)
    an8 = next(n for n, r in suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    vendor = next(v for v in vendors(box).values() if v["external_id"] == str(an8))
    names = {"jde": "Name From JDE", "procurify": "Name From Procurify"}
    emails = {"jde": "jde@both.example", "procurify": "prc@both.example"}
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "name": names["jde"], "email": emails["jde"]})
    procurify(box).update_vendor(vendor["id"], name=names["procurify"], email=[emails["procurify"]])
    for first, second in ((back, out), (out, back)):  # whichever direction runs first
        sync(first, second)
    assert suppliers(box)[an8]["ABALPH"] == vendors(box)[vendor["id"]]["name"] == names[name_from]
    assert suppliers(box)[an8]["email"] == vendors(box)[vendor["id"]]["email"][0] == emails[email_from]
    control(box, "DELETE", "calls")
    sync(out, back)
    assert orchestrations(box) == 0 and procurify_writes(box) == 0  # settled: nobody flips back


def test_a_supplier_retired_in_jde_deactivates_its_vendor_and_stays_retired(box, db):
    out, back = both_ways(box)
    sync(out, back)
    an8 = next(n for n, r in suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "status": "inactive"})
    sync(out, back)
    sync(back, out)
    vendor = next(v for v in vendors(box).values() if v["external_id"] == str(an8))
    assert not vendor["active"] and suppliers(box)[an8]["ABAT1"] != "V"


def audited(flow, code):
    held = Batch.objects.filter(flow=flow, state=S.HELD, error_code=code)
    entries = AuditEntry.objects.filter(flow=flow, event="batch.recorded", batch__in=held)
    return held, {e.message for e in entries}


def test_unresolvable_mismatches_are_held_and_audited_both_ways(box, db):
    out, back = both_ways(box, create_missing=False)
    control(box, "POST", "jde/suppliers", json={"name": "Only In JDE Ltd"})
    lonely = procurify(box).create_vendor("Only In Procurify Inc")
    orphan = procurify(box).create_vendor("Orphaned Link Co", external_id="99999")
    sync(out, back)
    held, messages = audited(out, "MAP-NO-MATCH")
    assert any('"Only In JDE Ltd" in JD Edwards but no match in Procurify' in m for m in messages), messages
    held, messages = audited(back, "MAP-NO-MATCH")
    assert any(f'vendor {lonely.id} "Only In Procurify Inc" in Procurify but no match in JD Edwards' in m for m in messages)
    assert any(f"vendor {orphan.id}" in m and "99999 is not in F0401" in m for m in messages), messages
    assert not [s for s in suppliers(box).values() if s["ABALPH"] in ("Only In Procurify Inc", "Orphaned Link Co")]
    assert not [v for v in vendors(box).values() if v["name"] == "Only In JDE Ltd"]


def test_a_lost_answer_to_a_supplier_add_never_makes_a_second_supplier(box, db):
    out, back = both_ways(box)
    sync(out, back)
    procurify(box).create_vendor("Lost Answer Metals", emails=["ap@lost.example"])
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_after", "count": 1})
    run_cycle(back)
    assert Batch.objects.filter(flow=back, state=S.IN_DOUBT).count() == 1  # the answer was lost after the write
    run_cycle(back)
    assert len([s for s in suppliers(box).values() if s["ABALPH"] == "Lost Answer Metals"]) == 1
    assert not Batch.objects.filter(flow=back, state__in=[S.IN_DOUBT, S.FAILED, S.HELD]).exists()


def test_an_unknown_rule_is_refused_naming_it(box, db):
    _, back = both_ways(box, supplier_rules={"name": "sap"})
    result = run_cycle(back)
    assert result.state != SyncCycle.DONE and "supplier_rules" in result.message


def test_a_jde_444_in_the_middle_of_the_supplier_writes_adds_each_vendor_once(box, db):
    out, back = both_ways(box)
    sync(out, back)
    names = [f"Token Expiry Supply {n}" for n in range(4)]
    for name in names:
        procurify(box).create_vendor(name)
    # the AIS server forgets every token before the 3rd supplier write: 444, the client signs in again
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "restart", "after": 2,
                                         "count": 1})
    result = run_cycle(back)
    assert result.state == SyncCycle.DONE and result.failed == 0, result.message
    assert control(box, "GET", "calls")["jde"]["tokenrequest"] >= 2
    assert sorted(s["ABALPH"] for s in suppliers(box).values() if s["ABALPH"] in names) == names
