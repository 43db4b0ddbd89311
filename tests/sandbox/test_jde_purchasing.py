"""The JD Edwards fake's purchasing tables over real loopback HTTP: purchase orders (F4301/F4311),
suppliers (F0401 with F0101, F0111, F01151) and accounts (F0901), their date filters and the
control levers that change them."""

import datetime as dt
from decimal import Decimal

from sandbox import jde_data as data
from sandbox import jde_purchasing_data as po
from tests.sandbox.test_jde_fake import browse_all, condition, control, token
from tests.sandbox_fixtures import ANCHOR, sandbox_fixtures

server, box = sandbox_fixtures(systems=["jde"], size=40)


def tables(box):
    return box.fakes["jde"].tables


def test_purchase_orders_are_seeded_deterministically_with_consistent_totals():
    one = data.generate(7, 40, ANCHOR)
    assert one["F4301"] == data.generate(7, 40, ANCHOR)["F4301"]
    assert one["F4311"] != data.generate(8, 40, ANCHOR)["F4311"]
    statuses = {line["LTTR"] for line in one["F4311"]}
    assert {po.OPEN, po.CANCELLED} <= statuses
    for header in one["F4301"]:
        lines = [ln for ln in one["F4311"] if ln["DOCO"] == header["DOCO"]]
        assert lines and header["OTOT"] == sum(ln["AEXP"] for ln in lines if ln["LTTR"] != po.CANCELLED)
        assert all(ln["AEXP"] == ln["UORG"] * ln["PRRC"] for ln in lines)
        # the change date and time are the latest of the lines'
        assert (header["UPMJ"], header["TDAY"]) == max((ln["UPMJ"], ln["TDAY"]) for ln in lines)
        assert header["TRDJ"] <= header["UPMJ"] < data.to_julian(ANCHOR)


def test_older_tables_are_unchanged_by_the_purchasing_tables():
    world = data.generate(7, 40, ANCHOR)
    assert [r["AN8"] for r in world["F0401"]][:3] == [r["AN8"] for r in data.generate(7, 40, ANCHOR)["F0401"]][:3]
    assert world["F0411Z1"] == [] and world["F0411"] == []


def test_po_headers_and_lines_read_with_a_change_date_and_time_filter(box):
    tok = token(box)
    cutoff = dt.date(2026, 10, 1)
    rows, _ = browse_all(box, tok, "F4301", ["DOCO", "DCTO", "AN8", "TRDJ", "OTOT", "UPMJ", "TDAY"],
                         [condition("F4301.UPMJ", "GREATER_EQUAL", data.to_julian(cutoff))], page_size=5)
    want = {h["DOCO"] for h in tables(box)["F4301"] if data.from_julian(h["UPMJ"]) >= cutoff}
    assert want and {r["F4301_DOCO"] for r in rows} == want
    assert all(r["F4301_DCTO"] == "OP" and len(r["F4301_UPMJ"]) == 8 for r in rows)
    lines, _ = browse_all(box, tok, "F4311", ["DOCO", "LNID", "UORG", "PRRC", "AEXP", "LTTR", "TDAY"],
                          [condition("F4311.DOCO", "LIST", *sorted(want))])
    assert {r["F4311_DOCO"] for r in lines} == want
    assert all(isinstance(r["F4311_TDAY"], int) for r in lines)


def test_a_quantity_change_restamps_the_line_and_header_and_recomputes_totals(box):
    header = tables(box)["F4301"][0]
    order = header["DOCO"]
    line = next(ln for ln in tables(box)["F4311"] if ln["DOCO"] == order and ln["LTTR"] != po.CANCELLED)
    box.advance(3600 * 9 + 61)  # 09:01:01 on the anchor day
    view = control(box, "POST", f"jde/purchase-orders/{order}/lines/{line['LNID']}",
                   json={"quantity": "3", "unit_cost": "10.25"})
    changed = next(ln for ln in view["lines"] if ln["PDLNID"] == str(line["LNID"]))
    assert (changed["PDUORG"], changed["PDPRRC"], changed["PDAEXP"]) == ("3", "10.25", "30.75")
    assert changed["PDUPMJ"] == data.to_julian(ANCHOR) and changed["PDTDAY"] == 90101
    assert view["PHUPMJ"] == data.to_julian(ANCHOR) and view["PHTDAY"] == 90101
    tok = token(box)
    rows, _ = browse_all(box, tok, "F4301", ["DOCO", "OTOT"], [condition("F4301.UPMJ", "GREATER_EQUAL", "20261101"),
                                                               condition("F4301.TDAY", "GREATER_EQUAL", "90000")])
    assert [r["F4301_DOCO"] for r in rows] == [order]
    others = sum(ln["AEXP"] for ln in tables(box)["F4311"]
                 if ln["DOCO"] == order and ln["LTTR"] != po.CANCELLED and ln is not line)
    assert rows[0]["F4301_OTOT"] == float(others + Decimal("30.75")) and header["OTOT"] == others + Decimal("30.75")


def test_cancelling_a_line_and_an_order(box):
    header = next(h for h in tables(box)["F4301"]
                  if sum(1 for ln in tables(box)["F4311"] if ln["DOCO"] == h["DOCO"] and ln["LTTR"] != po.CANCELLED) > 1)
    lines = [ln for ln in tables(box)["F4311"] if ln["DOCO"] == header["DOCO"] and ln["LTTR"] != po.CANCELLED]
    view = control(box, "POST", f"jde/purchase-orders/{header['DOCO']}/lines/{lines[0]['LNID']}", json={"cancel": True})
    assert next(ln for ln in view["lines"] if ln["PDLNID"] == str(lines[0]["LNID"]))["PDLTTR"] == "980"
    assert header["OTOT"] == sum(ln["AEXP"] for ln in lines[1:])
    view = control(box, "POST", f"jde/purchase-orders/{header['DOCO']}/cancel")
    assert {ln["PDLTTR"] for ln in view["lines"]} == {"980"} and {ln["PDNXTR"] for ln in view["lines"]} == {"999"}
    assert view["PHOTOT"] == "0.00"


def test_a_new_order_is_added_with_its_lines(box):
    an8 = tables(box)["F0401"][2]["AN8"]
    created = control(box, "POST", "jde/purchase-orders", json={"supplier": an8, "lines": [
        {"item": "SW-LIC-STD", "description": "Seats", "quantity": "4", "unit_cost": "120.00", "account": "200.6300.CC20"}]})
    assert created["PHAN8"] == an8 and created["PHOTOT"] == "480.00" and created["lines"][0]["PDANI"] == "200.6300.CC20"
    assert control(box, "GET", "jde/purchase-orders", params={"order": created["PHDOCO"]})[0]["PHDOCO"] == created["PHDOCO"]


def test_suppliers_join_address_book_contacts_and_follow_changes(box):
    first = tables(box)["F0401"][0]["AN8"]
    box.advance(3600 * 10)
    tok = token(box)
    control(box, "POST", "jde/suppliers", json={"AN8": first, "name": "Renamed Supply Co", "status": "inactive",
                                                 "contact": "Pat Doe", "email": "pat@renamed.example"})
    added = control(box, "POST", "jde/suppliers", json={"name": "Brand New Parts", "tax_id": "12-3456789"})
    since = [condition("F0101.UPMJ", "GREATER_EQUAL", data.to_julian(ANCHOR))]
    book, _ = browse_all(box, tok, "F0101", ["AN8", "ALPH", "AT1", "TAX", "UPMT"], since)
    assert {r["F0101_AN8"]: (r["F0101_ALPH"], r["F0101_AT1"]) for r in book} == {
        first: ("Renamed Supply Co", "VX"), added["A6AN8"]: ("Brand New Parts", "V")}
    assert all(r["F0101_UPMT"] == 100000 for r in book)
    masters, _ = browse_all(box, tok, "F0401", ["AN8"], [condition("F0401.UPMJ", "GREATER_EQUAL", "2026-11-01")])
    assert {r["F0401_AN8"] for r in masters} == {first, added["A6AN8"]}
    who, _ = browse_all(box, tok, "F0111", ["AN8", "IDLN", "MLNM"], [condition("F0111.AN8", "EQUAL", first)])
    assert {(r["F0111_IDLN"], r["F0111_MLNM"]) for r in who} == {(0, "Renamed Supply Co"), (1, "Pat Doe")}
    mail, _ = browse_all(box, tok, "F01151", ["EMAL"], [condition("F01151.AN8", "EQUAL", first)])
    assert [r["F01151_EMAL"] for r in mail] == ["pat@renamed.example"]


def test_a_list_of_address_numbers_finds_rows_added_since_and_ands_the_other_conditions(box):
    # AN8 and DOCO conditions are answered from an index of the table: it must follow rows added after it was built.
    tok = token(box)
    suppliers = [r["AN8"] for r in tables(box)["F0401"]]
    first, _ = browse_all(box, tok, "F0401", ["AN8"], [condition("F0401.AN8", "LIST", str(suppliers[3]), suppliers[1], 999999)])
    assert [r["F0401_AN8"] for r in first] == [suppliers[1], suppliers[3]]  # table order, unknown number ignored
    added = control(box, "POST", "jde/suppliers", json={"name": "Late Parts", "tax_id": "98-7654321"})["A6AN8"]
    wanted = [added, suppliers[0], suppliers[2]]
    rows, _ = browse_all(box, tok, "F0101", ["AN8", "ALPH"], [condition("F0101.AN8", "LIST", *wanted),
                                                              condition("F0101.ALPH", "STR_START_WITH", "Late")])
    assert [(r["F0101_AN8"], r["F0101_ALPH"]) for r in rows] == [(added, "Late Parts")]
    rows, _ = browse_all(box, tok, "F0101", ["AN8"], [condition("F0101.AN8", "LIST", *wanted)])
    assert sorted(r["F0101_AN8"] for r in rows) == sorted(wanted)


def test_accounts_are_added_and_deactivated_and_read_by_change_date(box):
    box.advance(60)
    tok = token(box)
    control(box, "POST", "jde/accounts", json={"account": "4000.0.0"})
    control(box, "POST", "jde/accounts", json={"account": "200.6200.CC10", "PEC": "I"})
    rows, _ = browse_all(box, tok, "F0901", ["MCU", "OBJ", "SUB", "PEC"],
                         [condition("F0901.UPMJ", "GREATER_EQUAL", data.to_julian(ANCHOR))])
    assert sorted((r["F0901_MCU"].strip(), r["F0901_OBJ"], r["F0901_SUB"], r["F0901_PEC"]) for r in rows) == [
        ("200", "6200", "CC10", "I"), ("4000", "0", "0", "")]


def test_a_line_added_to_an_existing_order_takes_the_next_number_and_restamps_the_order(box):
    header = tables(box)["F4301"][0]
    before = [ln["LNID"] for ln in tables(box)["F4311"] if ln["DOCO"] == header["DOCO"]]
    box.advance(3600 * 11)
    view = control(box, "POST", f"jde/purchase-orders/{header['DOCO']}/lines",
                   json={"item": "NEW-1", "quantity": "2", "unit_cost": "5.50", "account": "200.6200"})
    added = view["lines"][-1]
    assert Decimal(str(added["PDLNID"])) == max(before) + 1 and added["PDLITM"] == "NEW-1"
    assert added["PDTDAY"] == view["PHTDAY"] == 110000
