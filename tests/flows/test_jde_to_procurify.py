"""JD Edwards -> Procurify mirrors (GL accounts as account codes, suppliers as vendors), over real HTTP."""

import pytest
from django.utils import timezone

from integrations.engine import run_cycle
from integrations.models import Batch, Connection, Flow, SyncCycle
from integrations.systems.jde import clear_token_cache as clear_jde_tokens
from integrations.systems.procurify import clear_token_cache as clear_procurify_tokens
from portal.models import Tenant

from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State
WRITES = ("vendors:create", "vendors:update", "account_codes:create", "account_codes:update", "requisitions:create",
          "purchase_orders:update")


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_jde_tokens(), clear_procurify_tokens()
    yield
    clear_jde_tokens(), clear_procurify_tokens()


def make_mirror(box, records):
    creds = control(box, "GET", "credentials")
    tenant = Tenant.objects.create(name=f"Demo Co {records}", slug=f"demo-{records}", alert_emails="finance@demo.example")
    jde = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                    credentials=creds["jde"], options={"settle_seconds": 0})
    procurify = Connection.objects.create(tenant=tenant, system="procurify", name="Procurify",
                                          base_url=box.system_url("procurify"), credentials=creds["procurify"],
                                          # one write at a time: the mirror asks the database whether a version is
                                          # superseded from the posting thread, which SQLite's test database locks
                                          options={"settle_seconds": 0, "concurrency": 1})
    return Flow.objects.create(tenant=tenant, name=f"JDE {records} to Procurify", kind="jde_to_procurify", source=jde,
                               target=procurify, options={"records": records})


def writes(box):
    calls = control(box, "GET", "calls").get("procurify", {})
    return sum(calls.get(name, 0) for name in WRITES)


def chart(box):
    """account number -> (description, postable) in F0901."""
    return {".".join(p for p in (r["GMMCU"].strip(), r["GMOBJ"], r["GMSUB"]) if p): (r["GMDL01"], r["GMPEC"] == "")
            for r in control(box, "GET", "jde/accounts")}


def codes(box):
    return {c["code"]: c for c in control(box, "GET", "procurify/account_codes")}


def test_accounts_become_account_codes_inactive_ones_deactivated(box, db):
    flow = make_mirror(box, "accounts")
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    now = codes(box)
    accounts = chart(box)
    assert any(not postable for _, postable in accounts.values())
    for key, (description, postable) in accounts.items():
        if postable:
            assert now[key]["active"] and now[key]["description"] == description, key
        else:
            assert key not in now or not now[key]["active"], key
    assert len({c["code"] for c in control(box, "GET", "procurify/account_codes")}) == len(now)  # never twice


def test_accounts_second_run_writes_nothing_then_follows_a_change(box, db):
    flow = make_mirror(box, "accounts")
    run_cycle(flow)
    control(box, "DELETE", "calls")
    second = run_cycle(flow)
    assert second.state == SyncCycle.DONE and writes(box) == 0 and second.posted == 0
    control(box, "POST", "jde/accounts", json={"account": "200.6200", "PEC": "I"})
    control(box, "POST", "jde/accounts", json={"account": "300.7100", "DL01": "Freight in"})
    third = run_cycle(flow)
    now = codes(box)
    assert not now["200.6200"]["active"]
    assert now["300.7100"]["active"] and now["300.7100"]["description"] == "Freight in"
    assert writes(box) == 2 and third.posted == 2


def jde_suppliers(box):
    return {str(r["AN8"] if "AN8" in r else r["ABAN8"]): r for r in control(box, "GET", "jde/suppliers")}


def vendors_named(box, name):
    return [v for v in control(box, "GET", "procurify/vendors") if v["name"].casefold() == name.casefold()]


def test_suppliers_become_vendors_matched_by_name_never_twice(box, db):
    flow = make_mirror(box, "suppliers")
    known = {v["name"] for v in control(box, "GET", "procurify/vendors")}
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    suppliers = jde_suppliers(box)
    linked = 0
    for number, row in suppliers.items():
        found = vendors_named(box, row["ABALPH"])
        if row["ABAT1"] != "V" or row["A6HDPY"] == "Y":
            assert all(not v["active"] for v in found if v["external_id"] == number)
            continue
        assert len(found) == 1, row["ABALPH"]
        assert found[0]["external_id"] == number and found[0]["active"]
        linked += row["ABALPH"] in known
    assert linked  # vendors Procurify already had were adopted, not added again
    control(box, "DELETE", "calls")
    assert run_cycle(flow).posted == 0 and writes(box) == 0


def test_a_renamed_or_retired_supplier_updates_its_vendor(box, db):
    flow = make_mirror(box, "suppliers")
    run_cycle(flow)
    active = [n for n, r in jde_suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y"]
    control(box, "POST", "jde/suppliers", json={"AN8": int(active[0]), "name": "Renamed Supplies Ltd"})
    control(box, "POST", "jde/suppliers", json={"AN8": int(active[1]), "status": "inactive"})
    control(box, "DELETE", "calls")
    run_cycle(flow)
    vendors = {v["external_id"]: v for v in control(box, "GET", "procurify/vendors") if v["external_id"]}
    assert vendors[active[0]]["name"] == "Renamed Supplies Ltd" and vendors[active[0]]["active"]
    assert not vendors[active[1]]["active"]
    assert writes(box) == 2


def test_a_supplier_matching_two_vendors_is_held_with_the_reason(box, db):
    flow = make_mirror(box, "suppliers")
    control(box, "POST", "jde/suppliers", json={"name": "Twin Parts Co"})
    creds = control(box, "GET", "credentials")["procurify"]
    from integrations.systems.procurify import ProcurifyClient

    client = ProcurifyClient(Connection(system="procurify", base_url=box.system_url("procurify"), credentials=creds))
    client.create_vendor("Twin Parts Co"), client.create_vendor("Twin Parts Co")
    run_cycle(flow)
    held = Batch.objects.get(flow=flow, state=S.HELD)
    assert held.error_code == "MAP-VENDOR-AMBIGUOUS" and "Twin Parts Co" in held.last_error
    assert len(vendors_named(box, "Twin Parts Co")) == 2


def order_in_procurify(box, key):
    found = [p for p in control(box, "GET", "procurify/purchase_orders") if p["PO_Num"] == key]
    assert len(found) == 1, f"{len(found)} Procurify orders carry {key}"
    return found[0]


def test_purchase_orders_follow_changes_in_place_and_cancellations(box, db):
    run_cycle(make_mirror(box, "accounts"))
    suppliers = make_mirror(box, "suppliers")
    run_cycle(suppliers)
    flow = Flow.objects.create(tenant=suppliers.tenant, name="JDE orders to Procurify", kind="jde_to_procurify",
                               source=suppliers.source, target=suppliers.target,
                               options={"records": "purchase_orders", "location": "Vancouver HQ", "department": "Operations"})
    supplier = next(n for n, r in jde_suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    order = control(box, "POST", "jde/purchase-orders", json={"supplier": int(supplier), "lines": [
        {"item": "PAL-1", "description": "Pallet wrap", "quantity": "10", "unit_cost": "4.25", "account": "200.6200"},
        {"item": "TON-1", "description": "Toner", "quantity": "2", "unit_cost": "80.10", "account": "300.6200"}]})
    number = order["PHDOCO"]
    key = f"{order['PHKCOO']}-{order['PHDCTO']}-{number}"
    assert run_cycle(flow).state == SyncCycle.DONE
    po = order_in_procurify(box, key)
    assert [(i["quantity"], i["price"]) for i in po["order_items"]] == [("10.00", "4.25"), ("2.00", "80.10")]
    # Changed twice between polls: the Procurify order lands in the last state, updated in place.
    control(box, "POST", f"jde/purchase-orders/{number}/lines/1", json={"quantity": "12"})
    control(box, "POST", f"jde/purchase-orders/{number}/lines/1", json={"quantity": "15", "unit_cost": "4.00"})
    control(box, "POST", f"jde/purchase-orders/{number}/lines/2", json={"cancel": True})
    run_cycle(flow)
    po = order_in_procurify(box, key)
    assert [(i["quantity"], i["price"]) for i in po["order_items"]] == [("15.00", "4.00"), ("0.00", "80.10")]
    control(box, "DELETE", "calls")
    run_cycle(flow)
    assert writes(box) == 0 and control(box, "GET", "calls").get("procurify", {}).get("purchase_orders:update", 0) == 0
    control(box, "POST", f"jde/purchase-orders/{number}/cancel")
    run_cycle(flow)
    assert order_in_procurify(box, key)["status_name"] == "closed"


def test_a_line_added_in_jde_after_the_order_was_mirrored_lands_on_the_same_procurify_order(box, db):
    run_cycle(make_mirror(box, "accounts"))
    suppliers = make_mirror(box, "suppliers")
    run_cycle(suppliers)
    flow = Flow.objects.create(tenant=suppliers.tenant, name="JDE orders to Procurify", kind="jde_to_procurify",
                               source=suppliers.source, target=suppliers.target,
                               options={"records": "purchase_orders", "location": "Vancouver HQ", "department": "Operations"})
    supplier = next(n for n, r in jde_suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    order = control(box, "POST", "jde/purchase-orders", json={"supplier": int(supplier), "lines": [
        {"item": "PAL-1", "description": "Pallet wrap", "quantity": "10", "unit_cost": "4.25", "account": "200.6200"}]})
    key = f"{order['PHKCOO']}-{order['PHDCTO']}-{order['PHDOCO']}"
    run_cycle(flow)
    first = order_in_procurify(box, key)
    control(box, "POST", f"jde/purchase-orders/{order['PHDOCO']}/lines", json={
        "item": "TON-1", "description": "Toner", "quantity": "3", "unit_cost": "80.10", "account": "300.6200"})
    control(box, "DELETE", "calls")
    run_cycle(flow)
    po = order_in_procurify(box, key)
    assert po["procurify_PO"] == first["procurify_PO"]
    assert [(i["name"], i["quantity"], i["price"], i["accountCode"]) for i in po["order_items"]] == [
        ("Pallet wrap", "10.00", "4.25", "200.6200"), ("Toner", "3.00", "80.10", "300.6200")]
    calls = control(box, "GET", "calls").get("procurify", {})
    assert calls.get("requisitions:create", 0) == 0 and calls.get("purchase_orders:update") == 1


def test_a_jde_444_in_the_middle_of_the_reads_still_mirrors_every_supplier(box, db):
    flow = make_mirror(box, "suppliers")
    # the supplier read browses F0401, F0101, F0111 and F01151: the AIS server forgets its tokens before the 3rd
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "dataservice", "action": "restart", "after": 2,
                                         "count": 1})
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    assert control(box, "GET", "calls")["jde"]["tokenrequest"] >= 2
    for number, row in jde_suppliers(box).items():
        if row["ABAT1"] == "V" and row["A6HDPY"] != "Y":
            assert [v["external_id"] for v in vendors_named(box, row["ABALPH"])] == [number]


def test_a_supplier_retired_then_reactivated_follows_back(box, db):
    """The reactivated supplier's target state is one its vendor had before (same fingerprint, an old version)."""
    flow = make_mirror(box, "suppliers")
    run_cycle(flow)
    number = next(n for n, r in jde_suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    control(box, "POST", "jde/suppliers", json={"AN8": int(number), "status": "inactive"})
    run_cycle(flow)
    vendor = lambda: next(v for v in control(box, "GET", "procurify/vendors") if v["external_id"] == number)  # noqa: E731
    assert not vendor()["active"]
    control(box, "POST", "jde/suppliers", json={"AN8": int(number), "status": "active"})
    run_cycle(flow)
    assert vendor()["active"]


def test_a_mirror_cycle_asks_no_question_per_new_version(box, db):
    """New versions written by the cycle that stored them are the newest of their key: no superseded query each."""
    from integrations.querycount import count_all_queries

    flow = make_mirror(box, "accounts")
    with count_all_queries() as queries:
        result = run_cycle(flow)
    assert result.posted > 100
    # 10 measured, whatever the number of accounts (161 when each post asked whether it was superseded)
    assert queries.kinds["SELECT integrations_batch"] <= 10, dict(queries.kinds)


def test_an_order_waits_for_its_vendor_and_account_codes_then_is_written(box, db):
    """Orders mirrored before the suppliers and accounts: held as waiting (no refused requisition), then written."""
    accounts = make_mirror(box, "accounts")
    flow = Flow.objects.create(tenant=accounts.tenant, name="JDE orders to Procurify", kind="jde_to_procurify",
                               source=accounts.source, target=accounts.target,
                               options={"records": "purchase_orders", "location": "Vancouver HQ", "department": "Operations"})
    known = {" ".join(v["name"].split()).casefold() for v in control(box, "GET", "procurify/vendors")}
    supplier, row = next((n, r) for n, r in jde_suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y"
                         and " ".join(r["ABALPH"].split()).casefold() not in known)
    order = control(box, "POST", "jde/purchase-orders", json={"supplier": int(supplier), "lines": [
        {"item": "PAL-1", "description": "Pallet wrap", "quantity": "10", "unit_cost": "4.25", "account": "200.6200"}]})
    key = f"{order['PHKCOO']}-{order['PHDCTO']}-{order['PHDOCO']}"
    run_cycle(flow)
    held = Batch.objects.get(flow=flow, source_id__startswith=f"{key}@")
    assert held.state == S.HELD and held.error_code == "PROCURIFY-PO-WAITING", (held.state, held.error_code)
    assert row["ABALPH"] in held.last_error
    assert not [p for p in control(box, "GET", "procurify/purchase_orders") if p["PO_Num"] == key]
    # The seeded orders too: none sent for Procurify to refuse (a 400 hold is for good, a waiting one is not)
    assert not Batch.objects.filter(flow=flow, error_code__startswith="PROCURIFY-4").exists()
    assert Batch.objects.filter(flow=flow, error_code="PROCURIFY-PO-WAITING").count() > 1
    run_cycle(accounts)
    run_cycle(make_mirror(box, "suppliers"))
    run_cycle(flow)
    held.refresh_from_db()
    assert held.state in (S.POSTED, S.CONFIRMED), (held.state, held.last_error)
    assert order_in_procurify(box, key)["order_items"][0]["accountCode"] == "200.6200"


def orders_flow(box):
    run_cycle(make_mirror(box, "accounts"))
    suppliers = make_mirror(box, "suppliers")
    run_cycle(suppliers)
    return Flow.objects.create(tenant=suppliers.tenant, name="JDE orders to Procurify", kind="jde_to_procurify",
                               source=suppliers.source, target=suppliers.target,
                               options={"records": "purchase_orders", "location": "Vancouver HQ", "department": "Operations"})


@pytest.mark.parametrize("fault", [
    # the requisition is raised and purchased, its answer never arrives: the batch is in doubt
    {"endpoint": "requisitions:create", "action": "drop_after", "count": 1},
    # the requisition is raised, the PUT that gives the PO its PO_Num fails every try
    {"endpoint": "purchase_orders:update", "action": "status", "status": 503, "count": 20},
], ids=["requisition-answer-lost", "po-num-write-failed"])
def test_an_order_whose_po_num_never_landed_is_adopted_not_raised_twice(box, db, fault):
    """A PO is made in two calls (requisition, then PO_Num). Stopped between them, the PO exists without the order's
    key; the retry finds it by vendor and lines and gives it the key instead of raising a second requisition."""
    flow = orders_flow(box)
    run_cycle(flow)  # the seeded orders first, so the fault below fires on this order's calls only
    supplier = next(n for n, r in jde_suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    order = control(box, "POST", "jde/purchase-orders", json={"supplier": int(supplier), "lines": [
        {"item": "PAL-1", "description": "Pallet wrap", "quantity": "7", "unit_cost": "4.25", "account": "200.6200"},
        {"item": "TON-1", "description": "Toner", "quantity": "2", "unit_cost": "80.10", "account": "300.6200"}]})
    key = f"{order['PHKCOO']}-{order['PHDCTO']}-{order['PHDOCO']}"
    before = len(control(box, "GET", "procurify/purchase_orders"))
    control(box, "POST", "faults", json={"system": "procurify", **fault})
    run_cycle(flow)
    control(box, "DELETE", "faults")
    batch = Batch.objects.get(flow=flow, source_id__startswith=f"{key}@")
    assert batch.state not in (S.POSTED, S.CONFIRMED), batch.state
    control(box, "DELETE", "calls")
    for _ in range(3):
        Batch.objects.filter(pk=batch.pk, next_attempt_at__isnull=False).update(next_attempt_at=timezone.now())
        run_cycle(flow)
    batch.refresh_from_db()
    assert batch.state in (S.POSTED, S.CONFIRMED), (batch.state, batch.last_error)
    after = control(box, "GET", "procurify/purchase_orders")
    assert len(after) == before + 1, "one Procurify PO for the order, not two"
    assert str(order_in_procurify(box, key)["procurify_PO"]) == batch.target_document_id
    assert control(box, "GET", "calls")["procurify"].get("requisitions:create", 0) == 0


def test_a_vendor_made_but_unanswered_then_renamed_in_procurify_is_found_by_its_supplier_number(box, db):
    """The vendor's create was written but its answer lost (in doubt); before the retry a person renamed the vendor
    in Procurify. Reconcile finds it by the supplier's number it carries (``external_id``), not only by name, so
    the retry updates it instead of adding a second vendor for the supplier."""
    from integrations.systems.procurify import ProcurifyClient

    flow = make_mirror(box, "suppliers")
    run_cycle(flow)
    made = control(box, "POST", "jde/suppliers", json={"name": "Lostanswer Supplies Ltd"})
    number = str(made.get("AN8") or made.get("ABAN8") or made.get("address_number"))
    control(box, "POST", "faults", json={"system": "procurify", "endpoint": "vendors:create", "action": "drop_after",
                                         "count": 1})
    run_cycle(flow)
    batch = Batch.objects.get(flow=flow, source_id__startswith=f"{number}@")
    assert batch.state == S.IN_DOUBT, batch.state
    [vendor] = [v for v in control(box, "GET", "procurify/vendors") if v["external_id"] == number]
    client = ProcurifyClient(flow.target)
    client.update_vendor(vendor["id"], name="Lost Answer Supplies Incorporated")
    for _ in range(2):
        run_cycle(flow)
    mine = [v for v in control(box, "GET", "procurify/vendors") if v["external_id"] == number]
    assert len(mine) == 1, mine
    batch.refresh_from_db()
    assert batch.state in (S.POSTED, S.CONFIRMED), (batch.state, batch.last_error)
