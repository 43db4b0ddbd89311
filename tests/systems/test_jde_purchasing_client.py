"""The JD Edwards client's purchasing reads and AP vouchers over real HTTP against the sandbox."""

import datetime as dt
from decimal import Decimal

import pytest

from integrations.systems.errors import OutcomeUnknown, ValidationRejected
from integrations.systems.jde import (
    JdeClient,
    VoucherDocument,
    VoucherLine,
    VoucherPayItem,
    clear_token_cache,
)
from sandbox import jde_data, jde_purchasing_data
from tests.sandbox_fixtures import ANCHOR, sandbox_fixtures
from tests.systems.test_jde_client import connection, sandbox_post

pytestmark = pytest.mark.django_db

server, box = sandbox_fixtures(systems=["jde"], size=40, around=clear_token_cache)
MORNING = dt.datetime.combine(ANCHOR, dt.time(9, 0))


@pytest.fixture
def client(box):
    return JdeClient(connection(box))


def tables(box):
    return box.fakes["jde"].tables


def at(box, hours, minutes=0):
    """Move the sandbox clock to ``hours:minutes`` on the anchor day (it starts at midnight)."""
    target = hours * 3600 + minutes * 60
    now = box.fakes["jde"].now()
    box.advance(target - (now - dt.datetime.combine(ANCHOR, dt.time())).total_seconds())


# -- purchase orders --------------------------------------------------------------------------------------------
def test_every_order_comes_whole_with_typed_values(client, box):
    orders = client.purchase_orders_changed_since(None)
    assert [o.number for o in orders] == sorted(h["DOCO"] for h in tables(box)["F4301"])
    source = tables(box)["F4301"][0]
    order = orders[0]
    assert order.key == f"00001-OP-{source['DOCO']}" and order.supplier == source["AN8"]
    assert order.total == source["OTOT"] and isinstance(order.total, Decimal)
    assert order.order_date == jde_data.from_julian(source["TRDJ"])
    assert order.updated == dt.datetime.combine(jde_data.from_julian(source["UPMJ"]),
                                                dt.time(source["TDAY"] // 10000, source["TDAY"] // 100 % 100,
                                                        source["TDAY"] % 100))
    lines = [ln for ln in tables(box)["F4311"] if ln["DOCO"] == source["DOCO"]]
    assert [ln.line_number for ln in order.lines] == [ln["LNID"] for ln in lines]
    assert [(ln.quantity, ln.unit_cost, ln.extended_amount) for ln in order.lines] == [
        (ln["UORG"], ln["PRRC"], ln["AEXP"]) for ln in lines]
    assert all(ln.account.count(".") >= 1 and ln.account_id for ln in order.lines)
    cancelled = [ln for o in orders for ln in o.lines if ln.cancelled]
    assert cancelled and all(ln.last_status == jde_purchasing_data.CANCELLED for ln in cancelled)
    assert sum((o.total for o in orders), Decimal(0)) == sum((h["OTOT"] for h in tables(box)["F4301"]), Decimal(0))


def test_the_cursor_selects_orders_changed_at_or_after_it_to_the_second(client, box):
    order = tables(box)["F4301"][3]["DOCO"]
    line = next(ln for ln in tables(box)["F4311"] if ln["DOCO"] == order)
    at(box, 9, 30)
    sandbox_post(box, f"jde/purchase-orders/{order}/lines/{line['LNID']}", {"quantity": "7"})
    assert [o.number for o in client.purchase_orders_changed_since(MORNING)] == [order]
    assert client.purchase_orders_changed_since(MORNING.replace(minute=30)) != []  # inclusive
    assert client.purchase_orders_changed_since(MORNING.replace(minute=31)) == []
    # an earlier day's cursor still reads the seeded changes since then
    week_ago = MORNING - dt.timedelta(days=7)
    expected = {h["DOCO"] for h in tables(box)["F4301"] if (jde_data.from_julian(h["UPMJ"]), h["TDAY"]) >= (
        week_ago.date(), 90000)}
    assert order in expected and len(expected) < len(tables(box)["F4301"])
    assert {o.number for o in client.purchase_orders_changed_since(week_ago)} == expected


def test_an_order_changed_twice_between_polls_is_read_in_its_last_state(client, box):
    order = tables(box)["F4301"][1]["DOCO"]
    lines = [ln for ln in tables(box)["F4311"] if ln["DOCO"] == order]
    at(box, 10)
    sandbox_post(box, f"jde/purchase-orders/{order}/lines/{lines[0]['LNID']}", {"quantity": "2", "unit_cost": "5.00"})
    at(box, 11)
    sandbox_post(box, f"jde/purchase-orders/{order}/lines/{lines[0]['LNID']}", {"quantity": "3"})
    [read] = client.purchase_orders_changed_since(MORNING)
    first = read.lines[0]
    assert (first.quantity, first.unit_cost, first.extended_amount) == (Decimal(3), Decimal("5.00"), Decimal("15.00"))
    assert read.updated == dt.datetime.combine(ANCHOR, dt.time(11))
    assert read.total == sum((ln.extended_amount for ln in read.lines if not ln.cancelled), Decimal(0))


def test_a_line_restamped_without_its_header_brings_the_whole_order(client, box):
    order = tables(box)["F4301"][2]["DOCO"]
    line = next(ln for ln in tables(box)["F4311"] if ln["DOCO"] == order)
    line["UPMJ"], line["TDAY"] = jde_data.to_julian(ANCHOR), 120000  # as a site program might, header untouched
    [read] = client.purchase_orders_changed_since(MORNING)
    assert read.number == order and len(read.lines) == sum(1 for ln in tables(box)["F4311"] if ln["DOCO"] == order)


def test_an_order_changed_again_after_the_scan_keeps_the_scans_stamp_so_no_later_change_is_passed(client, box):
    """Pages read each order when they come to it: an order changed again by then is read in its new state but
    keeps the stamp the scan saw, so a cursor taken from a page never skips a change the scan did not see."""
    first, second, third = (tables(box)["F4301"][i]["DOCO"] for i in (4, 5, 6))

    def change(order, quantity):
        line = min(ln["LNID"] for ln in tables(box)["F4311"] if ln["DOCO"] == order)
        sandbox_post(box, f"jde/purchase-orders/{order}/lines/{line}", {"quantity": quantity})

    at(box, 10)
    change(first, "2"), change(second, "3")
    pages = client.purchase_order_pages(MORNING, size=1)
    [read_first] = next(pages)  # the scan is made here: the two orders, both changed at 10:00
    at(box, 10, 30)
    change(third, "4")  # after the scan: not in this read
    at(box, 11)
    change(second, "5")  # after the scan, before its page
    [read_second] = next(pages)
    assert [read_first.number, read_second.number] == sorted([first, second])
    assert read_second.number == second and read_second.lines[0].quantity == Decimal(5)  # its state when its page came
    assert read_second.updated == dt.datetime.combine(ANCHOR, dt.time(10))  # the stamp the scan saw
    cursor = max(read_first.updated, read_second.updated)
    assert {third, second} <= {o.number for o in client.purchase_orders_changed_since(cursor)}


def test_a_cancelled_order_reads_as_cancelled(client, box):
    order = tables(box)["F4301"][4]["DOCO"]
    at(box, 9, 15)
    sandbox_post(box, f"jde/purchase-orders/{order}/cancel")
    [read] = client.purchase_orders_changed_since(MORNING)
    assert read.cancelled and read.total == Decimal("0.00") and all(ln.next_status == "999" for ln in read.lines)


# -- suppliers and accounts -------------------------------------------------------------------------------------
def test_suppliers_changed_since_join_name_status_contact_and_email(client, box):
    first, second = tables(box)["F0401"][0]["AN8"], tables(box)["F0401"][1]["AN8"]
    at(box, 9, 5)
    sandbox_post(box, "jde/suppliers", {"AN8": first, "name": "Renamed Supply", "status": "inactive"})
    sandbox_post(box, "jde/suppliers", {"AN8": second, "contact": "Dana Fox", "email": "dana@fox.example"})
    added = sandbox_post(box, "jde/suppliers", {"name": "Fresh Parts Ltd", "tax_id": "98-7654321"})["A6AN8"]
    changed = {s.address_number: s for s in client.suppliers_changed_since(MORNING)}
    assert set(changed) == {first, second, added}
    assert (changed[first].name, changed[first].active, changed[first].search_type) == ("Renamed Supply", False, "VX")
    assert (changed[second].contact, changed[second].email, changed[second].active) == ("Dana Fox", "dana@fox.example",
                                                                                         True)
    assert changed[added].tax_id == "98-7654321" and changed[added].updated == dt.datetime.combine(ANCHOR, dt.time(9, 5))
    assert client.suppliers_changed_since(MORNING.replace(minute=6)) == []


def test_every_supplier_without_a_cursor(client, box):
    client.ensure_token()
    before = dict(box.calls["jde"])
    everyone = client.suppliers_changed_since(None)
    assert [s.address_number for s in everyone] == sorted(r["AN8"] for r in tables(box)["F0401"])
    assert all(s.name and s.contact and "@" in s.email and s.active for s in everyone)
    # one read of the supplier master, and one of each table joined to it (a LIST of up to 500 numbers): no
    # first pass over every table for changed rows, which only a cursor needs
    reads = {k: v - before.get(k, 0) for k, v in box.calls["jde"].items() if k.startswith("dataservice")}
    assert sum(reads.values()) == 5, reads


def test_accounts_show_added_and_deactivated_accounts(client, box):
    at(box, 8)
    sandbox_post(box, "jde/accounts", {"account": "4000.0.0"})
    sandbox_post(box, "jde/accounts", {"account": "200.6200.CC10", "PEC": "I"})
    accounts = {a.key: a for a in client.accounts()}
    assert "4000.0.0" in accounts and accounts["4000.0.0"].is_postable
    assert not accounts["200.6200.CC10"].is_active
    assert accounts["4000.0.0"].updated == dt.datetime.combine(ANCHOR, dt.time(8))


# -- vouchers ---------------------------------------------------------------------------------------------------
def voucher(box, reference="PRC-BILL-1", account="200.6200.CC10"):
    return VoucherDocument(
        reference=reference, supplier=tables(box)["F0401"][0]["AN8"], gl_date=dt.date(2026, 11, 20), currency="USD",
        invoice_number="INV-77", invoice_date=dt.date(2026, 11, 18),
        pay_items=[VoucherPayItem(Decimal("120.00"), dt.date(2026, 12, 18)), VoucherPayItem(Decimal("30.55"))],
        lines=[VoucherLine(account, Decimal("100.55"), "Paper"), VoucherLine("200.6400", Decimal("50.00"), "Phones")])


def test_post_voucher_then_find_it_before_and_after_processing_and_purge(client, box):
    result = client.post_voucher(voucher(box))
    assert result.batch_number and isinstance(result.document_number, int) and result.existing is False
    [found] = client.find_vouchers("PRC-BILL-1")
    assert (found.document_number, found.batch_number, found.where, found.processed) == (
        result.document_number, result.batch_number, "F0411Z1", False)
    assert found.gross == Decimal("150.55") and found.pay_items == 2 and found.invoice_number == "INV-77"
    assert found.gl_date == dt.date(2026, 11, 20) and found.supplier == tables(box)["F0401"][0]["AN8"]
    sandbox_post(box, "jde/process")
    sandbox_post(box, "jde/purge")
    [found] = client.find_vouchers("PRC-BILL-1")
    assert (found.document_number, found.where, found.processed, found.gross) == (
        result.document_number, "F0411", True, Decimal("150.55"))
    again = client.post_voucher(voucher(box))
    assert again.existing is True and again.document_number == result.document_number
    assert len(client.find_vouchers("PRC-BILL-1")) == 1


def test_a_voucher_with_an_account_missing_from_f0901_is_rejected_naming_it(client, box):
    with pytest.raises(ValidationRejected) as caught:
        client.post_voucher(voucher(box, "PRC-BILL-2", account="4000.0.0"))
    assert caught.value.code == "JDE-REJECTED" and "4000.0.0 is not in F0901" in str(caught.value)
    assert client.find_vouchers("PRC-BILL-2") == []
    sandbox_post(box, "jde/accounts", {"account": "4000.0.0"})
    assert client.post_voucher(voucher(box, "PRC-BILL-2", account="4000.0.0")).existing is False


def test_an_unbalanced_voucher_is_held_without_a_call(client, box):
    doc = voucher(box, "PRC-BILL-3")
    doc.pay_items = [VoucherPayItem(Decimal("1.00"))]
    before = box.calls["jde"]["orchestrator"]
    with pytest.raises(ValidationRejected) as caught:
        client.post_voucher(doc)
    assert caught.value.code == "JDE-INVALID-JOURNAL" and "pay items" in str(caught.value)
    assert box.calls["jde"]["orchestrator"] == before


def test_a_444_in_the_middle_of_a_batch_reauthenticates_and_posts_every_voucher_once(client, box):
    box.faults.add(system="jde", endpoint="orchestrator", action="status", status=444, after=1, count=1)
    results = [client.post_voucher(voucher(box, f"PRC-BILL-4{i}")) for i in range(3)]
    assert len({r.document_number for r in results}) == 3
    assert client.token_requests == 2
    assert all(len(client.find_vouchers(f"PRC-BILL-4{i}")) == 1 for i in range(3))


def test_an_answer_lost_after_the_write_is_outcome_unknown_and_reconcile_finds_it(client, box):
    box.faults.add(system="jde", endpoint="orchestrator", action="drop_after", count=1)
    with pytest.raises(OutcomeUnknown):
        client.post_voucher(voucher(box, "PRC-BILL-5"))
    [found] = client.find_vouchers("PRC-BILL-5")
    assert found.gross == Decimal("150.55")


def test_a_supplier_is_added_through_the_orchestration_once_per_reference_and_changed_in_place(client, box):
    added = client.upsert_supplier(reference="PRC-V-77", name="Orchestrated Parts", active=True, email="ap@orch.example")
    again = client.upsert_supplier(reference="PRC-V-77", name="Orchestrated Parts", active=True)
    assert not added.existing and again.existing and again.address_number == added.address_number
    assert [r["AN8"] for r in tables(box)["F0101"] if r.get("ALKY") == "PRC-V-77"] == [added.address_number]
    client.upsert_supplier(address_number=added.address_number, name="Orchestrated Parts Ltd", active=False,
                           email="billing@orch.example")
    found = {s.address_number: s for s in client.suppliers_changed_since(None)}[added.address_number]
    assert (found.name, found.active, found.email, found.reference) == (
        "Orchestrated Parts Ltd", False, "billing@orch.example", "PRC-V-77")


def test_the_phone_is_f0115_line_1_and_a_phone_row_alone_marks_its_supplier_changed(client, box):
    row = next(r for r in tables(box)["F0115"] if r["IDLN"] == 1 and r["PHTP"] == "")
    seeded = {s.address_number: s for s in client.suppliers_changed_since(None)}[row["AN8"]]
    assert seeded.phone == f"{row['AR1']} {row['PH1']}"
    row["UPMJ"], row["UPMT"] = jde_purchasing_data.now_stamp(MORNING.replace(minute=30))  # only the phone row restamped
    assert [s.address_number for s in client.suppliers_changed_since(MORNING)] == [row["AN8"]]
    client.upsert_supplier(address_number=row["AN8"], phone="+1 604 555 0142", contact="Lee Chan")
    found = {s.address_number: s for s in client.suppliers_changed_since(None)}[row["AN8"]]
    assert (found.phone, found.contact) == ("+1 604 555 0142", "Lee Chan")
    client.upsert_supplier(address_number=row["AN8"], phone="")  # an empty phone clears it
    assert {s.address_number: s for s in client.suppliers_changed_since(None)}[row["AN8"]].phone == ""


def test_a_supplier_change_for_an_unknown_address_number_is_refused(client, box):
    with pytest.raises(ValidationRejected) as caught:
        client.upsert_supplier(address_number=999999, name="Nobody")
    assert "999999 is not in F0401" in str(caught.value)
