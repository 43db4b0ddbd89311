"""The fake BILL v3 API over real loopback HTTP (no Django), as a client written from BILL's docs sees it."""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.sandbox_fixtures import sandbox_fixtures

server, box = sandbox_fixtures(systems=["bill"], size=40, config={"bill": {"webhook_backoff_initial": 0.01}})


def url(box, path):
    return box.system_url("bill") + path


def control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def login(box, **overrides):
    c = box.credentials()["bill"]
    body = {
        "username": c["username"],
        "password": c["password"],
        "organizationId": c["org_id"],
        "devKey": c["dev_key"],
        **overrides,
    }
    return requests.post(url(box, "/connect/v3/login"), json=body, timeout=10)


def headers(box):
    return {"devKey": box.credentials()["bill"]["dev_key"], "sessionId": login(box).json()["sessionId"]}


def code_of(response):
    body = response.json()
    assert isinstance(body, list) and body[0]["severity"] == "ERROR" and body[0]["timestamp"]
    return body[0]["code"]


# -- login and sessions --------------------------------------------------------------------------------------
def test_login_answers_a_session_for_the_organization(box):
    answer = login(box)
    assert answer.status_code == 200
    body = answer.json()
    assert body["sessionId"] and body["organizationId"].startswith("008") and body["userId"].startswith("006")


@pytest.mark.parametrize("override, code", [({"password": "nope"}, "BDC_1101"), ({"devKey": "nope"}, "BDC_1102")])
def test_login_errors_are_bdc_arrays(box, override, code):
    answer = login(box, **override)
    assert answer.status_code == 401 and code_of(answer) == code


def test_session_expires_silently_after_35_idle_minutes_and_each_call_resets_the_timer(box):
    h = headers(box)
    for _ in range(3):
        box.advance(35 * 60 - 1)
        assert requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10).status_code == 200
    box.advance(35 * 60 + 1)
    expired = requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10)
    assert expired.status_code == 401 and code_of(expired) == "BDC_1109"
    assert "Please log in" in expired.json()[0]["message"]


def test_unknown_api_is_bdc_1121(box):
    answer = requests.get(url(box, "/connect/v3/no-such-thing"), headers=headers(box), timeout=10)
    assert answer.status_code == 404 and code_of(answer) == "BDC_1121"


# -- limits ----------------------------------------------------------------------------------------------------
def test_a_fourth_call_in_flight_is_refused_with_bdc_1322_and_counted(box):
    h = headers(box)
    box.config["bill"]["latency_ms"] = 400
    start = threading.Barrier(4)
    answers = []

    def one():
        start.wait()
        answers.append(requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [a for a in answers if a.status_code != 200]
    assert len(refused) == 1 and code_of(refused[0]) == "BDC_1322"
    stats = control(box, "GET", "bill/stats")
    assert stats["refused_1322"] == 1 and stats["peak_in_flight"] == 3 and stats["in_flight"] == 0
    assert requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10).status_code == 200


def test_the_hourly_limit_answers_bdc_1144_until_the_next_clock_hour(box):
    h = headers(box)
    box.config["bill"]["requests_per_hour"] = 5
    box.advance(3600 - box.clock() % 3600 + 1)  # the start of a clock hour
    h = headers(box)  # one request of the five
    statuses = [requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10) for _ in range(5)]
    assert [s.status_code for s in statuses[:4]] == [200] * 4
    assert statuses[4].status_code == 429 and code_of(statuses[4]) == "BDC_1144"
    assert "20000" not in statuses[4].json()[0]["message"] and "5" in statuses[4].json()[0]["message"]
    box.advance(3600)
    assert requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10).status_code == 401  # idle too long
    assert requests.get(url(box, "/connect/v3/vendors"), headers=headers(box), timeout=10).status_code == 200


# -- lists -----------------------------------------------------------------------------------------------------
def test_max_and_next_page_walk_every_vendor_once(box):
    h = headers(box)
    seen, params = [], {"max": 3}
    while True:
        body = requests.get(url(box, "/connect/v3/vendors"), headers=h, params=params, timeout=10).json()
        seen += [v["id"] for v in body["results"]]
        if not body.get("nextPage"):
            break
        params = {"max": 3, "page": body["nextPage"]}
    everything = control(box, "GET", "bill/vendors")
    assert sorted(seen) == sorted(v["id"] for v in everything) and len(seen) == len(set(seen))
    assert all(v.startswith("009") and len(v) == 20 for v in seen)


def test_a_write_between_pages_shows_on_the_next_page(box):
    # The fake keeps a list's matched and sorted rows between pages; a write in between must not be hidden by that.
    h = headers(box)
    everything = sorted((v for v in control(box, "GET", "bill/vendors") if not v["archived"]), key=lambda v: v["name"])
    params = {"filters": 'archived:eq:false', "sort": "name:asc", "max": 2}
    first = requests.get(url(box, "/connect/v3/vendors"), headers=h, params=params, timeout=10).json()
    shown = [v["id"] for v in first["results"]]
    later = everything[2]
    assert requests.post(url(box, f"/connect/v3/vendors/{later['id']}/archive"), headers=h, timeout=10).status_code == 200
    renamed = requests.patch(url(box, f"/connect/v3/vendors/{everything[-1]['id']}"), headers=h, timeout=10,
                             json={"name": "AAA first by name"})
    assert renamed.status_code == 200
    second = requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10,
                          params={**params, "page": first["nextPage"]}).json()
    ids = [v["id"] for v in second["results"]]
    assert later["id"] not in ids  # archived after page 1: filtered out of page 2
    assert ids[0] == shown[1]  # the renamed vendor sorts first now: page 2 starts with page 1's last row
    # and the same query again, with nothing written since, answers the same rows
    again = requests.get(url(box, "/connect/v3/vendors"), headers=h, timeout=10,
                         params={**params, "page": first["nextPage"]}).json()
    assert [v["id"] for v in again["results"]] == ids


def test_filters_and_sort_on_updated_time(box):
    h = headers(box)
    bills = control(box, "GET", "bill/bills")
    cutoff = sorted(b["updatedTime"] for b in bills)[len(bills) // 2]
    params = {"filters": f'updatedTime:gte:"{cutoff}"', "sort": "updatedTime:asc", "max": 100}
    rows = requests.get(url(box, "/connect/v3/bills"), headers=h, params=params, timeout=10).json()["results"]
    assert rows and [r["updatedTime"] for r in rows] == sorted(r["updatedTime"] for r in rows)
    assert len(rows) == sum(1 for b in bills if b["updatedTime"] >= cutoff)
    bad = requests.get(url(box, "/connect/v3/bills"), headers=h, params={"filters": "updatedTime:after:x"}, timeout=10)
    assert bad.status_code == 400 and isinstance(bad.json(), list)


# -- bills ---------------------------------------------------------------------------------------------------
def bill_body(box, invoice="INV-9001", amounts=(228.99, 100.01)):
    vendor = control(box, "GET", "bill/vendors")[0]
    coa = next(c for c in control(box, "GET", "bill/chart_of_accounts") if c["accountNumber"] == "6200")
    dept = next(d for d in control(box, "GET", "bill/departments") if not d["archived"])
    return {
        "vendorId": vendor["id"],
        "dueDate": "2026-12-31",
        "invoice": {"invoiceNumber": invoice, "invoiceDate": "2026-11-15"},
        "billLineItems": [
            {"amount": a, "description": "parts", "classifications": {"chartOfAccountId": coa["id"], "departmentId": dept["id"]}}
            for a in amounts
        ],
    }


def test_a_bill_is_created_in_currency_units_and_found_by_invoice_number(box):
    h = headers(box)
    created = requests.post(url(box, "/connect/v3/bills"), json=bill_body(box), headers=h, timeout=10)
    assert created.status_code == 200
    bill = created.json()
    assert bill["id"].startswith("00n") and bill["amount"] == 329.0 and bill["paymentStatus"] == "UNPAID"
    found = requests.get(
        url(box, "/connect/v3/bills"), headers=h, timeout=10, params={"filters": 'invoice.invoiceNumber:eq:"INV-9001"'}
    ).json()["results"]
    assert [b["id"] for b in found] == [bill["id"]]
    again = requests.post(url(box, "/connect/v3/bills"), json=bill_body(box), headers=h, timeout=10)
    assert again.status_code == 400 and "already exists" in again.json()[0]["message"]


def test_bills_are_listed_by_invoice_numbers_in_a_set_and_a_changed_number_is_found_under_the_new_one(box):
    h = headers(box)

    def numbered(filters):
        answer = requests.get(url(box, "/connect/v3/bills"), headers=h, timeout=10, params={"filters": filters, "max": 100})
        return sorted(b["invoice"]["invoiceNumber"] for b in answer.json()["results"])

    for number in ("INV-A", "INV-B", "INV-C"):
        assert requests.post(url(box, "/connect/v3/bills"), json=bill_body(box, number), headers=h, timeout=10).ok
    assert numbered('invoice.invoiceNumber:in:"INV-A,INV-C,INV-NONE"') == ["INV-A", "INV-C"]  # the documented form
    assert numbered('invoice.invoiceNumber:in:"INV-B"|"INV-C"') == ["INV-B", "INV-C"]
    assert "INV-A" not in numbered('invoice.invoiceNumber:nin:"INV-A,INV-B"')
    # A number changed in place moves in the fake's indexes: listed and refused as a duplicate under the new one.
    bill_a = next(b for b in control(box, "GET", "bill/bills") if b["invoice"]["invoiceNumber"] == "INV-A")
    invoice = {"invoiceNumber": "INV-D", "invoiceDate": "2026-11-15"}
    assert requests.patch(url(box, f"/connect/v3/bills/{bill_a['id']}"), json={"invoice": invoice}, headers=h, timeout=10).ok
    assert numbered('invoice.invoiceNumber:in:"INV-A,INV-D"') == ["INV-D"]
    again = requests.post(url(box, "/connect/v3/bills"), json=bill_body(box, "INV-D"), headers=h, timeout=10)
    assert again.status_code == 400 and "already exists" in again.json()[0]["message"]
    assert requests.post(url(box, "/connect/v3/bills"), json=bill_body(box, "INV-A"), headers=h, timeout=10).ok


@pytest.mark.parametrize("change", [{"chartOfAccountId": "0ca01NOPE"}, {"amount": "12.00"}, {"amount": 1.005}])
def test_a_bill_line_with_an_unknown_account_or_a_bad_amount_is_refused(box, change):
    body = bill_body(box, invoice="INV-BAD")
    line = body["billLineItems"][0]
    if "amount" in change:
        line["amount"] = change["amount"]
    else:
        line["classifications"].update(change)
    answer = requests.post(url(box, "/connect/v3/bills"), json=body, headers=headers(box), timeout=10)
    assert answer.status_code == 400 and code_of(answer).startswith("BDC_")


# -- webhooks --------------------------------------------------------------------------------------------------
class Receiver(ThreadingHTTPServer):
    """Records notifications; answers ``fail_first`` of them with 500 first."""

    daemon_threads = True

    def __init__(self, fail_first=0):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer = self.server
                with outer.lock:
                    outer.got.append((raw, self.headers.get("x-bill-sha-signature")))
                    status = 500 if len(outer.got) <= outer.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.fail_first, self.got, self.lock = fail_first, [], threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/bill"

    def wait_for(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.got)


@pytest.fixture
def receiver():
    made = []

    def make(fail_first=0):
        made.append(Receiver(fail_first))
        return made[-1]

    yield make
    for r in made:
        r.shutdown()
        r.server_close()


def subscribe(box, h, target, events=("vendor.created",), key="7c1f0c4e-0000-4000-8000-000000000001"):
    body = {
        "name": "portal",
        "status": {"enabled": True},
        "notificationUrl": target,
        "events": [{"type": e, "version": "1"} for e in events],
    }
    return requests.post(
        url(box, "/connect-events/v3/subscriptions"), json=body, timeout=10, headers={**h, "X-Idempotent-Key": key}
    )


def expected_signature(key, raw):
    return base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()


def test_subscription_shows_its_security_key_once_and_needs_an_idempotency_key(box, receiver):
    h = headers(box)
    target = receiver().url
    no_key = requests.post(
        url(box, "/connect-events/v3/subscriptions"),
        headers=h,
        timeout=10,
        json={"name": "x", "events": [{"type": "bill.created"}], "notificationUrl": target},
    )
    assert no_key.status_code == 400
    first = subscribe(box, h, target)
    repeat = subscribe(box, h, target)
    assert first.status_code == 200 and first.json()["securityKey"] and repeat.json() == first.json()
    listed = requests.get(url(box, "/connect-events/v3/subscriptions"), headers=h, timeout=10).json()
    assert len(listed) == 1 and "securityKey" not in listed[0]
    duplicate = subscribe(box, h, target, key="7c1f0c4e-0000-4000-8000-000000000002")
    assert duplicate.status_code == 400


def test_a_vendor_event_is_delivered_signed_and_retried_with_backoff_until_a_200(box, receiver):
    hook = receiver(fail_first=2)
    h = headers(box)
    key = subscribe(box, h, hook.url).json()["securityKey"]
    vendor = requests.post(url(box, "/connect/v3/vendors"), json={"name": "Fresh Vendor"}, headers=h, timeout=10).json()
    got = hook.wait_for(3)
    assert len(got) == 3 and len({raw for raw, _ in got}) == 1  # the same notification, three times
    raw, signature = got[-1]
    assert hmac.compare_digest(signature, expected_signature(key, raw))
    payload = json.loads(raw)
    assert payload["metadata"]["eventType"] == "vendor.created" and payload["vendor"]["id"] == vendor["id"]
    assert payload["metadata"]["organizationId"] == box.credentials()["bill"]["org_id"]
    time.sleep(0.1)
    (delivery,) = control(box, "GET", "bill/deliveries")
    assert delivery["statuses"] == [500, 500, 200] and delivery["delivered"]


def test_a_rotated_key_signs_the_next_event_and_the_old_key_no_longer_verifies(box, receiver):
    hook = receiver()
    h = headers(box)
    sub = subscribe(box, h, hook.url, events=("payment.updated", "bill.updated")).json()
    rotated = requests.post(
        url(box, f"/connect-events/v3/subscriptions/{sub['id']}/security-key"),
        timeout=10,
        headers={**h, "X-Idempotent-Key": "7c1f0c4e-0000-4000-8000-0000000000aa"},
    ).json()
    assert rotated["securityKey"] != sub["securityKey"]
    bill = next(b for b in control(box, "GET", "bill/bills") if b["paymentStatus"] == "UNPAID")
    payment = control(box, "POST", "bill/payments", json={"billId": bill["id"]})
    got = hook.wait_for(2)
    kinds = {json.loads(raw)["metadata"]["eventType"]: (raw, sig) for raw, sig in got}
    raw, sig = kinds["payment.updated"]
    assert json.loads(raw)["payment"]["id"] == payment["id"] and payment["id"].startswith("stp")
    assert sig == expected_signature(rotated["securityKey"], raw) != expected_signature(sub["securityKey"], raw)
    assert json.loads(kinds["bill.updated"][0])["bill"]["paymentStatus"] == "PAID"


def test_deliveries_that_keep_failing_disable_the_subscription(box, receiver):
    hook = receiver(fail_first=100)
    box.config["bill"]["webhook_max_attempts"] = 3
    h = headers(box)
    sub = subscribe(box, h, hook.url).json()
    requests.post(url(box, "/connect/v3/vendors"), json={"name": "Doomed"}, headers=h, timeout=10)
    assert len(hook.wait_for(3)) == 3
    time.sleep(0.1)
    state = requests.get(url(box, f"/connect-events/v3/subscriptions/{sub['id']}"), headers=h, timeout=10).json()
    assert state["status"]["enabled"] is False
    requests.post(url(box, "/connect/v3/vendors"), json={"name": "Unheard"}, headers=h, timeout=10)
    time.sleep(0.2)
    assert len(hook.got) == 3


def test_the_control_api_triggers_any_catalog_event(box, receiver):
    hook = receiver()
    h = headers(box)
    subscribe(box, h, hook.url, events=("vendor.updated",))
    vendor = control(box, "GET", "bill/vendors")[1]
    control(box, "POST", "bill/events", json={"type": "vendor.updated", "id": vendor["id"]})
    ((raw, _),) = hook.wait_for(1)
    assert json.loads(raw)["vendor"]["id"] == vendor["id"]
