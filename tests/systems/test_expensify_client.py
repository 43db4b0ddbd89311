"""The Expensify client over real HTTP against the in-process sandbox."""

import datetime as dt
import json
import time
from types import SimpleNamespace

import pytest
import requests

from integrations.systems.errors import (
    AuthError,
    IntegrationError,
    NotFound,
    RateLimited,
    Unavailable,
    ValidationRejected,
)
from integrations.systems.expensify import EXPORT_TEMPLATE, ExpensifyClient
from sandbox import catalog
from tests.sandbox_fixtures import ANCHOR, sandbox_fixtures

pytestmark = pytest.mark.django_db  # the shared rate limiter lives in Django's cache (the database)

SINCE = ANCHOR - dt.timedelta(days=200)
FAST = {"rate_limit": [[1000, 1]], "backoff_max": 0.05, "download_poll_seconds": 0.01, "download_wait_seconds": 0.1}


server, box = sandbox_fixtures(systems=["expensify"], size=60, config={"expensify": {"rate_limit": [[1000, 1]]}})


def make_client(box, credentials=None, **options):
    connection = SimpleNamespace(base_url=box.system_url("expensify"),
                                 credentials=credentials or box.credentials()["expensify"],
                                 options={**FAST, **options})
    return ExpensifyClient(connection)


@pytest.fixture
def client(box):
    return make_client(box)


def source(box, *states):
    return [r for r in box.fakes["expensify"].reports.values() if not states or r["state"] in states]


def calls(box):
    return dict(box.calls["expensify"])


def test_export_normalizes_every_field_to_the_source_values(box, client):
    reports = client.export_reports(approved_after=SINCE)
    expected = {r["reportID"]: r for r in source(box, "APPROVED", "REIMBURSED")}
    assert {r["reportID"] for r in reports} == set(expected)
    assert calls(box) == {"file:combinedReportData": 1, "download": 1}
    gl = {name: code or "" for name, code in catalog.CATEGORIES.items()}
    for report in reports:
        src = expected[report["reportID"]]
        assert report["total"] == src["total"] and isinstance(report["total"], int)
        assert report["total"] == sum(t["convertedAmount"] for t in report["transactions"])
        assert report["approved"] == src["approved"].replace(" ", "T")
        assert report["created"] == src["created"].replace(" ", "T")
        assert (report["status"], report["currency"], report["policyID"], report["policyName"]) == \
            (src["status"], src["currency"], src["policyID"], src["policyName"])
        assert (report["accountEmail"], report["managerEmail"], report["reportName"]) == \
            (src["accountEmail"], src["managerEmail"], src["reportName"])
        assert len(report["transactions"]) == len(src["transactionList"])
        assert report["problems"] == []
        for txn, src_txn in zip(report["transactions"], src["transactionList"], strict=True):
            assert txn["transactionID"] == src_txn["transactionID"]
            for key in ("merchant", "amount", "convertedAmount", "currency", "category", "tag", "comment", "created",
                        "reimbursable", "cardID", "bank", "cardNumber", "mcc"):
                assert txn[key] == src_txn[key], key
            assert txn["categoryGlCode"] == gl[txn["category"]]
            assert isinstance(txn["amount"], int) and isinstance(txn["reimbursable"], bool)
    assert any(not t["reimbursable"] and t["cardNumber"].startswith("XXXX") for r in reports for t in r["transactions"])
    assert any(t["currency"] != r["currency"] for r in reports for t in r["transactions"])


def test_filters_limit_and_order(box, client):
    everything = client.export_reports(approved_after=SINCE)
    keys = [(r["approved"], int(r["reportID"])) for r in everything]
    assert keys == sorted(keys)  # the sandbox's default order; Expensify promises none
    assert [r["reportID"] for r in client.export_reports(approved_after=SINCE, limit=4)] == \
        [r["reportID"] for r in everything[:4]]
    cut = everything[len(everything) // 2]["approved"][:10]
    later = client.export_reports(approved_after=dt.date.fromisoformat(cut))
    assert later and all(r["approved"][:10] > cut for r in later)
    hq = catalog.POLICIES["HQ"][0]
    assert {r["policyID"] for r in client.export_reports(approved_after=SINCE, policy_ids=[hq])} == {hq}
    open_report = source(box, "OPEN")[0]["reportID"]
    assert client.export_reports(report_ids=[open_report]) == []  # default states are approved/reimbursed
    assert [r["reportID"] for r in client.export_reports(states=None, report_ids=[open_report], limit=1)] == [open_report]
    by_start = client.export_reports(start_date=SINCE, states=("SUBMITTED",))
    assert by_start and {r["status"] for r in by_start} == {"Processing"}


def test_nothing_to_ask_and_missing_filters(box, client):
    assert client.export_reports(report_ids=[]) == []
    with pytest.raises(ValueError):
        client.export_reports()
    assert calls(box) == {}


def test_mark_exported_pages_through_with_labels(box, client):
    page_size = 7
    seen = []
    while True:
        page = client.export_reports(approved_after=SINCE, exclude_label="fetched", limit=page_size)
        if not page:
            break
        seen.extend(r["reportID"] for r in page)
        client.mark_exported([r["reportID"] for r in page], "fetched")
    approved = {r["reportID"] for r in source(box, "APPROVED", "REIMBURSED")}
    assert sorted(seen) == sorted(approved) and len(seen) == len(set(seen))
    pages = -(-len(approved) // page_size)
    # per page: export + download + mark; then one empty export (its download still happens)
    assert calls(box) == {"file:combinedReportData": 2 * pages + 1, "download": pages + 1}
    assert all("fetched" in r["labels"] for r in source(box, "APPROVED", "REIMBURSED"))


def test_mark_exported_is_one_call_and_marks_any_state(box, client):
    ids = [source(box, "OPEN")[0]["reportID"], source(box, "APPROVED")[0]["reportID"]]
    client.mark_exported(ids, "ml-connector")
    assert calls(box) == {"file:combinedReportData": 1}
    assert all("ml-connector" in box.fakes["expensify"].reports[i]["labels"] for i in ids)
    client.mark_exported([], "ml-connector")
    assert calls(box) == {"file:combinedReportData": 1}


def test_policies(box, client):
    policies = client.list_policies()
    assert {p["name"] for p in policies} == set(catalog.POLICIES)
    info = client.get_policies([p["id"] for p in policies], fields=("categories", "tags", "employees"))
    for policy_id, _, _ in catalog.POLICIES.values():
        detail = info[policy_id]
        assert {c["name"]: c["glCode"] for c in detail["categories"]} == {k: v or "" for k, v in catalog.CATEGORIES.items()}
        assert [lvl["name"] for lvl in detail["tags"]] == list(catalog.TAG_LEVELS)
        assert detail["employees"]
    assert client.get_policies([]) == {}
    with pytest.raises(NotFound) as err:
        client.get_policies(["0000DEADBEEF0000"])
    assert err.value.code == "EXPENSIFY-NOT-FOUND"


def test_flat_tags_become_one_level(box, client):
    hq = catalog.POLICIES["HQ"][0]
    box.fakes["expensify"].policies[hq]["tags"] = [{"name": "CC10", "glCode": "", "enabled": True}]
    assert client.get_policies([hq], fields=("tags",))[hq]["tags"] == [
        {"name": "Tag", "tags": [{"name": "CC10", "glCode": "", "enabled": True}]}]


def test_update_employees(box, client):
    hq = catalog.POLICIES["HQ"][0]
    approver = box.fakes["expensify"].policies[hq]["approver"]
    record = {"employeeEmail": "river.song@demo.example", "managerEmail": approver, "employeeID": "E7777",
              "policyID": hq, "firstName": "River", "lastName": "Song"}
    assert client.update_employees([record], dry_run=True)["added"] == 1
    assert "river.song@demo.example" not in {e["email"] for e in box.fakes["expensify"].policies[hq]["employees"]}
    answer = client.update_employees([record])
    assert answer["responseCode"] == 200 and answer["added"] == 1
    assert "river.song@demo.example" in {e["email"] for e in box.fakes["expensify"].policies[hq]["employees"]}
    with pytest.raises(ValidationRejected) as err:
        client.update_employees([{"employeeEmail": "x@demo.example"}])
    assert "managerEmail" in err.value.message


def _assert_secret_hidden(exc, secret):
    for text in (str(exc), exc.message, exc.help, repr(exc), repr(exc.args)):
        assert secret not in text


def test_bad_credentials_are_an_actionable_auth_error(box):
    creds = dict(box.credentials()["expensify"], partnerUserSecret="not-the-secret-123")
    client = make_client(box, credentials=creds)
    with pytest.raises(AuthError) as err:
        client.list_policies()
    assert err.value.code == "EXPENSIFY-AUTH"
    assert "aa_api_demo_example" in err.value.message and "partnerUserSecret" in err.value.help
    _assert_secret_hidden(err.value, "not-the-secret-123")
    assert calls(box) == {"get:policyList": 1}  # not retried
    assert "not-the-secret-123" not in repr(client)
    box.config["expensify"]["auth_error_http_status"] = 401
    with pytest.raises(AuthError):
        client.export_reports(approved_after=SINCE)


def test_missing_credentials_fail_before_any_call(box):
    with pytest.raises(AuthError) as err:
        make_client(box, credentials={"partnerUserID": "x"})
    assert err.value.code == "EXPENSIFY-AUTH-MISSING"


def test_a_server_message_echoing_the_secret_is_scrubbed(box, client):
    secret = box.credentials()["expensify"]["partnerUserSecret"]
    error = client._error(500, f"Not authorized to authenticate as user with secret {secret}", 200, None, True)
    assert isinstance(error, AuthError)
    _assert_secret_hidden(error, secret)


def test_http_429_with_retry_after_is_waited_out(box):
    client = make_client(box, backoff_max=30)  # the base caps any wait at backoff_max
    box.faults.add(system="expensify", endpoint="*", action="status", status=429, retry_after=1, count=1)
    start = time.perf_counter()
    policies = client.list_policies()
    assert len(policies) == 3
    assert time.perf_counter() - start >= 0.9
    assert calls(box) == {"get:policyList": 2}


def test_vendor_rate_limit_body_code_is_rate_limited(box):
    box.config["expensify"]["rate_limit"] = [[1, 1]]
    box.config["expensify"]["rate_limit_http_status"] = 200  # the body code alone says so
    client = make_client(box, rate_limit=[], max_attempts=1)
    client.list_policies()
    with pytest.raises(RateLimited) as err:
        client.list_policies()
    assert err.value.retry_after == 1 and err.value.code == "EXPENSIFY-RATE-LIMITED"
    retrying = make_client(box, rate_limit=[], backoff_max=30)
    time.sleep(1.05)
    retrying.list_policies()
    retrying.list_policies()  # refused once, waits Retry-After (1 s), then succeeds
    assert calls(box)["get:policyList"] == 5


def test_the_shared_limiter_keeps_calls_under_the_vendor_limit(box):
    box.config["expensify"]["rate_limit"] = [[2, 1]]
    first = make_client(box, rate_limit=[[2, 1]])
    second = make_client(box, rate_limit=[[2, 1]])  # another worker on the same credential
    start = time.perf_counter()
    for client in (first, second, first, second, first):
        client.list_policies()
    assert time.perf_counter() - start >= 2.0
    assert calls(box) == {"get:policyList": 5}  # none refused: nothing was retried


def test_a_call_given_up_on_still_counts_in_the_vendors_window(box):
    """A read that timed out can still reach Expensify after the client stopped waiting (here 0.15 s later, as
    behind a slow proxy): the shared limiter dates it a read timeout later, so the next call stays outside the
    vendor's window instead of being refused."""
    box.config["expensify"]["rate_limit"] = [[1, 1]]
    client = make_client(box, rate_limit=[[1, 1]], timeouts=[1, 0.3], max_attempts=1)
    box.faults.add(system="expensify", endpoint="*", action="latency", latency_ms=450, count=1)
    with pytest.raises(Unavailable):
        client.list_policies()
    client.list_policies()
    assert box.fakes["expensify"].rate_limited == 0
    assert calls(box) == {"get:policyList": 2}


def test_5xx_on_download_is_retried_then_gives_up(box, client):
    box.faults.add(system="expensify", endpoint="download", action="status", status=500, count=2)
    assert client.export_reports(approved_after=SINCE)
    assert calls(box) == {"file:combinedReportData": 1, "download": 3}
    box.faults.clear()
    box.calls.reset()
    box.faults.add(system="expensify", endpoint="download", action="status", status=503)
    with pytest.raises(Unavailable):
        make_client(box, max_attempts=3).export_reports(approved_after=SINCE)
    assert calls(box) == {"file:combinedReportData": 1, "download": 3}


def test_dropped_connection_on_a_read_is_retried(box, client):
    box.faults.add(system="expensify", endpoint="file:combinedReportData", action="drop_before", count=1)
    assert client.export_reports(approved_after=SINCE)
    assert calls(box) == {"file:combinedReportData": 2, "download": 1}


def test_validation_errors_are_not_retried(box, client):
    with pytest.raises(ValidationRejected) as err:
        client.export_reports(start_date=ANCHOR - dt.timedelta(days=500))
    assert "endDate" in err.value.message and err.value.code == "EXPENSIFY-410"
    assert calls(box) == {"file:combinedReportData": 1}


def test_template_errors_are_reported_not_retried(box, client, monkeypatch):
    import integrations.systems.expensify as module

    monkeypatch.setattr(module, "EXPORT_TEMPLATE", EXPORT_TEMPLATE.replace("?string(\"true\",\"false\")", ""))
    with pytest.raises(IntegrationError) as err:
        client.export_reports(approved_after=SINCE)
    assert err.value.code == "EXPENSIFY-TEMPLATE" and "boolean" in err.value.message
    assert calls(box) == {"file:combinedReportData": 1}


def test_unknown_download_ends_as_not_ready_after_polling(box, client):
    # Expensify answers a file it has not written yet like an unknown one: the client cannot tell them apart.
    with pytest.raises(Unavailable) as err:
        client._download_json("exportmissing.json")
    assert err.value.code == "EXPENSIFY-FILE-NOT-READY"
    assert calls(box)["download"] >= 3


# ---------------------------------------------------------------- a file that is not ready yet
def sandbox_config(box, **values):
    assert requests.post(f"{box.url}/_sandbox/config", json={"expensify": values}, timeout=5).status_code == 200


def test_download_waits_for_a_file_that_is_not_ready(box):
    sandbox_config(box, file_ready_delay_seconds=0.3)
    client = make_client(box, download_wait_seconds=3, download_poll_seconds=0.05)
    start = time.perf_counter()
    reports = client.export_reports(approved_after=SINCE)
    assert reports and time.perf_counter() - start >= 0.3
    # Pauses of 0.05, 0.075, 0.11, 0.17 s...: a few polls, not one every 50 ms.
    assert 3 <= calls(box)["download"] <= 6
    assert calls(box)["file:combinedReportData"] == 1


def test_download_gives_up_as_not_ready_after_the_wait(box):
    sandbox_config(box, file_ready_delay_seconds=30)
    client = make_client(box, download_wait_seconds=0.3, download_poll_seconds=0.05)
    start = time.perf_counter()
    with pytest.raises(Unavailable) as err:
        client.export_reports(approved_after=SINCE)
    elapsed = time.perf_counter() - start
    assert err.value.code == "EXPENSIFY-FILE-NOT-READY" and err.value.retryable
    assert 0.3 <= elapsed < 2
    # 0.05 + 0.075 + 0.1125 + what is left of 0.3: five polls; a fixed 50 ms pause would make seven.
    assert 3 <= calls(box)["download"] <= 5
    assert calls(box)["file:combinedReportData"] == 1


def test_download_wait_defaults_follow_expensifys_script(box):
    connection = SimpleNamespace(base_url=box.system_url("expensify"), credentials=box.credentials()["expensify"],
                                 options={})
    client = ExpensifyClient(connection)
    assert (client.download_wait_seconds, client.download_poll_seconds) == (150.0, 1.0)


# ---------------------------------------------------------------- order and late marks
def test_reports_come_back_in_the_files_order(box, client):
    sandbox_config(box, export_order="random")
    reports = client.export_reports(approved_after=SINCE)
    name = requests.get(f"{box.url}/_sandbox/expensify/files", timeout=5).json()[-1]["name"]
    in_file = [row["reportID"] for row in json.loads(requests.get(f"{box.url}/_sandbox/expensify/files/{name}",
                                                                  timeout=5).content)]
    assert [r["reportID"] for r in reports] == in_file
    assert in_file != sorted(in_file, key=lambda i: (box.fakes["expensify"].reports[i]["approved"], int(i)))


def test_a_late_mark_offers_the_same_page_again(box, client):
    # The engine, not the client, copes with this: the client just reports what Expensify says.
    sandbox_config(box, mark_delay_seconds=0.3)
    page = client.export_reports(approved_after=SINCE, exclude_label="fetched", limit=5)
    client.mark_exported([r["reportID"] for r in page], "fetched")
    again = client.export_reports(approved_after=SINCE, exclude_label="fetched", limit=5)
    assert [r["reportID"] for r in again] == [r["reportID"] for r in page]
    time.sleep(0.35)
    after = client.export_reports(approved_after=SINCE, exclude_label="fetched", limit=5)
    assert not {r["reportID"] for r in after} & {r["reportID"] for r in page}


# ---------------------------------------------------------------- bad content in one report
def corrupt(box, report_id, body):
    response = requests.post(f"{box.url}/_sandbox/expensify/reports/{report_id}", json=body, timeout=5)
    assert response.status_code == 200, response.text


def first_txn(box, report_id):
    return box.fakes["expensify"].reports[report_id]["transactionList"][0]["transactionID"]


BAD_CASES = {
    # name: (control body, with {txn} for the first expense's id) -> expected problems and values
    "non_numeric_amount": ({"set_transaction": {"amount": "abc"}},
                           ["expense {txn}: amount 'abc' is not integer cents"], ("txn", "amount", "abc")),
    "missing_amount": ({"set_transaction": {"amount": None}}, ["expense {txn}: amount is missing"], ("txn", "amount", None)),
    "bool_amount": ({"set_transaction": {"convertedAmount": True}},
                    ["expense {txn}: convertedAmount true is not integer cents"], ("txn", "convertedAmount", True)),
    "fractional_amount": ({"set_transaction": {"amount": 12.5}}, ["expense {txn}: amount 12.5 is not integer cents"],
                          ("txn", "amount", 12.5)),
    "huge_total": ({"set_report": {"total": 10**30}},
                   ["total 1000000000000000000000000000000 is out of range (more than 2^53 - 1 cents)"],
                   ("report", "total", "1000000000000000000000000000000")),
    "missing_currency": ({"set_report": {"currency": None}}, ["currency is missing"], ("report", "currency", "")),
    "currency_not_a_code": ({"set_transaction": {"currency": "US$"}},
                            ["expense {txn}: currency 'US$' is not a 3-letter currency code"], ("txn", "currency", "US$")),
    "numeric_currency": ({"set_report": {"currency": 840}}, ["currency 840 is not a 3-letter currency code"],
                         ("report", "currency", 840)),
    "object_total": ({"set_report": {"total": {"value": 1}}},
                     ["total '(not a scalar value)' is not integer cents"], ("report", "total", "(not a scalar value)")),
    "bad_date": ({"set_report": {"approved": "last Tuesday"}}, ["approved 'last Tuesday' is not a date"],
                 ("report", "approved", "last Tuesday")),
    "reimbursable_text": ({"set_transaction": {"reimbursable": "yes"}},
                          ["expense {txn}: reimbursable 'yes' is not true or false"], ("txn", "reimbursable", "yes")),
    "expense_without_id": ({"add_transaction": {"transactionID": None, "merchant": "x", "amount": 5, "convertedAmount": 5,
                                                "currency": "USD", "reimbursable": True}},
                           ["expense #{last}: transactionID is missing"], None),
    "nul_in_merchant": ({"set_transaction": {"merchant": "Caf\u0000\u001fe"}}, [], ("txn", "merchant", "Caf\u0000\u001fe")),
    "number_as_text": ({"set_transaction": {"merchant": 4711, "comment": False}}, [], ("txn", "merchant", "4711")),
    "lines_do_not_add_up": ({"set_report": {"total": 1}}, [], ("report", "total", 1)),  # the engine's check, not ours
}


def test_bad_reports_carry_problems_and_the_rest_of_the_export_is_normal(box, client):
    approved = [r["reportID"] for r in source(box, "APPROVED", "REIMBURSED")]
    cases = dict(zip(approved, BAD_CASES.items(), strict=False))
    for rid, (_, (body, _, _)) in cases.items():
        key = next(iter(body))
        if key == "set_transaction":
            body = {key: dict(body[key], transactionID=first_txn(box, rid))}
        corrupt(box, rid, body)
    reports = {r["reportID"]: r for r in client.export_reports(approved_after=SINCE)}
    assert set(reports) == set(approved)
    for rid, (name, (_, expected, value)) in cases.items():
        report = reports[rid]
        last = len(box.fakes["expensify"].reports[rid]["transactionList"])
        assert report["problems"] == [p.format(txn=first_txn(box, rid), last=last) for p in expected], name
        if value is not None:
            where, field, raw = value
            holder = report["transactions"][0] if where == "txn" else report
            assert holder[field] == raw and type(holder[field]) is type(raw), name
        assert json.loads(json.dumps(report, allow_nan=False)) == report, name  # JSON-safe, NUL included
    for rid in set(approved) - set(cases):
        assert reports[rid]["problems"] == []
        assert reports[rid]["total"] == sum(t["convertedAmount"] for t in reports[rid]["transactions"])


def test_several_problems_in_one_report_are_all_listed(box, client):
    rid = source(box, "APPROVED")[0]["reportID"]
    txn = first_txn(box, rid)
    corrupt(box, rid, {"set_report": {"total": "n/a", "currency": "eur"},
                       "set_transaction": {"transactionID": txn, "amount": None, "currency": None}})
    report = client.export_reports(report_ids=[rid])[0]
    assert report["problems"] == ["currency 'eur' is not a 3-letter currency code", "total 'n/a' is not integer cents",
                                  f"expense {txn}: amount is missing", f"expense {txn}: currency is missing"]


def test_a_report_without_id_is_skipped_and_counted(box, client, caplog):
    first, second = [r["reportID"] for r in source(box, "APPROVED")[:2]]
    corrupt(box, first, {"set_report": {"reportID": None}})
    reports = client.export_reports(report_ids=[first, second])
    assert [r["reportID"] for r in reports] == [second] and reports[0]["problems"] == []
    assert client.skipped_without_id == 1
    assert "skipped 1 report(s) without a reportID" in caplog.text
    client.export_reports(report_ids=[second])
    assert client.skipped_without_id == 0


def test_an_export_that_is_not_an_array_still_fails_whole(box, client, monkeypatch):
    import integrations.systems.expensify as module

    monkeypatch.setattr(module, "EXPORT_TEMPLATE", '{"reports": ${reports?size}}')
    with pytest.raises(IntegrationError) as err:
        client.export_reports(approved_after=SINCE)
    assert err.value.code == "EXPENSIFY-BAD-EXPORT"
    monkeypatch.setattr(module, "EXPORT_TEMPLATE", "[<#list reports as r>x</#list>")  # not JSON at all
    with pytest.raises(IntegrationError) as err:
        client.export_reports(approved_after=SINCE)
    assert err.value.code == "EXPENSIFY-BAD-EXPORT"
