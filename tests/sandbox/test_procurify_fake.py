"""The fake Procurify API over real loopback HTTP (no Django), as a client written from the spec sees it."""

import pytest
import requests

from sandbox import procurify_data as data
from tests.sandbox_fixtures import sandbox_fixtures

server, box = sandbox_fixtures(systems=["procurify"], size=40)


def url(box, path):
    return box.system_url("procurify") + path


def control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def token_response(box, **overrides):
    creds = box.credentials()["procurify"]
    body = {
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
        "audience": data.AUDIENCE,
        "grant_type": "client_credentials",
        **overrides,
    }
    return requests.post(url(box, "/oauth/token"), json=body, timeout=10)


def auth(box):
    return {"Authorization": f"Bearer {token_response(box).json()['access_token']}", "X-Procurify-Client": "api"}


def get(box, path, headers=None, **params):
    return requests.get(url(box, path), headers=headers or auth(box), params=params, timeout=10)


# -- auth ------------------------------------------------------------------------------------------------------
def test_token_request_answers_a_24_hour_bearer_token_with_the_documented_scope(box):
    answer = token_response(box)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400 and body["access_token"]
    assert body["scope"].startswith("urn:procurify-api:domain:")


@pytest.mark.parametrize(
    "override, status",
    [({"client_secret": "wrong"}, 401), ({"audience": "https://other/"}, 403), ({"grant_type": "password"}, 400)],
)
def test_token_request_refuses_wrong_secret_audience_or_grant(box, override, status):
    answer = token_response(box, **override)
    assert answer.status_code == status and "error" in answer.json()


def test_token_works_until_24_hours_then_401(box):
    headers = auth(box)
    box.advance(86400 - 5)
    assert get(box, "/api/v3/vendors/", headers).status_code == 200
    box.advance(10)
    expired = get(box, "/api/v3/vendors/", headers)
    assert expired.status_code == 401 and expired.json() == {"detail": "Invalid token."}


def test_a_call_without_a_token_is_401(box):
    assert requests.get(url(box, "/api/v3/vendors/"), timeout=10).status_code == 401


# -- envelope and paging -------------------------------------------------------------------------------------
def test_lists_page_through_absolute_next_links_without_gaps_or_repeats(box):
    headers = auth(box)
    first = get(box, "/api/v3/vendors/", headers, page_size=4).json()
    pagination = first["metadata"]["pagination"]
    assert pagination["current_page"] == 1 and pagination["previous"] is None
    assert pagination["next"].startswith("http://") and "page=2" in pagination["next"]
    seen, body = [], first
    while True:
        seen += [v["id"] for v in body["data"]]
        link = body["metadata"]["pagination"]["next"]
        if not link:
            break
        body = requests.get(link, headers=headers, timeout=10).json()
    assert len(seen) == len(set(seen)) == pagination["count"] == len(control(box, "GET", "procurify/vendors"))
    assert pagination["num_pages"] == -(-pagination["count"] // 4)


def test_a_page_past_the_end_is_404_invalid_page(box):
    answer = get(box, "/api/v3/vendors/", page=99)
    assert answer.status_code == 404 and answer.json() == {"detail": "Invalid page."}


def test_seeded_data_is_deterministic_by_seed(box):
    first = control(box, "GET", "procurify/bills")
    box.reset(seed=7, size=40)
    assert control(box, "GET", "procurify/bills") == first
    box.reset(seed=8, size=40)
    assert control(box, "GET", "procurify/bills") != first


# -- incremental filters -------------------------------------------------------------------------------------
def test_bills_filter_on_last_modified_datetime_and_see_a_changed_bill(box):
    headers = auth(box)
    cutoff = "2026-10-20T00:00:00Z"
    rows = get(box, "/api/v3/ap/bills/", headers, last_modified_datetime_0=cutoff, page_size=100).json()["data"]
    assert rows and all(r["last_modified_datetime"] >= "2026-10-20" for r in rows)
    everything = control(box, "GET", "procurify/bills")
    assert len(rows) == sum(1 for b in everything if b["last_modified_datetime"] >= "2026-10-20")
    old = next(b for b in everything if b["last_modified_datetime"] < "2026-10-20")
    control(box, "POST", f"procurify/bills/{old['id']}", json={"status": 3})
    again = get(box, "/api/v3/ap/bills/", headers, last_modified_datetime_0=cutoff, page_size=100).json()["data"]
    assert old["id"] in {r["id"] for r in again} and len(again) == len(rows) + 1
    detail = get(box, f"/api/v2/ap/bills/{old['uuid']}/", headers).json()["data"]
    assert detail["items"] and detail["status"] == 3


def test_a_bill_is_found_by_id_or_uuid_also_once_added_after_a_read_and_after_a_reset(box):
    """The fake finds bills by an index kept as rows are appended (a scan per read was quadratic at 10,000 bills)."""
    headers = auth(box)
    first = control(box, "GET", "procurify/bills")[0]
    assert get(box, f"/api/v2/ap/bills/{first['uuid']}/", headers).json()["data"]["id"] == first["id"]
    vendor = control(box, "GET", "procurify/vendors")[0]
    bill = {
        "vendor": {"id": vendor["id"], "name": vendor["name"]},
        "items": [{"description": "Toner", "total": "1.00", "account_code": "200.6200"}],
    }
    added = control(box, "POST", "procurify/bills", json=bill)
    assert get(box, f"/api/v2/ap/bills/{added['uuid']}/", headers).json()["data"]["id"] == added["id"]
    assert get(box, "/api/v2/ap/bills/no-such-bill/", headers).status_code == 404
    box.reset(seed=3, size=5)
    assert get(box, f"/api/v2/ap/bills/{added['uuid']}/", auth(box)).status_code == 404
    again = control(box, "GET", "procurify/bills")[-1]
    assert get(box, f"/api/v2/ap/bills/{again['uuid']}/", auth(box)).json()["data"]["id"] == again["id"]


def test_payments_filter_on_updated_at_after(box):
    headers = auth(box)
    bill = control(box, "GET", "procurify/bills")[0]
    payment = control(box, "POST", "procurify/payments", json={"bill": bill["id"], "status": "paid"})
    rows = get(box, "/api/public/v1/payments/", headers, updated_at_after=payment["updated_at"]).json()["data"]
    assert [r["id"] for r in rows] == [payment["id"]]
    assert rows[0]["amount"] == bill["total_cost_with_tax"] and rows[0]["bill_groups"][0]["bills"][0]["id"] == bill["id"]


def test_purchase_orders_filter_by_status_and_modified_date(box):
    headers = auth(box)
    everything = get(box, "/api/v2/purchase_orders/purchased/all/", headers, page_size=100).json()["data"]
    open_ones = get(box, "/api/v2/purchase_orders/purchased/open/", headers, page_size=100).json()["data"]
    assert 0 < len(open_ones) < len(everything) and all(p["state"] == data.PO_STATES["open"] for p in open_ones)
    recent = get(box, "/api/v2/purchase_orders/purchased/all/", headers, modified_date_0="2026-10-15", page_size=100)
    assert all(p["last_modified"] >= "2026-10-15" for p in recent.json()["data"])
    assert get(box, "/api/v2/purchase_orders/purchased/all/", headers, modified_date_0="15/10/2026").status_code == 400


# -- writes ------------------------------------------------------------------------------------------------
def test_requisition_by_names_becomes_a_purchase_order_and_a_po_update_changes_the_same_order(box):
    headers = auth(box)
    vendor = control(box, "GET", "procurify/vendors")[0]
    body = {
        "required_date": "2026-11-20",
        "location_name": "Vancouver HQ",
        "department_name": "Operations",
        "line_items": [
            {
                "item_name": "Bolts",
                "vendor_name": vendor["name"],
                "account_code": "100.6200",
                "unit_price": "2.50",
                "quantity": "4",
                "unit": "box",
                "currency_code": "USD",
            }
        ],
    }
    created = requests.post(url(box, "/api/v3/requisitions/"), json=body, headers=headers, timeout=10)
    assert created.status_code == 201
    item = created.json()["data"]["order_items"][0]
    (number,) = item["PO"]
    po = get(box, f"/api/v2/purchase_orders/{number}/", headers).json()["data"]
    assert po["total"] == "10.00" and po["vendor_name"] == vendor["name"]
    change = {
        "version": po["version"],
        "PO_Num": "JDE-4711",
        "order_items": [{"id": item["id"], "name": "Bolts", "unit": "box", "quantity": "6", "price": "2.50"}],
    }
    updated = requests.put(url(box, f"/api/v3/purchase-orders/{number}/"), json=change, headers=headers, timeout=10)
    assert updated.status_code == 200 and updated.json()["data"]["total"] == "15.00"
    stale = requests.put(url(box, f"/api/v3/purchase-orders/{number}/"), json=change, headers=headers, timeout=10)
    assert stale.status_code == 400 and "version" in stale.json()
    pos = control(box, "GET", "procurify/purchase_orders")
    assert sum(1 for p in pos if p["PO_Num"] == "JDE-4711") == 1


def test_a_po_update_item_without_id_is_added_to_the_same_order_and_needs_an_account_code(box):
    headers = auth(box)
    vendor = control(box, "GET", "procurify/vendors")[0]
    body = {"required_date": "2026-11-20", "location_name": "Vancouver HQ", "department_name": "Operations",
            "line_items": [{"item_name": "Bolts", "vendor_name": vendor["name"], "account_code": "100.6200",
                            "unit_price": "2.50", "quantity": "4"}]}
    created = requests.post(url(box, "/api/v3/requisitions/"), json=body, headers=headers, timeout=10).json()["data"]
    (number,) = created["order_items"][0]["PO"]
    new = {"name": "Nuts", "unit": "box", "quantity": "2", "price": "1.25", "custom_fields": []}
    refused = requests.put(url(box, f"/api/v3/purchase-orders/{number}/"), json={"order_items": [new]}, headers=headers,
                           timeout=10)
    assert refused.status_code == 400 and "order_items[0].account_code" in refused.json()
    added = requests.put(url(box, f"/api/v3/purchase-orders/{number}/"), json={"order_items": [
        {**new, "account_code": "100.6200"}]}, headers=headers, timeout=10).json()["data"]
    assert [(i["name"], i["PO"], i["accountCode"]) for i in added["order_items"]] == [
        ("Bolts", [number], "100.6200"), ("Nuts", [number], "100.6200")]
    assert added["total"] == "12.50"


def test_requisition_with_an_unknown_name_is_refused_with_the_field(box):
    body = {
        "required_date": "2026-11-20",
        "location_name": "Vancouver HQ",
        "department_name": "Operations",
        "line_items": [
            {"item_name": "X", "vendor_name": "Nobody Inc", "account_code": "100.6200", "unit_price": "1", "quantity": "1"}
        ],
    }
    answer = requests.post(url(box, "/api/v3/requisitions/"), json=body, headers=auth(box), timeout=10)
    assert answer.status_code == 400 and "line_items[0].vendor_name" in answer.json()


def test_account_code_create_duplicate_and_deactivate(box):
    headers = auth(box)
    new = {"code": "100.6999", "description": "Freight", "account_type": 3}
    created = requests.post(url(box, "/api/v3/account-codes/"), json=new, headers=headers, timeout=10)
    assert created.status_code == 201
    again = requests.post(url(box, "/api/v3/account-codes/"), json=new, headers=headers, timeout=10)
    assert again.status_code == 400 and "code" in again.json()
    code_id = created.json()["data"]["id"]
    off = requests.put(url(box, f"/api/v3/account-codes/{code_id}/"), json={**new, "active": False}, headers=headers, timeout=10)
    assert off.status_code == 200 and off.json()["data"]["active"] is False


def test_vendor_create_needs_the_documented_fields_and_patch_stamps_date_modified(box):
    headers = auth(box)
    missing = requests.post(url(box, "/api/v3/vendors/"), json={"name": "New"}, headers=headers, timeout=10)
    assert missing.status_code == 400 and "email" in missing.json()
    body = {"name": "New Vendor", "email": ["ap@new.example"], "type": 3, "overall_score": 0}
    vendor = requests.post(url(box, "/api/v3/vendors/"), json=body, headers=headers, timeout=10).json()["data"]
    box.advance(60)
    patched = requests.patch(
        url(box, f"/api/v3/vendors/{vendor['id']}/"), json={"active": False}, headers=headers, timeout=10
    ).json()["data"]
    assert patched["active"] is False and patched["dateModified"] > vendor["dateModified"]


def test_faults_from_the_control_api_answer_procurify_shaped_errors(box):
    control(box, "POST", "faults", json={"system": "procurify", "endpoint": "bills:list", "status": 503, "count": 1})
    headers = auth(box)
    failed = get(box, "/api/v3/ap/bills/", headers)
    assert failed.status_code == 503 and "detail" in failed.json()
    assert get(box, "/api/v3/ap/bills/", headers).status_code == 200


def test_a_list_read_again_shows_what_was_written_since_and_pages_stay_in_step(box):
    # Lists are kept between pages until something is written; a write through the API or the control API shows.
    headers = auth(box)

    def codes(**params):
        return get(box, "/api/v3/account-codes/", headers, **{"page_size": 5, **params}).json()

    first = codes()
    pages = [first["data"]] + [codes(page=n)["data"] for n in range(2, first["metadata"]["pagination"]["num_pages"] + 1)]
    before = [c["code"] for page in pages for c in page]
    assert len(before) == len(set(before)) == first["metadata"]["pagination"]["count"]
    new = {"code": "100.6998", "description": "Postage", "account_type": 3}
    assert requests.post(url(box, "/api/v3/account-codes/"), json=new, headers=headers, timeout=10).status_code == 201
    after = codes(page_size=100)
    assert after["metadata"]["pagination"]["count"] == len(before) + 1
    assert "100.6998" in {c["code"] for c in after["data"]}
    assert codes()["metadata"]["pagination"]["count"] == len(before) + 1  # the very first query, read again
