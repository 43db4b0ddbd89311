"""The Acumatica fake as a third-party REST client sees it: plain ``requests``, nothing of ours."""

from decimal import Decimal

import pytest
import requests

from tests.sandbox_fixtures import sandbox_fixtures

server, box = sandbox_fixtures(systems=["acumatica"], seed=3, size=40)
V = "24.200.001"


def creds(box):
    return requests.get(f"{box.url}/_sandbox/credentials", timeout=5).json()["acumatica"]


def token(box, **extra):
    c = creds(box)
    form = {"grant_type": "password", "client_id": c["client_id"], "client_secret": c["client_secret"],
            "username": c["username"], "password": c["password"], "scope": "api offline_access", **extra}
    return requests.post(f"{box.system_url('acumatica')}/identity/connect/token", data=form, timeout=5)


def api(box, method, path, tok=None, version=V, **kwargs):
    tok = tok or token(box).json()["access_token"]
    headers = {"Authorization": f"Bearer {tok}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{box.system_url('acumatica')}/entity/Default/{version}/{path}", headers=headers,
                            timeout=5, **kwargs)


def bill(ref="EXP-1", vendor=None, amount="12.34", account="6110"):
    vendor = vendor or "E1001"
    return {"Vendor": {"value": vendor}, "VendorRef": {"value": ref}, "CurrencyID": {"value": "USD"},
            "Details": [{"Account": {"value": account}, "Subaccount": {"value": "CC10"}, "Amount": {"value": amount}}]}


def test_password_grant_gives_a_bearer_token_and_a_refresh_token_that_works_once(box):
    answer = token(box)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"]
    assert api(box, "GET", "Account", tok=body["access_token"]).status_code == 200
    c = creds(box)
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": c["client_id"],
               "client_secret": c["client_secret"]}
    url = f"{box.system_url('acumatica')}/identity/connect/token"
    again = requests.post(url, data=refresh, timeout=5)
    assert again.status_code == 200 and again.json()["access_token"] != body["access_token"]
    assert requests.post(url, data=refresh, timeout=5).json() == {"error": "invalid_grant"}


def test_no_client_credentials_grant_and_wrong_secrets_refused(box):
    assert token(box, grant_type="client_credentials").json() == {"error": "unsupported_grant_type"}
    assert token(box, password="nope").json()["error"] == "invalid_grant"
    assert token(box, client_id="0000@OtherTenant").json()["error"] == "invalid_client"
    assert "refresh_token" not in token(box, scope="api").json()


def test_expired_token_answers_401_until_refreshed(box):
    tok = token(box).json()["access_token"]
    box.advance(3601)
    assert api(box, "GET", "Account", tok=tok).status_code == 401
    tok = token(box).json()["access_token"]
    requests.post(f"{box.url}/_sandbox/acumatica/expire_tokens", timeout=5)
    assert api(box, "GET", "Account", tok=tok).status_code == 401


def test_cookie_login_logout_and_the_seat_limit(box):
    c = creds(box)
    url = f"{box.system_url('acumatica')}/entity/auth"
    login = {"name": c["username"], "password": c["password"], "tenant": c["company"]}
    sessions = []
    for _ in range(2):
        s = requests.Session()
        assert s.post(f"{url}/login", json=login, timeout=5).status_code == 204
        sessions.append(s)
    assert sessions[0].get(f"{box.system_url('acumatica')}/entity/Default/{V}/Vendor", timeout=5).status_code == 200
    third = requests.post(f"{url}/login", json={**login, "company": c["company"]}, timeout=5)
    assert third.status_code == 429 and third.json()["message"] == "API Login Limit"
    assert sessions[0].post(f"{url}/logout", timeout=5).status_code == 204
    assert sessions[0].get(f"{box.system_url('acumatica')}/entity/Default/{V}/Vendor", timeout=5).status_code == 401
    assert requests.post(f"{url}/login", json=login, timeout=5).status_code == 204


def test_only_published_versions_answer_and_swagger_describes_the_endpoint(box):
    assert api(box, "GET", "Bill", version="25.100.001").status_code == 404
    published = requests.get(f"{box.system_url('acumatica')}/entity", timeout=5).json()
    assert ("Default", V) in {(e["name"], e["version"]) for e in published["endpoints"]}
    assert ("Default", "25.100.001") not in {(e["name"], e["version"]) for e in published["endpoints"]}
    assert published["version"]["acumaticaBuildVersion"]
    doc = api(box, "GET", "swagger.json").json()
    assert doc["swagger"] == "2.0" and "/Bill" in doc["paths"] and "put" in doc["paths"]["/Bill"]
    assert doc["definitions"]["Bill"]["properties"]["VendorRef"] == {"$ref": "#/definitions/StringValue"}


def test_values_are_wrapped_both_ways_and_a_bare_value_is_refused(box):
    created = api(box, "PUT", "Bill", json=bill())
    assert created.status_code == 200
    body = created.json()
    assert body["VendorRef"] == {"value": "EXP-1"} and body["DueDate"] == {}
    assert Decimal(str(body["Amount"]["value"])) == Decimal("12.34")
    bare = api(box, "PUT", "Bill", json={**bill("EXP-2"), "VendorRef": "EXP-2"})
    assert bare.status_code == 400
    assert not [d for d in requests.get(f"{box.url}/_sandbox/acumatica/Bill", timeout=5).json() if d["VendorRef"] == "EXP-2"]


def test_filter_on_last_modified_in_any_offset_with_select_expand_top_skip(box):
    api(box, "PUT", "Bill", json=bill("EXP-A"))
    stamp = requests.get(f"{box.url}/_sandbox/acumatica/Bill", timeout=5).json()[0]["LastModifiedDateTime"]
    from datetime import datetime, timedelta, timezone

    moment = datetime.fromisoformat(stamp)
    before = (moment - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=3))).isoformat()
    after = (moment + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
    found = api(box, "GET", "Bill", params={"$filter": f"LastModifiedDateTime gt datetimeoffset'{before}'"}).json()
    assert [d["VendorRef"]["value"] for d in found] == ["EXP-A"]
    assert api(box, "GET", "Bill", params={"$filter": f"LastModifiedDateTime gt datetimeoffset'{after}'"}).json() == []
    plain = api(box, "GET", "Bill", params={"$select": "VendorRef"}).json()[0]
    assert "Details" not in plain and "Description" not in plain and plain["VendorRef"]["value"] == "EXP-A"
    assert api(box, "GET", "Bill", params={"$expand": "Details"}).json()[0]["Details"][0]["Account"] == {"value": "6110"}
    everyone = api(box, "GET", "Employee", params={"$expand": "ContactInfo"}).json()
    page = api(box, "GET", "Employee", params={"$top": 3, "$skip": 2}).json()
    assert [e["EmployeeID"] for e in page] == [e["EmployeeID"] for e in everyone[2:5]]
    assert "@" in everyone[0]["ContactInfo"]["Email"]["value"]
    email = everyone[0]["ContactInfo"]["Email"]["value"]
    by_mail = api(box, "GET", "Vendor", params={"$filter": f"MainContact/Email eq '{email}'"})
    assert len(by_mail.json()) == 1
    assert api(box, "GET", "Bill", params={"$filter": "Details/Account eq '6110'"}).status_code == 400


def test_an_or_of_references_finds_each_bill_ignoring_case_and_follows_a_changed_reference(box):
    for ref in ("EXP-1", "EXP-2", "EXP-3", "EXP-2"):
        api(box, "PUT", "Bill", json=bill(ref))

    def refs(text):
        return [d["VendorRef"]["value"] for d in api(box, "GET", "Bill", params={"$filter": text}).json()]

    assert refs("VendorRef eq 'exp-2' or VendorRef eq 'EXP-3' or VendorRef eq 'EXP-404'") == ["EXP-2", "EXP-3", "EXP-2"]
    assert refs("(VendorRef eq 'EXP-1')") == ["EXP-1"]
    assert refs("VendorRef eq 'EXP-1' or Status eq 'Balanced'") == ["EXP-1", "EXP-2", "EXP-3", "EXP-2"]  # not indexed
    first = api(box, "GET", "Bill", params={"$filter": "VendorRef eq 'EXP-1'"}).json()[0]
    keys = {"Type": first["Type"], "ReferenceNbr": first["ReferenceNbr"]}
    assert api(box, "PUT", "Bill", json={**keys, "VendorRef": {"value": "EXP-7"}}, headers={"If-Match": "*"}).ok
    assert refs("VendorRef eq 'EXP-1' or VendorRef eq 'EXP-7'") == ["EXP-7"]


def test_keys_are_found_as_the_tables_change_ignoring_case(box):
    # Vendors, accounts and employees are found by key from an index that follows the table.
    assert api(box, "PUT", "Bill", json=bill("EXP-20")).ok
    assert api(box, "PUT", "Bill", json=bill("EXP-21", vendor="V-NEW")).status_code == 422
    assert api(box, "PUT", "Vendor", json={"VendorID": {"value": "V-NEW"}, "VendorName": {"value": "New"},
                                            "Status": {"value": "Active"}}).ok
    assert api(box, "PUT", "Bill", json=bill("EXP-22", vendor="v-new")).ok  # added since, and in another case
    employee = f"{box.url}/_sandbox/acumatica/employee"
    assert requests.post(employee, json={"EmployeeID": "EMP-9", "Status": "Active"}, timeout=5).ok
    assert api(box, "GET", "Employee/EMP-9").ok
    assert requests.post(employee, json={"EmployeeID": "EMP-9", "deleted": True}, timeout=5).json() == {"deleted": "EMP-9"}
    assert api(box, "GET", "Employee/EMP-9").status_code == 404


def test_put_is_an_upsert_guarded_by_if_match_and_if_none_match(box):
    created = api(box, "PUT", "Bill", json=bill(), headers={"If-None-Match": "*"}).json()
    keys = {"Type": created["Type"], "ReferenceNbr": created["ReferenceNbr"]}
    again = api(box, "PUT", "Bill", json={**keys, "Description": {"value": "x"}}, headers={"If-None-Match": "*"})
    assert again.status_code == 412
    missing = {"Type": {"value": "Bill"}, "ReferenceNbr": {"value": "999999"}, "Description": {"value": "x"}}
    assert api(box, "PUT", "Bill", json=missing, headers={"If-Match": "*"}).status_code == 412
    updated = api(box, "PUT", "Bill", json={**keys, "Description": {"value": "changed"}}, headers={"If-Match": "*"})
    assert updated.status_code == 200 and updated.json()["Description"] == {"value": "changed"}
    assert len(requests.get(f"{box.url}/_sandbox/acumatica/Bill", timeout=5).json()) == 1
    # no idempotency key: the same body without its key twice is two bills
    api(box, "PUT", "Bill", json=bill("EXP-9"))
    api(box, "PUT", "Bill", json=bill("EXP-9"))
    assert len(requests.get(f"{box.url}/_sandbox/acumatica/Bill", timeout=5).json()) == 3


def test_422_names_each_bad_field(box):
    answer = api(box, "PUT", "Bill", json=bill(vendor="NOPE", account="6999"))
    assert answer.status_code == 422
    body = answer.json()
    assert "raised at least one error" in body["error"]
    assert body["Vendor"]["error"] == "'Vendor' cannot be found in the system."
    assert body["Details"][0]["Account"]["error"] == "Account '6999' is inactive."
    assert api(box, "PUT", "Bill", json=bill(amount="1.234")).status_code == 422


def test_per_minute_license_limit_answers_429(box):
    box.config["acumatica"]["requests_per_minute"] = 3
    tok = token(box).json()["access_token"]  # the first request of the minute
    statuses = [api(box, "GET", "Account", tok=tok).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    box.advance(61)
    assert api(box, "GET", "Account", tok=tok).status_code == 200


@pytest.mark.parametrize("action", ["status", "drop_after"])
def test_faults_from_the_control_api(box, action):
    fault = {"system": "acumatica", "endpoint": "put:Bill", "action": action, "count": 1}
    if action == "status":
        fault["status"] = 500
    requests.post(f"{box.url}/_sandbox/faults", json=fault, timeout=5).raise_for_status()
    try:
        answer = api(box, "PUT", "Bill", json=bill())
        assert answer.status_code == 500 and answer.json()["message"] == "An error has occurred."
        written = 0
    except requests.ConnectionError:
        written = 1  # the fake wrote it, then the connection dropped
    assert len(requests.get(f"{box.url}/_sandbox/acumatica/Bill", timeout=5).json()) == written
