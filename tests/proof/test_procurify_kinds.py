"""The proof's readers of the three Procurify mirrors (integrations.proof.kinds) over a real sandbox: what each flow
must settle, and a double write made by hand through the vendors' APIs is found (one JD Edwards order with two
Procurify POs, one supplier with two vendors, one vendor with two suppliers)."""

import requests

from integrations.proof.check import FlowFacts, judge
from integrations.proof.kinds import NO_ORDER, SPECS, partner_keys
from integrations.proof.world import Box
from sandbox import procurify_data
from tests.sandbox_fixtures import ANCHOR, sandbox_fixtures

server, box = sandbox_fixtures(systems=["procurify", "jde"], size=40)

ORDERS, SUPPLIERS, VENDORS = "jde_to_procurify:purchase_orders", "jde_to_procurify:suppliers", "procurify_to_jde:vendors"


def control(sandbox):
    reader = Box(sandbox.url)
    reader.anchor = ANCHOR.isoformat()  # what the run's reset sets: the fakes' clocks start there
    return reader


def procurify(sandbox, method, path, **body):
    creds = sandbox.credentials()["procurify"]
    base = sandbox.system_url("procurify")
    token = requests.post(
        f"{base}/oauth/token",
        timeout=10,
        json={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "audience": procurify_data.AUDIENCE,
            "grant_type": "client_credentials",
        },
    ).json()["access_token"]
    response = requests.request(method, f"{base}{path}", json=body, timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 300, response.text
    return response.json()["data"]


def add_supplier(sandbox, reference, name):
    """A supplier added through the supplier orchestration, as ``procurify_to_jde`` vendors adds one."""
    base = sandbox.system_url("jde")
    token = requests.post(
        f"{base}/jderest/v2/tokenrequest", json={**sandbox.credentials()["jde"], "deviceName": "pytest"}, timeout=10
    ).json()["userInfo"]["token"]
    response = requests.post(
        f"{base}/jderest/v3/orchestrator/MLC_UpsertSupplier",
        headers={"jde-AIS-Auth": token},
        json={"SupplierReference": reference, "Name": name, "Status": "active"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["AddressNumber"])


def verdict(label, expected, ledger, batches=(), settled_elsewhere=()):
    return judge(
        FlowFacts(label, expected, list(batches), ledger=ledger, posting=False, settled_elsewhere=set(settled_elsewhere))
    )


# -- purchase orders ----------------------------------------------------------------------------------------------
def an_order_to_raise(sandbox, reader):
    """A JD Edwards order whose requisition Procurify can take: its supplier is a vendor and its account a code."""
    supplier = reader.get("jde/suppliers")[0]
    name = supplier["ABALPH"]
    if not any(v["name"] == name for v in reader.get("procurify/vendors")):
        procurify(sandbox, "POST", "/api/v3/vendors/", name=name, email=["ap@x.example"], type=3, overall_score=0)
    code = next(c for c in reader.get("procurify/account_codes") if c["active"] and c["code"].count(".") == 1)
    made = reader.post(
        "jde/purchase-orders",
        {
            "supplier": supplier["A6AN8"],
            "lines": [
                {"item": "P1", "description": "Pallet wrap", "quantity": "3", "unit_cost": "12.5", "account": code["code"]}
            ],
        },
    )
    key = f"{made['PHKCOO'].strip()}-{made['PHDCTO'].strip()}-{made['PHDOCO']}"
    lines = [
        {"item_name": "Pallet wrap", "vendor_name": name, "account_code": code["code"], "unit_price": "12.50", "quantity": "3"}
    ]
    return key, lines


def raise_requisition(sandbox, lines):
    """What ``procurify_targets.PurchaseOrders.create`` does before it sets ``PO_Num``: the PO number made."""
    requisition = procurify(
        sandbox,
        "POST",
        "/api/v3/requisitions/",
        required_date=ANCHOR.isoformat(),
        location_name="Vancouver HQ",
        department_name="Operations",
        line_items=lines,
    )
    return requisition["order_items"][0]["PO"][0]


def test_every_jde_order_is_expected_by_its_key(box):
    reader = control(box)
    orders = reader.get("jde/purchase-orders")
    expected = SPECS[ORDERS].expected(reader)
    assert len(expected) == len(orders) > 0
    assert all(key.startswith("00001-OP-4") for key in expected)  # KCOO-DCTO-DOCO, as PurchaseOrder.key
    assert SPECS[ORDERS].ledger(reader) == {}  # the sandbox's own POs carry no PO_Num: none is the connector's


def test_an_order_raised_twice_after_a_lost_po_num_is_a_double_write(box):
    reader = control(box)
    key, lines = an_order_to_raise(box, reader)
    first = raise_requisition(box, lines)
    procurify(box, "PUT", f"/api/v3/purchase-orders/{first}/", order_items=[], PO_Num=key)
    assert SPECS[ORDERS].ledger(reader) == {key: {str(first)}}
    assert verdict("t1 orders", {key}, SPECS[ORDERS].ledger(reader), [(f"{key}@aa", "posted", "", "")])["ok"]

    # A second create for the same order (its PO_Num write lost, say): a PO without PO_Num, put to the order by content.
    second = raise_requisition(box, lines)
    ledger = SPECS[ORDERS].ledger(reader)
    assert ledger == {key: {str(first), str(second)}}
    found = verdict("t1 orders", {key}, ledger, [(f"{key}@aa", "posted", "", "")])
    assert found["duplicates"] == {key: sorted([str(first), str(second)])} and not found["ok"]


def test_a_po_made_in_the_run_for_no_order_is_kept_apart(box):
    reader = control(box)
    key, lines = an_order_to_raise(box, reader)
    stray = raise_requisition(box, [{**lines[0], "quantity": "4"}])  # lines of no order
    assert SPECS[ORDERS].ledger(reader) == {NO_ORDER: {str(stray)}}


# -- suppliers and vendors ----------------------------------------------------------------------------------------
def test_every_supplier_and_every_vendor_is_expected_and_the_seed_has_no_links(box):
    reader = control(box)
    assert SPECS[SUPPLIERS].expected(reader) == {str(s["A6AN8"]) for s in reader.get("jde/suppliers")}
    assert SPECS[VENDORS].expected(reader) == {str(v["id"]) for v in reader.get("procurify/vendors")}
    assert SPECS[SUPPLIERS].ledger(reader) == {} and SPECS[VENDORS].ledger(reader) == {}
    assert SPECS[SUPPLIERS].live and SPECS[VENDORS].live  # each direction adds records to the other's source


def test_a_second_vendor_made_for_a_supplier_is_a_double_write(box):
    reader = control(box)
    supplier = reader.get("jde/suppliers")[0]
    an8 = str(supplier["A6AN8"])
    vendor = procurify(
        box, "POST", "/api/v3/vendors/", name=supplier["ABALPH"], email=["ap@a.example"], type=3, overall_score=0, external_id=an8
    )
    assert SPECS[SUPPLIERS].ledger(reader) == {an8: {str(vendor["id"])}}
    assert verdict("t1 suppliers", {an8}, SPECS[SUPPLIERS].ledger(reader), [(f"{an8}@aa", "posted", "", "")])["ok"]

    again = procurify(
        box, "POST", "/api/v3/vendors/", name=supplier["ABALPH"], email=["ap@a.example"], type=3, overall_score=0, external_id=an8
    )
    found = verdict("t1 suppliers", {an8}, SPECS[SUPPLIERS].ledger(reader), [(f"{an8}@aa", "posted", "", "")])
    assert found["duplicates"] == {an8: sorted([str(vendor["id"]), str(again["id"])])} and not found["ok"]


def test_a_supplier_added_for_a_vendor_already_linked_is_a_double_write(box):
    reader = control(box)
    vendor = reader.get("procurify/vendors")[0]
    vid = str(vendor["id"])
    added = add_supplier(box, f"PRC-V-{vid}", vendor["name"])
    assert add_supplier(box, f"PRC-V-{vid}", vendor["name"]) == added  # a retried add finds it: no double there
    assert SPECS[VENDORS].ledger(reader) == {vid: {added}}

    # The vendor was also linked to another supplier (the suppliers mirror wrote its number): two suppliers for it.
    other = next(str(s["A6AN8"]) for s in reader.get("jde/suppliers") if str(s["A6AN8"]) != added)
    procurify(box, "PATCH", f"/api/v3/vendors/{vid}/", external_id=other)
    found = verdict("t1 vendors", {vid}, SPECS[VENDORS].ledger(reader), [(f"{vid}@aa", "posted", "", "")])
    assert found["duplicates"] == {vid: sorted([added, other])} and not found["ok"]
    assert SPECS[SUPPLIERS].ledger(reader) == {added: {vid}, other: {vid}}  # one vendor each: no double that way


def test_a_pair_the_other_direction_wrote_is_settled_and_nothing_else():
    spec = SPECS[SUPPLIERS]  # its partner: the vendors mirror, whose versions name the supplier in _an8
    versions = [
        ({"key": "512", "_an8": "4003", "_vendor": "512"}, "4003"),  # linked or updated
        ({"key": "513", "_an8": "", "_vendor": "513"}, "4100"),  # a supplier it added
        ({"key": "514", "_an8": "", "_vendor": "514"}, "PRC-V-514"),  # inactive, not added
        ({"key": "515", "_an8": "", "_vendor": "515"}, "515"),
    ]  # superseded: its own key
    assert partner_keys(spec, versions) == {"4003", "4100"}
    found = verdict("t1 suppliers", {"4003", "4100", "4200"}, {}, settled_elsewhere={"4003", "4100"})
    assert found["lost"] == ["4200"] and not found["ok"]
    assert found["settled_by_other_direction"] == 2
    assert verdict("t1 suppliers", {"4003", "4100"}, {}, settled_elsewhere={"4003", "4100"})["ok"]
    assert partner_keys(
        SPECS[VENDORS],
        [({"key": "4003", "_vendor": "", "_an8": "4003"}, "4003"), ({"key": "4004", "_vendor": "", "_an8": "4004"}, "530")],
    ) == {"530"}
