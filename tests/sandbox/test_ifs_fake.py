"""The IFS Cloud fake over real HTTP, as a third-party OData v4 client sees it."""

import base64
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
import requests

from tests.sandbox_fixtures import sandbox_fixtures

server, box = sandbox_fixtures(systems=["ifs"], config={"ifs": {"rate_limit": [[100000, 60]]}})
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
TEMPLATE_KEY = "VoucherTemplateSet(Company='10',Template='MLC-ACCRUAL')"
ACTION = f"{TEMPLATE_KEY}/IfsApp.VoucherEntryHandling.VoucherTemplate_CreateVoucher"


def creds(box):
    return box.credentials()["ifs"]


def token_response(box, **form):
    c = creds(box)
    data = {"grant_type": "client_credentials", "client_id": c["client_id"], "client_secret": c["client_secret"], **form}
    return requests.post(
        f"{box.system_url('ifs')}/auth/realms/{form.pop('realm', c['realm'])}/protocol/openid-connect/token",
        data=data,
        timeout=10,
    )


def bearer(box):
    return {"Authorization": f"Bearer {token_response(box).json()['access_token']}"}


def api(box, projection, path=""):
    return f"{box.system_url('ifs')}/main/ifsapplications/projection/v1/{projection}.svc/{path}"


def get(box, projection, path="", headers=None, **params):
    return requests.get(api(box, projection, path), params=params, headers={**bearer(box), **(headers or {})}, timeout=10)


def voucher_body(reference="EXP-1", cost_center="CC10", amount="12.34"):
    return {
        "VoucherDate": "2026-10-30",
        "VoucherText": "Trip",
        "ReferenceNumber": reference,
        "CurrencyCode": "USD",
        "Rows": [
            {"Account": "6100", "CodeB": cost_center, "CodeC": "PRJ-ALPHA", "CurrencyDebitAmount": amount},
            {"Account": "2100", "CurrencyCreditAmount": amount},
        ],
    }


def template_etag(box, headers):
    return requests.get(api(box, "VoucherEntryHandling", TEMPLATE_KEY), headers=headers, timeout=10).json()["@odata.etag"]


# -- IAM ---------------------------------------------------------------------------------------------------------
def test_token_endpoint_answers_the_documented_shape(box):
    response = token_response(box, scope="openid microprofile-jwt")
    body = response.json()
    assert response.status_code == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 180
    assert {"access_token", "refresh_token", "refresh_expires_in", "id_token", "scope", "not-before-policy"} <= set(body)


def test_token_lifetime_is_a_setting(box):
    box.config["ifs"]["token_lifetime"] = 3600
    assert token_response(box).json()["expires_in"] == 3600


@pytest.mark.parametrize(
    "change, status, error",
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"realm": "nowhere"}, 404, "Realm does not exist"),
    ],
)
def test_token_endpoint_refusals_use_keycloak_bodies(box, change, status, error):
    response = token_response(box, **change)
    assert response.status_code == status and response.json()["error"] == error


def test_a_token_expires_on_the_sandbox_clock_and_a_bad_one_is_401(box):
    headers = bearer(box)
    assert get(box, "CodePartValuesHandling", "CodePartValueSet", headers=headers).status_code == 200
    box.advance(181)
    expired = requests.get(api(box, "CodePartValuesHandling", "CodePartValueSet"), headers=headers, timeout=10)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "UNAUTHORIZED"
    assert "invalid_token" in expired.headers["WWW-Authenticate"]
    bad = requests.get(api(box, "CodePartValuesHandling", "CodePartValueSet"), headers={"Authorization": "Bearer x"}, timeout=10)
    assert bad.status_code == 401


# -- service document, metadata ---------------------------------------------------------------------------------
def test_service_document_and_metadata_describe_the_entity_sets(box):
    service = get(box, "VoucherEntryHandling").json()
    assert service["@odata.context"].endswith("VoucherEntryHandling.svc/$metadata")
    assert {s["name"] for s in service["value"]} == {"VoucherTemplateSet", "VoucherSet", "VoucherRowSet"}
    xml = get(box, "VoucherEntryHandling", "$metadata")
    assert xml.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(xml.content)
    sets = {e.get("Name"): e.get("EntityType") for e in root.iter(f"{EDM}EntitySet")}
    assert sets["VoucherSet"] == "IfsApp.VoucherEntryHandling.Voucher"
    voucher = next(e for e in root.iter(f"{EDM}EntityType") if e.get("Name") == "Voucher")
    assert [k.get("Name") for k in voucher.iter(f"{EDM}PropertyRef")] == ["Company", "AccountingYear", "VoucherType", "VoucherNo"]
    assert any(a.get("Name") == "VoucherTemplate_CreateVoucher" for a in root.iter(f"{EDM}Action"))
    code_parts = ET.fromstring(get(box, "CodePartValuesHandling", "$metadata").content)
    props = {p.get("Name"): p.get("Type") for p in code_parts.iter(f"{EDM}Property")}
    assert props["ValidFrom"] == "Edm.Date" and props["Objstate"] == "Edm.String"


# -- queries ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression, expected",
    [
        ("CodePart eq 'B'", {"CC10", "CC20", "CC30", "CC90"}),
        ("CodePart eq 'B' and CodeValue ne 'CC10'", {"CC20", "CC30", "CC90"}),
        ("CodePart eq 'B' and CodeValue gt 'CC20'", {"CC30", "CC90"}),
        ("CodePart eq 'B' and CodeValue ge 'CC20' and CodeValue le 'CC30'", {"CC20", "CC30"}),
        ("CodePart eq 'B' and CodeValue lt 'CC20'", {"CC10"}),
        ("CodeValue eq 'CC10' or CodeValue eq 'PRJ-BETA'", {"CC10", "PRJ-BETA"}),
        ("CodePart eq 'C' and contains(CodeValue,'AL')", {"PRJ-ALPHA"}),
        ("startswith(CodeValue,'PRJ-G')", {"PRJ-GAMMA"}),
        ("CodePart eq 'B' and ValidUntil lt 2026-01-01", {"CC90"}),
        ("CodePart eq 'A' and Objstate eq 'Inactive'", {"6990"}),
        (
            "not (CodePart ne 'C') and (endswith(CodeValue,'A') or CodeValue eq 'PRJ-BETA')",
            {"PRJ-ALPHA", "PRJ-BETA", "PRJ-GAMMA"},
        ),
    ],
)
def test_filter_operators(box, expression, expected):
    body = get(box, "CodePartValuesHandling", "CodePartValueSet", **{"$filter": expression}).json()
    assert {r["CodeValue"] for r in body["value"]} == expected


def test_every_entity_has_an_etag_and_select_orderby_top_skip_work(box):
    body = get(
        box,
        "CodePartValuesHandling",
        "CodePartValueSet",
        **{
            "$filter": "CodePart eq 'A'",
            "$select": "CodeValue,Description",
            "$orderby": "CodeValue desc",
            "$top": "3",
            "$skip": "1",
            "$count": "true",
        },
    ).json()
    assert body["@odata.context"].endswith("$metadata#CodePartValueSet")
    assert [r["CodeValue"] for r in body["value"]] == ["6900", "6500", "6400"]
    assert body["@odata.count"] == 12
    for row in body["value"]:
        assert set(row) == {"@odata.etag", "CodeValue", "Description"}
        inner = base64.b64decode(row["@odata.etag"][3:-1]).decode()  # W/"<base64 of W/"objid:objversion">"
        assert inner.startswith('W/"') and len(inner.split(":")[1].rstrip('"')) == 14


def test_server_paging_follows_next_links_to_the_end(box):
    box.config["ifs"]["page_size"] = 5
    headers = bearer(box)
    url, seen, pages = api(box, "CodePartValuesHandling", "CodePartValueSet"), [], 0
    params = {"$orderby": "CodePart,CodeValue"}
    while url:
        body = requests.get(url, params=params, headers=headers, timeout=10).json()
        seen += [r["CodeValue"] for r in body["value"]]
        url, params, pages = body.get("@odata.nextLink"), None, pages + 1
    assert len(seen) == len(set(seen)) == 19 and pages == 4


def test_maxpagesize_is_honoured_and_a_page_above_5000_fails_with_500(box):
    body = get(box, "CodePartValuesHandling", "CodePartValueSet", headers={"Prefer": "odata.maxpagesize=4"}).json()
    assert len(body["value"]) == 4 and "@odata.nextLink" in body
    too_big = get(box, "CodePartValuesHandling", "CodePartValueSet", **{"$top": "5001"})
    assert too_big.status_code == 500 and "error" in too_big.json()
    assert get(box, "CodePartValuesHandling", "CodePartValueSet", **{"$top": "5000"}).status_code == 200


def test_bad_queries_answer_odata_errors(box):
    for params in ({"$filter": "Nope eq 1"}, {"$filter": "CodePart eq"}, {"$orderby": "Missing"}, {"$top": "-1"}):
        response = get(box, "CodePartValuesHandling", "CodePartValueSet", **params)
        assert response.status_code == 400 and set(response.json()["error"]) >= {"code", "message"}
    missing = get(box, "VoucherEntryHandling", "VoucherTemplateSet(Company='10',Template='NOPE')")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ODP_RESOURCE_NOTFOUND"


# -- mutations and ETags ----------------------------------------------------------------------------------------
def test_create_voucher_needs_if_match_and_refuses_a_stale_etag(box):
    headers = bearer(box)
    url = api(box, "VoucherEntryHandling", ACTION)
    missing = requests.post(url, json=voucher_body(), headers=headers, timeout=10)
    assert missing.status_code == 428 and missing.json()["error"]["code"] == "ODP_MISSING_PRECONDITION"
    etag = template_etag(box, headers)
    requests.post(f"{box.url}/_sandbox/ifs/templates/MLC-ACCRUAL/touch", timeout=10)  # someone edits the template
    stale = requests.post(url, json=voucher_body(), headers={**headers, "If-Match": etag}, timeout=10)
    assert stale.status_code == 412
    assert requests.get(f"{box.url}/_sandbox/ifs/vouchers", timeout=10).json() == []
    fresh = requests.post(url, json=voucher_body(), headers={**headers, "If-Match": template_etag(box, headers)}, timeout=10)
    assert fresh.status_code == 200 and fresh.json()["ReferenceNumber"] == "EXP-1" and "@odata.etag" in fresh.json()


def test_a_created_voucher_keeps_its_reference_and_exact_amounts(box):
    headers = {**bearer(box), "Accept": "application/json;IEEE754Compatible=true"}
    url = api(box, "VoucherEntryHandling", ACTION)
    created = requests.post(
        url, json=voucher_body(amount="1234567890123.45"), headers={**headers, "If-Match": "*"}, timeout=10
    ).json()
    key = (
        f"VoucherSet(Company='10',AccountingYear={created['AccountingYear']},VoucherType='ACR',"
        f"VoucherNo={created['VoucherNo']})/VoucherRowArray"
    )
    rows = requests.get(api(box, "VoucherEntryHandling", key), headers=headers, timeout=10).json()["value"]
    assert [r["CurrencyDebitAmount"] for r in rows] == ["1234567890123.45", None]
    assert {r["ReferenceNumber"] for r in rows} == {"EXP-1"}
    found = requests.get(
        api(box, "VoucherEntryHandling", "VoucherSet"),
        headers=headers,
        timeout=10,
        params={"$filter": "ReferenceNumber eq 'EXP-1'"},
    ).json()["value"]
    assert len(found) == 1 and found[0]["VoucherNo"] == created["VoucherNo"]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"cost_center": "CC99"}, "does not exist"),
        ({"cost_center": "CC90"}, "not valid on 2026-10-30"),
        ({"amount": "12.345"}, "decimals"),
    ],
)
def test_definite_rejections_write_nothing(box, change, words):
    response = requests.post(
        api(box, "VoucherEntryHandling", ACTION),
        json=voucher_body(**change),
        headers={**bearer(box), "If-Match": "*"},
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "DATABASE_ERROR"
    assert words in response.json()["error"]["message"]
    assert requests.get(f"{box.url}/_sandbox/ifs/vouchers", timeout=10).json() == []


def test_unbalanced_voucher_is_refused(box):
    body = voucher_body()
    body["Rows"][1]["CurrencyCreditAmount"] = "12.33"
    response = requests.post(
        api(box, "VoucherEntryHandling", ACTION), json=body, headers={**bearer(box), "If-Match": "*"}, timeout=10
    )
    assert response.status_code == 400 and "not balanced" in response.json()["error"]["message"]


def test_patch_with_a_fresh_etag_changes_it_and_delete_needs_one(box):
    headers = bearer(box)
    url = api(box, "VoucherEntryHandling", TEMPLATE_KEY)
    etag = template_etag(box, headers)
    patched = requests.patch(url, json={"Description": "Accruals"}, headers={**headers, "If-Match": etag}, timeout=10)
    assert patched.status_code == 200 and patched.json()["@odata.etag"] != etag
    stale = requests.patch(url, json={"Description": "Again"}, headers={**headers, "If-Match": etag}, timeout=10)
    assert stale.status_code == 412
    assert requests.delete(url, headers=headers, timeout=10).json()["error"]["code"] == "ODP_MISSING_PRECONDITION"


# -- the tenant's rate, faults, control -------------------------------------------------------------------------
def test_rate_limit_per_tenant_answers_429_with_retry_after(box):
    box.config["ifs"]["rate_limit"] = [[3, 60]]
    headers = bearer(box)
    statuses = [
        requests.get(api(box, "CodePartValuesHandling", "CodePartValueSet"), headers=headers, timeout=10) for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 60
    assert statuses[-1].json()["error"]["code"] == "TOO_MANY_REQUESTS"


def test_faults_from_the_control_api_use_odata_bodies(box):
    requests.post(
        f"{box.url}/_sandbox/faults",
        json={
            "system": "ifs",
            "endpoint": "read:CodePartValueSet",
            "action": "status",
            "status": 429,
            "retry_after": 2,
            "count": 1,
        },
        timeout=10,
    )
    first = get(box, "CodePartValuesHandling", "CodePartValueSet")
    assert first.status_code == 429 and first.headers["Retry-After"] == "2" and "error" in first.json()
    assert get(box, "CodePartValuesHandling", "CodePartValueSet").status_code == 200


def test_code_part_values_can_be_added_and_deactivated(box):
    control = f"{box.url}/_sandbox/ifs/code-parts"
    requests.post(control, json={"part": "B", "value": "CC40", "description": "New"}, timeout=10).raise_for_status()
    requests.post(control, json={"part": "B", "value": "CC10", "active": False}, timeout=10).raise_for_status()
    rows = {
        r["CodeValue"]: r["Objstate"]
        for r in get(box, "CodePartValuesHandling", "CodePartValueSet", **{"$filter": "CodePart eq 'B'"}).json()["value"]
    }
    assert rows["CC40"] == "Active" and rows["CC10"] == "Inactive"
    response = requests.post(
        api(box, "VoucherEntryHandling", ACTION),
        json=voucher_body(cost_center="CC10"),
        headers={**bearer(box), "If-Match": "*"},
        timeout=10,
    )
    assert "blocked" in response.json()["error"]["message"]
    assert Decimal(voucher_body()["Rows"][0]["CurrencyDebitAmount"]) == Decimal("12.34")
