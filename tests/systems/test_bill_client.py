"""The BILL client over real HTTP against the in-process sandbox: sessions, limits, records, webhooks."""

import datetime as dt
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from integrations.systems.bill import BillClient, BillLine, clear_session_cache, verify_signature
from integrations.systems.errors import AuthError, RateLimited, ValidationRejected
from tests.sandbox.test_bill_fake import Receiver
from tests.sandbox_fixtures import sandbox_fixtures
from tests.systems.test_concurrency_limit import ROOT, sqlite_file, worker_env  # noqa: F401 - fixtures

server, box = sandbox_fixtures(
    systems=["bill"], size=40, around=clear_session_cache, config={"bill": {"webhook_backoff_initial": 0.01}}
)


def connection(box, credentials=None, **options):
    return SimpleNamespace(
        base_url=box.system_url("bill") + "/connect",
        credentials=credentials or box.credentials()["bill"],
        options={"backoff_max": 0.05, **options},
    )


def make_client(box, **kwargs):
    return BillClient(connection(box, **kwargs))


def calls(box, endpoint):
    return box.calls["bill"][endpoint]


def sandbox(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


# -- sessions ---------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_one_login_serves_every_call_of_the_organization(box):
    first, second = make_client(box), make_client(box)
    first.vendors()
    second.chart_of_accounts()
    first.departments()
    assert calls(box, "login") == 1


@pytest.mark.django_db
def test_a_silently_expired_session_is_re_established_once_and_the_call_goes_through(box):
    client = make_client(box)
    client.vendors()
    box.advance(36 * 60)  # idle on the server's clock; the client does not know
    assert client.departments()
    assert calls(box, "login") == 2 and calls(box, "classifications:list") == 2  # refused once, sent again


@pytest.mark.django_db
def test_a_session_refused_twice_in_a_row_is_an_auth_error(box):
    client = make_client(box)
    sandbox(box, "POST", "faults", json={"system": "bill", "endpoint": "payments:list", "status": 401, "count": 2})
    with pytest.raises(AuthError) as caught:
        client.payments()
    assert caught.value.code == "BILL-SESSION" and calls(box, "login") == 2


@pytest.mark.django_db
def test_a_wrong_password_is_bill_auth_and_is_not_echoed(box):
    creds = {**box.credentials()["bill"], "password": "not-the-password"}
    with pytest.raises(AuthError) as caught:
        make_client(box, credentials=creds).vendors()
    assert caught.value.code == "BILL-AUTH" and "not-the-password" not in str(caught.value)


# -- limits -------------------------------------------------------------------------------------------------------
def _hammer(box, client, threads=8, calls_each=4):
    def one(_):
        for _ in range(calls_each):
            client.call("GET", "/v3/vendors", idempotent=True, params={"max": 1})

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(threads)))
    return sandbox(box, "GET", "bill/stats")


@pytest.mark.django_db(transaction=True)
def test_eight_threads_never_have_more_than_three_calls_in_flight(box):
    box.config["bill"]["latency_ms"] = 40
    stats = _hammer(box, make_client(box))
    assert stats["refused_1322"] == 0 and stats["peak_in_flight"] == 3


@pytest.mark.django_db(transaction=True)
def test_the_fake_sees_overruns_when_the_client_allows_more_than_three(box, monkeypatch):
    """The control for the test above: the fake's count is real (the portal's ceiling of 3 lifted for this test)."""
    from integrations.systems import registry

    monkeypatch.delitem(registry.MAX_CONCURRENCY, "bill")
    box.config["bill"]["latency_ms"] = 40
    try:
        stats = _hammer(box, make_client(box, concurrency=8, max_attempts=10))
    except RateLimited:
        stats = sandbox(box, "GET", "bill/stats")
    assert stats["refused_1322"] > 0


def test_two_processes_with_four_threads_each_get_no_bdc_1322(box, worker_env):  # noqa: F811 - a fixture
    box.config["bill"]["latency_ms"] = 40
    spec = {
        "base_url": box.system_url("bill") + "/connect",
        "credentials": box.credentials()["bill"],
        "options": {"backoff_max": 0.05},
        "threads": 4,
        "calls": 6,
    }
    args = [sys.executable, "-m", "tests.systems.bill_worker", json.dumps(spec)]
    workers = [
        subprocess.Popen(args, cwd=ROOT, env=worker_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    assert [w.stdout.readline().strip() for w in workers] == ["ready", "ready"]
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    results = []
    for w in workers:
        out, _ = w.communicate(timeout=120)
        assert w.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    stats = sandbox(box, "GET", "bill/stats")
    assert stats["refused_1322"] == 0 and stats["peak_in_flight"] == 3
    assert calls(box, "vendors:list") == 48 and sum(r["calls"] for r in results) == 48 + 2  # two logins


@pytest.mark.django_db
def test_bdc_1322_and_1144_are_retried_with_backoff_honouring_retry_after(box):
    client = make_client(box, backoff_max=2)
    client.vendors()
    sandbox(
        box, "POST", "faults", json={"system": "bill", "endpoint": "vendors:list", "status": 429, "count": 2, "retry_after": 0.3}
    )
    started = time.monotonic()
    assert client.vendors()
    assert time.monotonic() - started >= 0.6 and calls(box, "vendors:list") == 4
    box.config["bill"]["requests_per_hour"] = 1  # every call from now on is over the hour's limit
    with pytest.raises(RateLimited) as caught:
        make_client(box, backoff_max=0.01, max_attempts=3).vendors()
    assert caught.value.code == "BILL-1144"


# -- records ----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_vendors_are_found_by_name_and_tax_id_and_created_with_one(box):
    client = make_client(box)
    known = client.vendors()[2]
    assert [v.id for v in client.find_vendors(name=known.name)] == [known.id]
    assert [v.id for v in client.find_vendors(tax_id=known.tax_id)] == [known.id]
    made = client.create_vendor("Brand New Supply", tax_id="12-3456789", email="ap@brandnew.example")
    assert made.id.startswith("009") and client.find_vendors(tax_id="12-3456789")[0].id == made.id
    assert client.update_vendor(made.id, email="pay@brandnew.example").email == "pay@brandnew.example"


@pytest.mark.django_db
def test_a_bill_with_decimal_lines_is_created_and_found_by_invoice_number(box):
    client = make_client(box)
    vendor = client.vendors()[0]
    account = next(c for c in client.chart_of_accounts() if c.number == "6300")
    department = next(d for d in client.departments() if d.number == "100")
    lines = [BillLine(Decimal("228.99"), account.id, department.id, "licences"), BillLine(Decimal("0.01"), account.id)]
    bill = client.create_bill(vendor.id, "JDE-INV-77", dt.date(2026, 11, 2), dt.date(2026, 12, 2), lines)
    assert bill.id.startswith("00n") and bill.amount == Decimal("229.00") and bill.lines[0].amount == Decimal("228.99")
    assert [b.id for b in client.find_bills("JDE-INV-77")] == [bill.id]
    with pytest.raises(ValidationRejected):
        client.create_bill(
            vendor.id, "JDE-INV-78", dt.date(2026, 11, 2), dt.date(2026, 12, 2), [BillLine(Decimal("1.005"), account.id)]
        )


@pytest.mark.django_db
def test_payments_since_and_get(box):
    client = make_client(box)
    bill = next(b for b in client.bills() if b.payment_status == "UNPAID")
    made = sandbox(box, "POST", "bill/payments", json={"billId": bill.id})
    recent = client.payments(updated_since=made["updatedTime"])
    assert [p.id for p in recent] == [made["id"]]
    assert client.payment(made["id"]).amount == bill.amount


@pytest.mark.django_db
def test_subscription_create_and_rotate_with_signatures_verified(box):
    hook = Receiver()
    try:
        client = make_client(box)
        sub = client.create_subscription("portal", hook.url, ["bill.created"])
        assert sub.security_key and client.subscriptions()[0].security_key == ""
        vendor = client.vendors()[0]
        client.create_bill(vendor.id, "HOOK-1", dt.date(2026, 11, 2), dt.date(2026, 12, 2), [BillLine(Decimal("5"))])
        raw, signature = hook.wait_for(1)[0]
        assert verify_signature(raw, signature, sub.security_key)
        assert not verify_signature(raw + b" ", signature, sub.security_key)
        new_key = client.rotate_security_key(sub.id)
        client.create_bill(vendor.id, "HOOK-2", dt.date(2026, 11, 2), dt.date(2026, 12, 2), [BillLine(Decimal("5"))])
        raw, signature = hook.wait_for(2)[1]
        assert verify_signature(raw, signature, new_key) and not verify_signature(raw, signature, sub.security_key)
    finally:
        hook.shutdown()
        hook.server_close()
