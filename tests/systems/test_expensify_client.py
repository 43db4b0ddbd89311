"""The Expensify client over real HTTP against the in-process sandbox."""

import datetime as dt
import time
from types import SimpleNamespace

import pytest

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
FAST = {"rate_limit": [[1000, 1]], "backoff_max": 0.05, "download_poll_seconds": 0.01}


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
    assert keys == sorted(keys)
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


def test_unknown_download_is_not_found_after_polling(box, client):
    with pytest.raises(NotFound):
        client._download_json("exportmissing.json")
    assert calls(box) == {"download": 3}
