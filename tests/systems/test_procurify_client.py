"""The Procurify client over real HTTP against the in-process sandbox."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from integrations.systems.errors import AuthError, ValidationRejected
from integrations.systems.procurify import ProcurifyClient, clear_token_cache
from tests.sandbox_fixtures import sandbox_fixtures

pytestmark = pytest.mark.django_db  # every call holds a slot of the connection's concurrency limit (a table)

server, box = sandbox_fixtures(systems=["procurify"], size=40, around=clear_token_cache)


def make_client(box, credentials=None, **options):
    conn = SimpleNamespace(
        base_url=box.system_url("procurify"),
        credentials=credentials or box.credentials()["procurify"],
        options={"backoff_max": 0.01, **options},
    )
    return ProcurifyClient(conn)


def calls(box, endpoint):
    return box.calls["procurify"][endpoint]


def sandbox(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def test_one_token_serves_every_call_and_every_client_of_the_connection(box):
    first, second = make_client(box), make_client(box)
    first.vendors()
    second.account_codes()
    first.departments()
    assert calls(box, "oauth/token") == 1


def test_a_token_expired_on_the_server_is_replaced_once_and_the_call_goes_through(box):
    client = make_client(box, page_size=100)
    client.vendors()
    box.advance(86401)  # the server's 24 hours are over; the client still thinks its token is young
    vendors = client.vendors()
    assert vendors and calls(box, "oauth/token") == 2
    assert calls(box, "vendors:list") == 3  # one refused with 401, then the same call again


def test_a_token_near_the_end_of_its_life_is_replaced_before_it_is_refused(box):
    client = make_client(box, page_size=100)
    now = [1000.0]
    client.clock = lambda: now[0]
    client.vendors()
    now[0] += 86400 * 0.95  # inside the refresh margin (10% of 24 hours)
    box.advance(86400 * 0.95)
    client.vendors()
    assert calls(box, "oauth/token") == 2 and calls(box, "vendors:list") == 2  # no 401 on the way


def test_wrong_credentials_are_an_auth_error_naming_procurify(box):
    creds = {**box.credentials()["procurify"], "client_secret": "wrong-secret"}
    with pytest.raises(AuthError) as caught:
        make_client(box, credentials=creds).vendors()
    assert caught.value.code == "PROCURIFY-AUTH" and "wrong-secret" not in str(caught.value)


def test_pages_are_followed_through_next_until_the_last(box):
    client = make_client(box, page_size=3)
    vendors = client.vendors()
    everything = sandbox(box, "GET", "procurify/vendors")
    assert sorted(v.id for v in vendors) == sorted(v["id"] for v in everything)
    assert calls(box, "vendors:list") == -(-len(everything) // 3)


def test_bills_and_payments_since_a_cursor_with_decimal_money(box):
    client = make_client(box, page_size=100)
    cursor = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
    bills = client.bills_since(cursor)
    assert bills and all(b.modified >= cursor for b in bills)
    assert [b.modified for b in bills] == sorted(b.modified for b in bills)
    one = client.bill(bills[0].uuid)
    assert one.lines and sum(line.amount for line in one.lines) == one.total and isinstance(one.total, Decimal)
    payment = sandbox(box, "POST", "procurify/payments", json={"bill": one.id})
    since = client.payments_since(dt.datetime.fromisoformat(payment["updated_at"].replace("Z", "+00:00")))
    assert [(p.id, p.amount, p.bill_ids) for p in since] == [(payment["id"], one.total, [one.id])]


def test_a_requisition_by_names_becomes_a_po_that_later_updates_change_in_place(box):
    client = make_client(box)
    vendor = client.vendors()[0]
    requisition = client.create_requisition(
        dt.date(2026, 11, 30),
        "Vancouver HQ",
        "Operations",
        [
            {
                "item_name": "Bolts",
                "vendor_name": vendor.name,
                "account_code": "100.6200",
                "unit_price": Decimal("2.50"),
                "quantity": Decimal("4"),
            }
        ],
    )
    (number,) = requisition.po_numbers
    po = client.purchase_order(number)
    assert po.total == Decimal("10.00") and po.items[0].account_code == "100.6200"
    item = po.items[0]
    updated = client.update_purchase_order(
        number,
        [{"id": item.id, "name": item.name, "unit": "each", "quantity": Decimal("6"), "price": item.price}],
        po_num="JDE-1001",
        version=po.version,
    )
    assert updated.number == number and updated.total == Decimal("15.00") and updated.po_num == "JDE-1001"
    with pytest.raises(ValidationRejected) as stale:
        client.update_purchase_order(number, [], version=po.version)
    assert "version" in str(stale.value)
    assert client.close_purchase_order(number).raw["status_name"] == "closed"


def test_account_codes_create_and_deactivate(box):
    client = make_client(box, page_size=100)
    code = client.create_account_code("300.6999", "Freight")
    off = client.deactivate_account_code(code)
    assert off.active is False
    assert next(c for c in client.account_codes() if c.code == "300.6999").active is False


def test_a_server_error_on_a_read_is_retried(box):
    sandbox(box, "POST", "faults", json={"system": "procurify", "endpoint": "bills:list", "status": 503, "count": 2})
    assert make_client(box, page_size=100).bills_since(None)
    assert calls(box, "bills:list") == 3


def test_departments_are_created_at_a_location_and_renamed_in_place(box):
    client = make_client(box, page_size=100)
    location = next(loc for loc in client.locations() if loc["name"] == "Toronto Plant")
    made = client.create_department("Quality", location["id"], external_id="300")
    renamed = client.update_department(made, name="Quality Assurance")
    assert (renamed.id, renamed.name, renamed.location) == (made.id, "Quality Assurance", "Toronto Plant")
    assert sum(1 for d in client.departments() if d.raw.get("external_id") == "300") == 1
