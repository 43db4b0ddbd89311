"""The JD Edwards fake's AP voucher orchestration over real loopback HTTP: F0411Z1 pay items with
their F0911Z1 G/L lines, idempotency by reference, the simulated processor, purge and faults."""

import datetime as dt
from decimal import Decimal

import requests

from sandbox import jde_data as data
from tests.sandbox.test_jde_fake import auth, browse_all, condition, control, token, url
from tests.sandbox_fixtures import sandbox_fixtures

VOUCHERS = "/jderest/v3/orchestrator/MLC_AddVoucherBatch"

server, box = sandbox_fixtures(systems=["jde"], size=40)


def supplier(box):
    return box.fakes["jde"].tables["F0401"][0]["AN8"]


def voucher(box, reference="PRC-BILL-1", lines=None, items=None, **fields):
    body = {"VoucherReference": reference, "Supplier": supplier(box), "InvoiceNumber": "INV-881",
            "InvoiceDate": "2026-11-18", "GLDate": "2026-11-20", "Currency": "USD", "Company": "00001",
            "Explanation": "Procurify bill 881",
            "PayItems": items if items is not None else [{"Amount": "250.00", "DueDate": "2026-12-18"},
                                                         {"Amount": "100.10"}],
            "Lines": lines if lines is not None else [
                {"Account": "200.6200.CC10", "Amount": "300.10", "Explanation": "Paper"},
                {"Account": "200.6400", "Amount": "50.00", "Explanation": "Headsets"}]}
    body.update(fields)
    return body


def post(box, tok, body):
    return requests.post(url(box, VOUCHERS), json=body, headers=auth(tok), timeout=10)


def test_voucher_batch_writes_pay_items_and_matching_gl_lines(box):
    tok = token(box)
    response = post(box, tok, voucher(box))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jde__status"] == "SUCCESS" and body["Existing"] is False
    items = control(box, "GET", "jde/F0411Z1", params={"reference": "PRC-BILL-1"})
    assert [(i["VLSFX"], Decimal(i["VLAG"])) for i in items] == [("001", Decimal("250.00")), ("002", Decimal("100.10"))]
    first = items[0]
    assert (first["VLEDSP"], first["VLEDTC"], first["VLEDTR"], first["VLDCT"]) == ("0", "A", "V", "PV")
    assert first["VLEDBT"] == body["BatchNumber"] and first["VLDOC"] == body["DocumentNumber"]
    assert first["VLAN8"] == supplier(box) and first["VLVINV"] == "INV-881" and first["VLRMK"] == "PRC-BILL-1"
    assert first["VLDIVJ"] == data.to_julian(dt.date(2026, 11, 18)) and first["VLDGJ"] == data.to_julian(dt.date(2026, 11, 20))
    assert first["VLDDJ"] == data.to_julian(dt.date(2026, 12, 18))
    assert items[1]["VLDDJ"] == data.to_julian(dt.date(2026, 11, 18))  # no due date of its own: the invoice date
    lines = control(box, "GET", "jde/F0911Z1", params={"reference": "PRC-BILL-1"})
    # the G/L distribution shares EDUS/EDBT/EDTN/CO/DGJ with the pay items and is typed V
    assert {(r["VNEDUS"], r["VNEDBT"], r["VNEDTN"], r["VNCO"], r["VNDGJ"], r["VNEDTR"]) for r in lines} == {
        (first["VLEDUS"], first["VLEDBT"], "PRC-BILL-1", "00001", first["VLDGJ"], "V")}
    assert [(r["VNANI"], Decimal(r["VNAA"])) for r in lines] == [("200.6200.CC10", Decimal("300.10")),
                                                                 ("200.6400", Decimal("50.00"))]
    assert sum(Decimal(r["VNAA"]) for r in lines) == sum(Decimal(i["VLAG"]) for i in items)


def test_the_batch_is_readable_through_the_data_service(box):
    tok = token(box)
    post(box, tok, voucher(box, "PRC-BILL-2"))
    rows, _ = browse_all(box, tok, "F0411Z1", ["EDTN", "AG", "DIVJ"], [condition("F0411Z1.EDTN", "EQUAL", "PRC-BILL-2")])
    assert [(r["F0411Z1_EDTN"], r["F0411Z1_AG"], r["F0411Z1_DIVJ"]) for r in rows] == [
        ("PRC-BILL-2", 250.0, "20261118"), ("PRC-BILL-2", 100.1, "20261118")]


def test_a_duplicate_reference_is_answered_with_the_existing_voucher_and_writes_nothing(box):
    tok = token(box)
    first = post(box, tok, voucher(box, "PRC-BILL-3")).json()
    again = post(box, tok, voucher(box, "PRC-BILL-3", items=[{"Amount": "1.00"}],
                                   lines=[{"Account": "200.6200", "Amount": "1.00"}]))
    assert again.status_code == 200
    body = again.json()
    assert body["Existing"] is True and "already exists" in body["jde__simpleMessage"]
    assert (body["BatchNumber"], body["DocumentNumber"]) == (first["BatchNumber"], first["DocumentNumber"])
    assert len(control(box, "GET", "jde/F0411Z1", params={"reference": "PRC-BILL-3"})) == 2


def test_without_idempotency_a_duplicate_reference_makes_a_second_voucher(box):
    control(box, "POST", "config", json={"jde": {"voucher_idempotent": False}})
    tok = token(box)
    one, two = (post(box, tok, voucher(box, "PRC-BILL-4")).json() for _ in range(2))
    assert one["DocumentNumber"] != two["DocumentNumber"] and two["Existing"] is False


def test_process_moves_vouchers_into_f0411_and_f0911_and_purge_keeps_the_ledgers(box):
    tok = token(box)
    body = post(box, tok, voucher(box, "PRC-BILL-5")).json()
    answer = control(box, "POST", "jde/process")
    assert answer["journals"] == 0
    assert answer["vouchers"]["vouchers"] == 1 and answer["vouchers"]["pay_items"] == 2 and answer["vouchers"]["lines"] == 2
    ledger = control(box, "GET", "jde/F0411", params={"reference": "PRC-BILL-5"})
    assert [(r["RPSFX"], Decimal(r["RPAG"]), Decimal(r["RPAAP"])) for r in ledger] == [
        ("001", Decimal("250.00"), Decimal("250.00")), ("002", Decimal("100.10"), Decimal("100.10"))]
    assert ledger[0]["RPDOC"] == body["DocumentNumber"] and ledger[0]["RPICUT"] == "V"
    gl = control(box, "GET", "jde/F0911", params={"reference": "PRC-BILL-5"})
    assert len(gl) == 2 and {r["GLICUT"] for r in gl} == {"V"} and {r["GLDCT"] for r in gl} == {"PV"}
    assert {r["VLEDSP"] for r in control(box, "GET", "jde/F0411Z1")} == {"1"}
    assert {r["VNEDSP"] for r in control(box, "GET", "jde/F0911Z1")} == {"1"}
    purged = control(box, "POST", "jde/purge")
    assert purged["vouchers"] == {"vouchers": 1, "pay_items": 2, "lines": 2}
    assert control(box, "GET", "jde/F0411Z1") == [] and control(box, "GET", "jde/F0911Z1") == []
    assert len(control(box, "GET", "jde/F0411")) == 2
    # after the purge the reference is still found, in F0411
    again = post(box, tok, voucher(box, "PRC-BILL-5")).json()
    assert again["Existing"] is True and "F0411" in again["jde__simpleMessage"]
    assert again["DocumentNumber"] == body["DocumentNumber"]


def test_journals_and_vouchers_process_independently(box):
    tok = token(box)
    post(box, tok, voucher(box, "PRC-BILL-6"))
    journal = {"BatchReference": "EXP-6", "GLDate": "2026-11-20", "Currency": "USD",
               "Lines": [{"Account": "200.6110", "Amount": "10.00"}, {"Account": "100.2100", "Amount": "-10.00"}]}
    requests.post(url(box, "/jderest/v3/orchestrator/MLC_AddJournalBatch"), json=journal, headers=auth(tok), timeout=10)
    answer = control(box, "POST", "jde/process", json={"reference": "EXP-6"})
    assert answer["journals"] == 1 and answer["lines"] == 2 and "vouchers" not in answer
    assert {r["VLEDSP"] for r in control(box, "GET", "jde/F0411Z1")} == {"0"}


def test_an_account_missing_from_f0901_is_refused_naming_it_and_nothing_is_written(box):
    tok = token(box)
    response = post(box, tok, voucher(box, "PRC-BILL-7", items=[{"Amount": "40.00"}],
                                      lines=[{"Account": "4000.0.0", "Amount": "40.00"}]))
    assert response.status_code == 500
    body = response.json()
    assert body["status"] == "ERROR" and "Account 4000.0.0 is not in F0901" in body["userDefinedErrorText"]
    assert control(box, "GET", "jde/F0411Z1") == [] and control(box, "GET", "jde/F0911Z1") == []
    # once the account exists the same voucher posts
    control(box, "POST", "jde/accounts", json={"account": "4000.0.0"})
    assert post(box, tok, voucher(box, "PRC-BILL-7", items=[{"Amount": "40.00"}],
                                  lines=[{"Account": "4000.0.0", "Amount": "40.00"}])).status_code == 200


def test_other_refusals_name_the_problem(box):
    tok = token(box)
    cases = [
        (voucher(box, "PRC-BILL-8", Supplier=999999), "Supplier 999999 is not in F0401"),
        (voucher(box, "PRC-BILL-8", items=[{"Amount": "1.00"}]), "does not equal the gross amount"),
        (voucher(box, "PRC-BILL-8", items=[]), "has no pay items"),
        (voucher(box, "PRC-BILL-8", VoucherReference=""), "VoucherReference is required"),
        (voucher(box, "PRC-BILL-8", lines=[{"Account": "900.6110", "Amount": "350.10"}]), "inactive"),
    ]
    for body, words in cases:
        response = post(box, tok, body)
        assert response.status_code == 500 and words in response.json()["userDefinedErrorText"], response.text
    assert control(box, "GET", "jde/F0411Z1") == []


def test_a_444_in_the_middle_of_a_batch_refuses_that_call_only(box):
    tok = token(box)
    box.faults.add(system="jde", endpoint="orchestrator", action="status", status=444, after=1, count=1)
    answers = [post(box, tok, voucher(box, f"PRC-BILL-9{i}")) for i in range(3)]
    assert [a.status_code for a in answers] == [200, 444, 200]
    assert answers[1].json()["message"] == "Invalid Token"
    assert {r["VLEDTN"] for r in control(box, "GET", "jde/F0411Z1")} == {"PRC-BILL-90", "PRC-BILL-92"}


def test_voucher_orchestration_name_is_configurable_and_in_the_catalog(box):
    control(box, "POST", "config", json={"jde": {"voucher_orchestration": "ACME_APVoucher"}})
    tok = token(box)
    assert post(box, tok, voucher(box)).status_code == 404
    response = requests.post(url(box, "/jderest/v3/orchestrator/ACME_APVoucher"), json=voucher(box), headers=auth(tok),
                             timeout=10)
    assert response.status_code == 200, response.text
    paths = requests.get(url(box, "/jderest/v3/open-api-catalog3"), headers=auth(tok), timeout=10).json()["paths"]
    assert "/v3/orchestrator/ACME_APVoucher" in paths and "/v3/orchestrator/MLC_AddJournalBatch" in paths
