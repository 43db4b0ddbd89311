"""The fake JD Edwards AIS Server over real loopback HTTP (no Django)."""

import base64
import datetime as dt
from decimal import Decimal

import pytest
import requests

from sandbox import catalog
from sandbox import jde_data as data
from tests.sandbox_fixtures import ANCHOR, sandbox_fixtures

ORCH = "/jderest/v3/orchestrator/MLC_AddJournalBatch"


server, box = sandbox_fixtures(systems=["jde"], size=40)


def url(box, path):
    return box.system_url("jde") + path


def control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def login(box, **overrides):
    body = {**box.credentials()["jde"], "deviceName": "pytest", **overrides}
    return requests.post(url(box, "/jderest/v2/tokenrequest"), json=body, timeout=10)


def token(box):
    response = login(box)
    assert response.status_code == 200, response.text
    return response.json()["userInfo"]["token"]


def auth(tok):
    return {"jde-AIS-Auth": tok}


def condition(column, operator, *values, special="LITERAL"):
    return {"controlId": column, "operator": operator,
            "value": [{"content": v, "specialValueId": special} for v in values]}


def browse(box, tok, table, columns=None, conditions=(), *, page_size=None, match="MATCH_ALL", order=None, paging=True):
    body = {"targetName": table, "targetType": "table", "dataServiceType": "BROWSE", "outputType": "GRID_DATA"}
    if columns:
        body["returnControlIDs"] = "|".join(f"{table}.{c}" for c in columns)
    if page_size is not None:
        body["maxPageSize"] = str(page_size)
    if paging:
        body["enableNextPageProcessing"] = True
    if conditions:
        body["query"] = {"autoFind": True, "matchType": match, "condition": list(conditions)}
    if order:
        body["aggregation"] = {"orderBy": [{"column": f"{table}.{c}", "direction": d} for c, d in order]}
    return requests.post(url(box, "/jderest/v2/dataservice"), json=body, headers=auth(tok), timeout=10)


def rows_of(response, table):
    return response.json()[f"fs_DATABROWSE_{table}"]["data"]["gridData"]["rowset"]


def browse_all(box, tok, table, columns=None, conditions=(), **kwargs):
    response = browse(box, tok, table, columns, conditions, **kwargs)
    assert response.status_code == 200, response.text
    rows, pages = list(rows_of(response, table)), 1
    while next_link(response):
        response = requests.post(next_link(response), headers=auth(tok), timeout=10)
        assert response.status_code == 200, response.text
        rows += rows_of(response, table)
        pages += 1
    return rows, pages


def next_link(response):
    return next((link["href"] for link in response.json().get("links", []) if link.get("rel") == "next"), None)


def journal(reference="EXP-100", lines=None, **fields):
    body = {"BatchReference": reference, "GLDate": "2026-11-20", "Currency": "USD", "Company": "00001",
            "DocumentType": "JE", "Explanation": "Trip to Denver",
            "Lines": lines if lines is not None else [
                {"LineNumber": 1, "Account": "200.6110.CC10", "Amount": "123.45", "Explanation": "Meals", "Remark": "t1"},
                {"LineNumber": 2, "Account": "200.6120", "Amount": "300.00", "Explanation": "Lodging", "Remark": "t2"},
                {"LineNumber": 3, "Account": "100.2100", "Amount": "-423.45", "Explanation": "Employee payable"},
            ]}
    body.update(fields)
    return body


def post_journal(box, tok, body):
    return requests.post(url(box, ORCH), json=body, headers=auth(tok), timeout=10)


# -- tokens -----------------------------------------------------------------------------------------------------
def test_tokenrequest_answers_the_documented_shape_and_the_token_works(box):
    response = login(box)
    assert response.status_code == 200
    body = response.json()
    creds = box.credentials()["jde"]
    assert body["username"] == creds["username"] and body["environment"] == creds["environment"]
    assert body["role"] == "*ALL"
    info = body["userInfo"]
    assert info["token"] and info["simpleDateFormat"] and "aisSessionCookie" in body
    assert browse(box, info["token"], "F0901", ["AID"], page_size=1).status_code == 200
    assert control(box, "GET", "jde/tokens")["live"] == 1


@pytest.mark.parametrize("overrides", [{"password": "wrong"}, {"username": "SOMEONE"}, {"environment": "JPD920"},
                                       {"role": "FINANCE"}])
def test_bad_credentials_answer_403_service_error_without_a_token(box, overrides):
    response = login(box, **overrides)
    assert response.status_code == 403
    body = response.json()
    assert body["status"] == "ERROR" and body["message"] and "timeStamp" in body
    assert "userInfo" not in body
    assert "wrong" not in response.text
    assert control(box, "GET", "jde/tokens")["live"] == 0


def test_bad_json_is_400_and_a_wrong_content_type_is_415(box):
    bad = requests.post(url(box, "/jderest/v2/tokenrequest"), data=b"{not json", timeout=10,
                        headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    form = requests.post(url(box, "/jderest/v2/tokenrequest"), data=box.credentials()["jde"], timeout=10)
    assert form.status_code == 415


def test_v3_jde_login_takes_basic_auth_and_headers(box):
    creds = box.credentials()["jde"]
    basic = base64.b64encode(f"{creds['username']}:{creds['password']}".encode()).decode()
    response = requests.get(url(box, "/jderest/v3/orchestrator/jde-login"), timeout=10,
                            headers={"Authorization": f"Basic {basic}", "jde-AIS-Auth-Environment": creds["environment"],
                                     "jde-AIS-Auth-Role": creds["role"]})
    assert response.status_code == 200
    assert post_journal(box, response.json()["userInfo"]["token"], journal()).status_code == 200
    assert control(box, "GET", "calls")["jde"]["tokenrequest"] == 1


@pytest.mark.parametrize("headers", [{}, {"jde-AIS-Auth": "044bogus=="}])
def test_missing_or_unknown_token_is_444_with_the_documented_body(box, headers):
    for response in (
        requests.post(url(box, "/jderest/v2/dataservice"), json={"targetName": "F0901"}, headers=headers, timeout=10),
        requests.post(url(box, ORCH), json=journal(), headers=headers, timeout=10),
    ):
        assert response.status_code == 444
        body = response.json()
        assert body["message"] == "Invalid Token" and body["exception"] == "java.lang.Exception"
        assert body["timeStamp"]
    assert control(box, "GET", "jde/F0911Z1") == []


def test_token_in_the_body_is_accepted(box):
    tok = token(box)
    response = requests.post(url(box, ORCH), json={**journal(), "token": tok}, timeout=10)
    assert response.status_code == 200, response.text
    assert len(control(box, "GET", "jde/F0911Z1")) == 3


def test_token_expires_after_its_lifetime_on_the_sandbox_clock(box):
    control(box, "POST", "config", json={"jde": {"token_lifetime": 600}})
    tok = token(box)
    box.advance(599)
    assert browse(box, tok, "F0901", ["AID"], page_size=1).status_code == 200
    box.advance(2)
    response = browse(box, tok, "F0901", ["AID"], page_size=1)
    assert response.status_code == 444
    assert control(box, "GET", "jde/tokens")["live"] == 0


def test_validate_with_touch_renews_and_logout_ends_the_token(box):
    tok = token(box)
    box.advance(1700)
    valid = requests.post(url(box, "/jderest/v2/tokenrequest/validate"), json={"token": tok, "touch": True}, timeout=10)
    assert valid.status_code == 200 and valid.json() == {"isValidSession": True}
    box.advance(1700)  # 3400 s after issue, 1700 after the touch
    assert browse(box, tok, "F0901", ["AID"], page_size=1).status_code == 200
    out = requests.post(url(box, "/jderest/v2/tokenrequest/logout"), json={"token": tok}, timeout=10)
    assert out.status_code == 200
    assert browse(box, tok, "F0901", ["AID"], page_size=1).status_code == 444
    again = requests.post(url(box, "/jderest/v2/tokenrequest/validate"), json={"token": tok}, timeout=10)
    assert again.status_code == 444


def test_a_token_requested_with_a_device_refuses_another_device(box):
    tok = token(box)
    headers = {**auth(tok), "jde-AIS-Auth-Device": "someone-else"}
    response = requests.post(url(box, ORCH), json=journal(), headers=headers, timeout=10)
    assert response.status_code == 444
    response = requests.post(url(box, ORCH), json=journal(), headers={**auth(tok), "jde-AIS-Auth-Device": "pytest"},
                             timeout=10)
    assert response.status_code == 200


def test_restart_fault_invalidates_every_token(box):
    first, second = token(box), token(box)
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "dataservice", "action": "restart", "count": 1})
    assert browse(box, first, "F0901", ["AID"], page_size=1).status_code == 444
    assert browse(box, second, "F0901", ["AID"], page_size=1).status_code == 444
    assert control(box, "GET", "jde/tokens")["live"] == 0
    assert browse(box, token(box), "F0901", ["AID"], page_size=1).status_code == 200


def test_injected_444_and_405_carry_the_vendor_bodies(box):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "tokenrequest", "action": "status", "status": 405,
                                         "count": 1})
    refused = login(box)
    assert refused.status_code == 405
    assert "Allowed Hosts" in refused.json()["message"] and "HTML server" in refused.json()["message"]
    tok = token(box)
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 444,
                                         "count": 1})
    rejected = post_journal(box, tok, journal())
    assert rejected.status_code == 444 and rejected.json()["message"] == "Invalid Token"
    assert control(box, "GET", "jde/F0911Z1") == []


def test_allowed_hosts_setting_refuses_other_callers_with_405(box):
    control(box, "POST", "config", json={"jde": {"allowed_hosts": ["10.9.9.9"]}})
    response = login(box)
    assert response.status_code == 405
    assert "Allowed Hosts" in response.json()["message"]
    control(box, "POST", "config", json={"jde": {"allowed_hosts": ["127.0.0.1"]}})
    assert login(box).status_code == 200


def test_unknown_paths_and_orchestrations_are_404(box):
    tok = token(box)
    assert requests.get(url(box, "/jderest/v2/nothing"), timeout=10).status_code == 404
    assert requests.get(url(box, "/jderest/v2/tokenrequest"), timeout=10).status_code == 404
    response = requests.post(url(box, "/jderest/v3/orchestrator/NoSuchOrch"), json={}, headers=auth(tok), timeout=10)
    assert response.status_code == 404 and response.json()["status"] == "ERROR"


# -- data -------------------------------------------------------------------------------------------------------
def test_chart_of_accounts_follows_the_catalog(box):
    accounts = {(r["GMMCU"].strip(), r["GMOBJ"], r["GMSUB"]): r for r in control(box, "GET", "jde/accounts")}
    for bu in catalog.BUSINESS_UNITS:
        for obj in catalog.EXPENSE_OBJECTS:
            for sub in ["", *catalog.COST_CENTERS]:
                row = accounts[(bu, obj, sub)]
                assert len(row["GMAID"]) == 8 and row["GMAID"].isdigit()
                assert row["GMMCU"] == bu.rjust(12)
                assert row["GMCO"] == catalog.COMPANY
    for offset in (catalog.EMPLOYEE_PAYABLE, catalog.CARD_CLEARING):
        assert accounts[offset]["GMPEC"] == ""
    for key, pec in catalog.RESTRICTED_ACCOUNTS.items():
        assert accounts[key]["GMPEC"] == pec
    assert all(r["GMPEC"] == "I" for k, r in accounts.items() if k[0] in catalog.INACTIVE_BUSINESS_UNITS)
    assert accounts[("200", "6110", "CC10")]["GMPEC"] == ""
    headers = [r for r in accounts.values() if r["GMPEC"] == "N" and r["GMLDA"] == "3"]
    assert len(headers) >= len(catalog.BUSINESS_UNITS)
    assert len({r["GMAID"] for r in accounts.values()}) == len(accounts)


def test_data_is_deterministic_per_seed_and_size_scales_suppliers():
    one = data.generate(7, 40, ANCHOR)
    assert one == data.generate(7, 40, ANCHOR)
    other = data.generate(8, 40, ANCHOR)
    assert [r["AID"] for r in one["F0901"]] != [r["AID"] for r in other["F0901"]]
    assert len(data.generate(7, 200, ANCHOR)["F0401"]) > len(one["F0401"])
    assert all(data.from_julian(r["UPMJ"]) < ANCHOR for r in one["F0901"])
    suppliers = {r["AN8"] for r in one["F0401"]}
    assert suppliers <= {r["AN8"] for r in one["F0101"] if r["AT1"] == "V"}


def test_julian_dates():
    assert data.to_julian(dt.date(2024, 1, 15)) == 124015
    assert data.from_julian(124015) == dt.date(2024, 1, 15)
    assert data.from_julian(99365) == dt.date(1999, 12, 31)


# -- data service -----------------------------------------------------------------------------------------------
def test_browse_rows_are_keyed_table_alias_with_padded_business_units(box):
    response = browse(box, token(box), "F0901", ["AID", "MCU", "OBJ", "SUB", "DL01", "PEC", "LDA", "CO", "UPMJ"],
                      [condition("F0901.MCU", "EQUAL", "200"), condition("F0901.OBJ", "EQUAL", "6110"),
                       condition("F0901.SUB", "EQUAL", "CC10")])
    assert response.status_code == 200
    grid = response.json()["fs_DATABROWSE_F0901"]["data"]["gridData"]
    assert grid["summary"] == {"records": 1, "moreRecords": False}
    row = grid["rowset"][0]
    assert row["F0901_MCU"] == "         200" and row["F0901_OBJ"] == "6110" and row["F0901_SUB"] == "CC10"
    assert set(row) == {f"F0901_{c}" for c in ("AID", "MCU", "OBJ", "SUB", "DL01", "PEC", "LDA", "CO", "UPMJ")}
    assert len(row["F0901_UPMJ"]) == 8 and row["F0901_UPMJ"].startswith("202")  # YYYYMMDD by default
    assert "links" not in response.json()


def test_paging_follows_next_links_through_every_row_once(box):
    tok = token(box)
    total = len(control(box, "GET", "jde/accounts"))
    rows, pages = browse_all(box, tok, "F0901", ["AID"], page_size=20)
    assert len(rows) == total and len({r["F0901_AID"] for r in rows}) == total
    assert pages == -(-total // 20)
    calls = control(box, "GET", "calls")["jde"]
    assert calls["dataservice"] == 1 and calls["dataservice/next"] == pages - 1


def test_first_page_says_more_records_and_without_next_page_processing_there_is_no_link(box):
    response = browse(box, token(box), "F0901", ["AID"], page_size=10, paging=False)
    grid = response.json()["fs_DATABROWSE_F0901"]["data"]["gridData"]
    assert grid["summary"] == {"records": 10, "moreRecords": True}
    assert next_link(response) is None


def test_result_set_expires_after_its_timeout(box):
    tok = token(box)
    first = browse(box, tok, "F0901", ["AID"], page_size=20)
    href = next_link(first)
    box.advance(61)
    response = requests.post(href, headers=auth(tok), timeout=10)
    assert response.status_code == 500
    assert "JAS_MSG347" in response.json()["sysErrors"][0]["TITLE"]


def test_each_next_page_renews_the_result_set_timeout(box):
    tok = token(box)
    response = browse(box, tok, "F0901", ["AID"], page_size=20)
    for _ in range(3):
        box.advance(50)
        response = requests.get(next_link(response), headers=auth(tok), timeout=10)
        assert response.status_code == 200


@pytest.mark.parametrize("conditions, match, expected", [
    ([condition("F0901.MCU", "EQUAL", "300")], "MATCH_ALL", lambda r: r["MCU"].strip() == "300"),
    ([condition("F0901.MCU", "NOT_EQUAL", "300")], "MATCH_ALL", lambda r: r["MCU"].strip() != "300"),
    ([condition("F0901.OBJ", "BETWEEN", "6100", "6130")], "MATCH_ALL", lambda r: "6100" <= r["OBJ"] <= "6130"),
    ([condition("F0901.OBJ", "LIST", "2100", "2150")], "MATCH_ALL", lambda r: r["OBJ"] in ("2100", "2150")),
    ([condition("F0901.OBJ", "LESS", "6100")], "MATCH_ALL", lambda r: r["OBJ"] < "6100"),
    ([condition("F0901.OBJ", "GREATER_EQUAL", "6500")], "MATCH_ALL", lambda r: r["OBJ"] >= "6500"),
    ([condition("F0901.DL01", "STR_START_WITH", "Meals")], "MATCH_ALL", lambda r: r["DL01"].startswith("Meals")),
    ([condition("F0901.DL01", "STR_CONTAIN", "Card")], "MATCH_ALL", lambda r: "Card" in r["DL01"]),
    ([condition("F0901.SUB", "STR_END_WITH", "30")], "MATCH_ALL", lambda r: r["SUB"].endswith("30")),
    ([condition("F0901.SUB", "STR_BLANK")], "MATCH_ALL", lambda r: r["SUB"] == ""),
    ([condition("F0901.PEC", "STR_NOT_BLANK")], "MATCH_ALL", lambda r: r["PEC"] != ""),
    ([condition("F0901.PEC", "EQUAL", "N"), condition("F0901.PEC", "EQUAL", "I")], "MATCH_ANY",
     lambda r: r["PEC"] in ("N", "I")),
    ([condition("F0901.MCU", "EQUAL", "200"), condition("F0901.SUB", "STR_BLANK")], "MATCH_ALL",
     lambda r: r["MCU"].strip() == "200" and r["SUB"] == ""),
])
def test_query_operators(box, conditions, match, expected):
    rows, _ = browse_all(box, token(box), "F0901", ["AID"], conditions, match=match, page_size=500)
    want = {r["AID"] for r in box.fakes["jde"].tables["F0901"] if expected(r)}
    assert want, "the case should select something"
    assert {r["F0901_AID"] for r in rows} == want


@pytest.mark.parametrize("literal", ["126100", "20260410", "04/10/2026", "2026-04-10"])
def test_date_conditions_accept_julian_yyyymmdd_and_user_format(box, literal):
    cutoff = dt.date(2026, 4, 10)
    rows, _ = browse_all(box, token(box), "F0901", ["AID", "UPMJ"], [condition("F0901.UPMJ", "GREATER_EQUAL", literal)],
                         page_size=500)
    want = {r["AID"] for r in box.fakes["jde"].tables["F0901"] if data.from_julian(r["UPMJ"]) >= cutoff}
    assert {r["F0901_AID"] for r in rows} == want
    assert all(r["F0901_UPMJ"] >= "20260410" for r in rows)


def test_today_minus_days_special_value(box):
    rows, _ = browse_all(box, token(box), "F0101", ["AN8", "UPMJ"],
                         [condition("F0101.UPMJ", "GREATER_EQUAL", "90", special="TODAY_MINUS_DAY")], page_size=500)
    cutoff = ANCHOR - dt.timedelta(days=90)
    want = {r["AN8"] for r in box.fakes["jde"].tables["F0101"] if data.from_julian(r["UPMJ"]) >= cutoff}
    assert {r["F0101_AN8"] for r in rows} == want


def test_order_by_descending(box):
    rows, _ = browse_all(box, token(box), "F0101", ["AN8", "ALPH"], order=[("AN8", "DESC")], page_size=7)
    numbers = [r["F0101_AN8"] for r in rows]
    assert numbers == sorted(numbers, reverse=True) and all(isinstance(n, int) for n in numbers)


def test_julian_grid_date_format_setting(box):
    control(box, "POST", "config", json={"jde": {"grid_date_format": "julian"}})
    rows = rows_of(browse(box, token(box), "F0901", ["UPMJ"], page_size=3), "F0901")
    assert all(isinstance(r["F0901_UPMJ"], int) and 100000 < r["F0901_UPMJ"] < 200000 for r in rows)


@pytest.mark.parametrize("body_change", [
    {"targetName": "F9999"},
    {"returnControlIDs": "F0901.NOPE"},
    {"query": {"condition": [condition("F0901.OBJ", "LIKE", "6%")]}},
    {"query": {"condition": [condition("F0901.OBJ", "BETWEEN", "6100")]}},
])
def test_bad_browse_requests_are_400(box, body_change):
    body = {"targetName": "F0901", "targetType": "table", "dataServiceType": "BROWSE", **body_change}
    response = requests.post(url(box, "/jderest/v2/dataservice"), json=body, headers=auth(token(box)), timeout=10)
    assert response.status_code == 400
    assert response.json()["status"] == "ERROR"


def test_simple_get_form_of_the_data_service(box):
    tok = token(box)
    supplier = box.fakes["jde"].tables["F0401"][0]
    response = requests.get(url(box, "/jderest/v2/dataservice/table/F0101"), headers=auth(tok), timeout=10,
                            params={"$field": "F0101.AN8,F0101.ALPH", "$filter": f"F0101.AN8 EQ {supplier['AN8']}",
                                    "$limit": "10"})
    assert response.status_code == 200
    assert [r["F0101_AN8"] for r in rows_of(response, "F0101")] == [supplier["AN8"]]


# -- orchestration --------------------------------------------------------------------------------------------------
def test_journal_orchestration_writes_f0911z1_rows(box):
    tok = token(box)
    response = post_journal(box, tok, journal("EXP-12345"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["jde__status"] == "SUCCESS" and body["BatchNumber"] and isinstance(body["DocumentNumber"], int)
    for key in ("jde__startTimestamp", "jde__endTimestamp", "jde__serverExecutionSeconds", "jde__simpleMessage"):
        assert key in body
    rows = control(box, "GET", "jde/F0911Z1", params={"reference": "EXP-12345"})
    assert len(rows) == 3
    accounts = {r["GMAID"]: r for r in control(box, "GET", "jde/accounts")}
    first = rows[0]
    assert first["VNEDUS"] == box.credentials()["jde"]["username"]
    assert first["VNEDBT"] == body["BatchNumber"] and first["VNDOC"] == body["DocumentNumber"]
    assert (first["VNEDSP"], first["VNEDTC"], first["VNEDTR"], first["VNLT"], first["VNAM"]) == ("0", "A", "J", "AA", "2")
    assert first["VNDCT"] == "JE" and first["VNCO"] == "00001" and first["VNCRCD"] == "USD"
    assert first["VNDGJ"] == data.to_julian(dt.date(2026, 11, 20))
    assert first["VNANI"] == "200.6110.CC10" and first["VNMCU"] == "         200" and first["VNSUB"] == "CC10"
    assert accounts[first["VNAID"]]["GMOBJ"] == "6110" and accounts[first["VNAID"]]["GMSUB"] == "CC10"
    assert first["VNEXA"] == "Meals" and first["VNKCO"] == "00001"
    assert body["Existing"] is False
    assert [r["VNEDLN"] for r in rows] == [1, 2, 3]
    assert [Decimal(r["VNAA"]) for r in rows] == [Decimal("123.45"), Decimal("300.00"), Decimal("-423.45")]
    assert sum(Decimal(r["VNAA"]) for r in rows) == 0
    # the line Remark input is ignored: every line's remark carries the reference, which survives processing
    assert [r["VNEXR"] for r in rows] == ["EXP-12345"] * 3
    batches = control(box, "GET", "jde/batches")
    assert batches == [{"user": first["VNEDUS"], "batch": body["BatchNumber"], "reference": "EXP-12345",
                        "document_type": "JE", "document": body["DocumentNumber"], "company": "00001",
                        "gl_date": "2026-11-20", "currency": "USD", "lines": 3, "net": "0.00", "processed": False}]


def test_without_idempotency_the_same_reference_posted_twice_makes_two_batches_like_raw_z_writes(box):
    control(box, "POST", "config", json={"jde": {"journal_idempotent": False}})
    tok = token(box)
    first = post_journal(box, tok, journal("EXP-7")).json()
    second = post_journal(box, tok, journal("EXP-7")).json()
    assert first["BatchNumber"] != second["BatchNumber"]
    assert second["DocumentNumber"] == first["DocumentNumber"] + 1
    assert {b["batch"] for b in control(box, "GET", "jde/batches") if b["reference"] == "EXP-7"} == {
        first["BatchNumber"], second["BatchNumber"]}


def test_written_rows_can_be_found_through_the_data_service(box):
    tok = token(box)
    body = post_journal(box, tok, journal("EXP-55", GLDate="20261120", User="apuser")).json()
    post_journal(box, tok, journal("EXP-56"))
    rows, _ = browse_all(box, tok, "F0911Z1", ["EDUS", "EDBT", "EDTN", "EDLN", "DOC", "AA", "DGJ"],
                         [condition("F0911Z1.EDTN", "EQUAL", "EXP-55")])
    assert len(rows) == 3
    assert {r["F0911Z1_EDBT"] for r in rows} == {body["BatchNumber"]}
    assert {r["F0911Z1_EDUS"] for r in rows} == {"APUSER"}
    assert {r["F0911Z1_DGJ"] for r in rows} == {"20261120"}
    assert sorted(r["F0911Z1_AA"] for r in rows) == [-423.45, 123.45, 300.0]


@pytest.mark.parametrize("change, words", [
    ({"Lines": [{"Account": "200.6110.CC99", "Amount": "10"}, {"Account": "100.2100", "Amount": "-10"}]},
     ["200.6110.CC99", "not in F0901"]),
    ({"Lines": [{"Account": "300.6900", "Amount": "10"}, {"Account": "100.2100", "Amount": "-10"}]},
     ["300.6900", "non-posting"]),
    ({"Lines": [{"Account": "900.6110", "Amount": "10"}, {"Account": "100.2100", "Amount": "-10"}]},
     ["900.6110", "inactive"]),
    ({"Lines": [{"Account": "200.6110", "Amount": "10.00"}, {"Account": "100.2100", "Amount": "-9.99"}]},
     ["out of balance", "0.01"]),
    ({"Lines": [{"Account": "200.6110", "Amount": "10.005"}, {"Account": "100.2100", "Amount": "-10.005"}]},
     ["more decimals", "USD"]),
    ({"Currency": "JPY", "Lines": [{"Account": "200.6110", "Amount": "10.5"}, {"Account": "100.2100", "Amount": "-10.5"}]},
     ["more decimals", "JPY"]),
    ({"Currency": "XXX"}, ["Currency", "XXX"]),
    ({"GLDate": "2026-13-45"}, ["GL date", "2026-13-45"]),
    ({"GLDate": ""}, ["GL date"]),
    ({"Lines": []}, ["no lines"]),
    ({"BatchReference": "EXP-" + "9" * 20}, ["longer than 22"]),
    ({"BatchReference": ""}, ["BatchReference is required"]),
    ({"Lines": [{"Account": "6110", "Amount": "1"}]}, ["BU.OBJ.SUB"]),
    ({"Lines": [{"Account": "200.6110", "Amount": "ten"}, {"Account": "100.2100", "Amount": "-10"}]}, ["not a number"]),
])
def test_definite_rejections_are_500_with_user_defined_error_text_and_write_nothing(box, change, words):
    response = post_journal(box, token(box), journal(**change))
    assert response.status_code == 500
    body = response.json()
    assert body["status"] == "ERROR"
    for word in words:
        assert word in body["userDefinedErrorText"], body
    assert control(box, "GET", "jde/F0911Z1") == []


def test_jpy_whole_amounts_and_zero_decimal_display_values_are_accepted(box):
    tok = token(box)
    lines = [{"Account": "300.6100.CC20", "Amount": "15000"}, {"Account": "100.2150", "Amount": "-15000.00"}]
    response = post_journal(box, tok, journal("EXP-JPY", lines=lines, Currency="JPY"))
    assert response.status_code == 200, response.text
    assert [r["VNAA"] for r in control(box, "GET", "jde/F0911Z1")] == ["15000", "-15000"]


def test_an_account_made_inactive_through_control_is_refused(box):
    tok = token(box)
    changed = control(box, "POST", "jde/accounts", json={"account": "200.6110.CC10", "PEC": "I"})
    assert changed["GMPEC"] == "I"
    response = post_journal(box, tok, journal())
    assert response.status_code == 500
    assert "200.6110.CC10 is inactive" in response.json()["userDefinedErrorText"]
    rows = rows_of(browse(box, tok, "F0901", ["PEC"], [condition("F0901.AID", "EQUAL", changed["GMAID"])]), "F0901")
    assert rows == [{"F0901_PEC": "I"}]
    added = control(box, "POST", "jde/accounts", json={"account": "200.7777", "DL01": "New account"})
    assert added["GMPEC"] == "" and len(added["GMAID"]) == 8


def test_drop_after_commits_the_journal_but_the_caller_gets_no_answer(box):
    tok = token(box)
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "drop_after", "count": 1})
    with pytest.raises(requests.ConnectionError):
        post_journal(box, tok, journal("EXP-DROP"))
    assert len(control(box, "GET", "jde/F0911Z1", params={"reference": "EXP-DROP"})) == 3


def test_injected_503_is_html_and_writes_nothing(box):
    tok = token(box)
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 503,
                                         "count": 1})
    response = post_journal(box, tok, journal())
    assert response.status_code == 503 and "text/html" in response.headers["Content-Type"]
    assert control(box, "GET", "jde/F0911Z1") == []


def test_orchestration_name_is_configurable_and_listed_in_the_catalog(box):
    control(box, "POST", "config", json={"jde": {"journal_orchestration": "ACME_JournalIn"}})
    tok = token(box)
    assert post_journal(box, tok, journal()).status_code == 404
    response = requests.post(url(box, "/jderest/v2/orchestrator/ACME_JournalIn"), json=journal(), headers=auth(tok),
                             timeout=10)
    assert response.status_code == 200
    catalog_doc = requests.get(url(box, "/jderest/v3/open-api-catalog3"), headers=auth(tok), timeout=10).json()
    assert "/v3/orchestrator/ACME_JournalIn" in catalog_doc["paths"]
    assert control(box, "GET", "calls")["jde"]["orchestrator"] == 2


def test_reset_clears_journals_tokens_and_restores_config(box):
    tok = token(box)
    control(box, "POST", "config", json={"jde": {"token_lifetime": 5}})
    post_journal(box, tok, journal())
    control(box, "POST", "jde/process")
    control(box, "POST", "reset", json={"seed": 7, "size": 40, "anchor": ANCHOR.isoformat()})
    assert control(box, "GET", "jde/F0911Z1") == [] and control(box, "GET", "jde/F0911") == []
    assert control(box, "GET", "jde/tokens") == {"live": 0, "result_sets": 0}
    assert control(box, "GET", "config")["jde"]["token_lifetime"] == 1800


# -- idempotent orchestration -------------------------------------------------------------------------------------
def test_the_same_reference_posted_twice_answers_the_existing_journal_and_writes_nothing(box):
    tok = token(box)
    first = post_journal(box, tok, journal("EXP-7")).json()
    response = post_journal(box, tok, journal("EXP-7", Explanation="another text"))
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["Existing"] is True and second["jde__status"] == "SUCCESS"
    assert (second["BatchNumber"], second["DocumentNumber"]) == (first["BatchNumber"], first["DocumentNumber"])
    assert "already exists" in second["jde__simpleMessage"] and "EXP-7" in second["jde__simpleMessage"]
    assert len(control(box, "GET", "jde/F0911Z1")) == 3
    assert len(control(box, "GET", "jde/batches")) == 1
    assert control(box, "GET", "calls")["jde"]["orchestrator"] == 2


def test_an_existing_journal_is_answered_before_validation(box):
    tok = token(box)
    first = post_journal(box, tok, journal("EXP-8")).json()
    control(box, "POST", "jde/accounts", json={"account": "200.6110.CC10", "PEC": "I"})
    again = post_journal(box, tok, journal("EXP-8"))
    assert again.status_code == 200 and again.json()["Existing"] is True
    assert again.json()["BatchNumber"] == first["BatchNumber"]
    assert post_journal(box, tok, journal("EXP-9")).status_code == 500  # a new reference is still validated


def test_idempotency_holds_after_processing_and_after_purge(box):
    tok = token(box)
    first = post_journal(box, tok, journal("EXP-10")).json()
    control(box, "POST", "jde/process")
    processed = post_journal(box, tok, journal("EXP-10")).json()
    assert processed["Existing"] is True and processed["DocumentNumber"] == first["DocumentNumber"]
    control(box, "POST", "jde/purge")
    assert control(box, "GET", "jde/F0911Z1") == []
    purged = post_journal(box, tok, journal("EXP-10")).json()
    assert purged["Existing"] is True and "F0911" in purged["jde__simpleMessage"]
    assert (purged["BatchNumber"], purged["DocumentNumber"]) == (first["BatchNumber"], first["DocumentNumber"])
    assert control(box, "GET", "jde/F0911Z1") == []
    assert len(control(box, "GET", "jde/F0911", params={"reference": "EXP-10"})) == 3


# -- batch processor, purge and F0911 ------------------------------------------------------------------------------
def test_process_copies_unprocessed_z_rows_into_f0911_and_marks_them(box):
    tok = token(box)
    body = post_journal(box, tok, journal("EXP-20")).json()
    post_journal(box, tok, journal("EXP-21"))
    answer = control(box, "POST", "jde/process", json={"reference": "EXP-20"})
    assert (answer["journals"], answer["lines"], answer["errors"]) == (1, 3, [])
    assert answer["processed"][0]["batch"] == body["BatchNumber"]
    z_rows = {r["VNEDTN"]: r["VNEDSP"] for r in control(box, "GET", "jde/F0911Z1")}
    assert z_rows == {"EXP-20": "1", "EXP-21": "0"}
    ledger = control(box, "GET", "jde/F0911", params={"reference": "EXP-20"})
    assert len(ledger) == 3 and control(box, "GET", "jde/F0911", params={"reference": "EXP-21"}) == []
    first = ledger[0]
    assert (first["GLKCO"], first["GLDCT"], first["GLDOC"], first["GLCO"]) == ("00001", "JE", body["DocumentNumber"],
                                                                                "00001")
    assert (first["GLICU"], first["GLICUT"], first["GLPOST"], first["GLLT"]) == (int(body["BatchNumber"]), "G", "", "AA")
    assert (first["GLEXA"], first["GLEXR"], first["GLANI"], first["GLCRCD"]) == ("Meals", "EXP-20", "200.6110.CC10", "USD")
    assert first["GLDGJ"] == data.to_julian(dt.date(2026, 11, 20)) and first["GLMCU"] == "         200"
    assert [r["GLJELN"] for r in ledger] == [1, 2, 3]
    assert [Decimal(r["GLAA"]) for r in ledger] == [Decimal("123.45"), Decimal("300.00"), Decimal("-423.45")]
    assert control(box, "POST", "jde/process")["journals"] == 1  # the rest
    assert control(box, "POST", "jde/process") == {"journals": 0, "lines": 0, "processed": [], "errors": []}
    assert all(b["processed"] for b in control(box, "GET", "jde/batches"))


def test_f0911_and_processed_f0911z1_rows_are_browsed_through_the_data_service(box):
    tok = token(box)
    body = post_journal(box, tok, journal("EXP-30")).json()
    post_journal(box, tok, journal("EXP-31"))
    control(box, "POST", "jde/process", json={"batch": body["BatchNumber"]})
    rows, _ = browse_all(box, tok, "F0911", ["KCO", "DCT", "DOC", "JELN", "AA", "EXR", "ICU", "ICUT", "DGJ"],
                         [condition("F0911.EXR", "EQUAL", "EXP-30")], order=[("JELN", "ASC")])
    assert [r["F0911_JELN"] for r in rows] == [1, 2, 3]
    assert {(r["F0911_KCO"], r["F0911_DCT"], r["F0911_DOC"], r["F0911_ICU"], r["F0911_ICUT"]) for r in rows} == {
        ("00001", "JE", body["DocumentNumber"], int(body["BatchNumber"]), "G")}
    assert {r["F0911_DGJ"] for r in rows} == {"20261120"} and sum(r["F0911_AA"] for r in rows) == 0
    processed, _ = browse_all(box, tok, "F0911Z1", ["EDTN", "EDSP"], [condition("F0911Z1.EDSP", "EQUAL", "1")])
    waiting, _ = browse_all(box, tok, "F0911Z1", ["EDTN", "EDSP"], [condition("F0911Z1.EDSP", "EQUAL", "0")])
    assert {r["F0911Z1_EDTN"] for r in processed} == {"EXP-30"} and len(processed) == 3
    assert {r["F0911Z1_EDTN"] for r in waiting} == {"EXP-31"} and len(waiting) == 3


def test_purge_deletes_only_processed_z_rows(box):
    tok = token(box)
    for reference in ("EXP-40", "EXP-41", "EXP-42"):
        post_journal(box, tok, journal(reference))
    control(box, "POST", "jde/process", json={"reference": "EXP-40"})
    control(box, "POST", "jde/process", json={"reference": "EXP-41"})
    assert control(box, "POST", "jde/purge", json={"reference": "EXP-41"}) == {"journals": 1, "lines": 3}
    assert {r["VNEDTN"] for r in control(box, "GET", "jde/F0911Z1")} == {"EXP-40", "EXP-42"}
    assert control(box, "POST", "jde/purge") == {"journals": 1, "lines": 3}
    assert {r["VNEDTN"] for r in control(box, "GET", "jde/F0911Z1")} == {"EXP-42"}  # unprocessed: kept
    assert {r["GLEXR"] for r in control(box, "GET", "jde/F0911")} == {"EXP-40", "EXP-41"}


def test_process_refuses_a_document_number_already_in_f0911(box):
    tok = token(box)
    post_journal(box, tok, journal("EXP-50"))
    control(box, "POST", "jde/process")
    fake = box.fakes["jde"]
    # a second transaction reusing the document number, as a writer choosing VNDOC itself could
    fake.tables["F0911Z1"] += [{**r, "EDBT": "99999", "EDTN": "EXP-51", "EDSP": "0"} for r in fake.tables["F0911Z1"]]
    answer = control(box, "POST", "jde/process")
    assert answer["journals"] == 0 and len(answer["errors"]) == 1
    assert "already exists in F0911" in answer["errors"][0]["message"]
    assert {r["VNEDSP"] for r in control(box, "GET", "jde/F0911Z1", params={"reference": "EXP-51"})} == {"0"}
    assert len(control(box, "GET", "jde/F0911")) == 3


def test_auto_process_setting_processes_each_journal_when_written(box):
    control(box, "POST", "config", json={"jde": {"auto_process": True}})
    body = post_journal(box, token(box), journal("EXP-60")).json()
    assert {r["VNEDSP"] for r in control(box, "GET", "jde/F0911Z1")} == {"1"}
    assert {r["GLDOC"] for r in control(box, "GET", "jde/F0911", params={"reference": "EXP-60"})} == {
        body["DocumentNumber"]}


@pytest.mark.parametrize("body", [[1, 2], {"nope": 1}])
def test_process_and_purge_refuse_unknown_selections(box, body):
    for endpoint in ("process", "purge"):
        response = requests.post(f"{box.url}/_sandbox/jde/{endpoint}", json=body, timeout=10)
        assert response.status_code == 400


def test_an_amount_beyond_fifteen_digits_is_rejected(box):
    lines = [{"Account": "200.6110", "Amount": "10000000000000.00"}, {"Account": "100.2100", "Amount": "-10000000000000.00"}]
    response = post_journal(box, token(box), journal("EXP-70", lines=lines))
    assert response.status_code == 500 and "more digits than VNAA" in response.json()["userDefinedErrorText"]
    lines = [{"Account": "200.6110", "Amount": "9999999999999.99"}, {"Account": "100.2100", "Amount": "-9999999999999.99"}]
    assert post_journal(box, token(box), journal("EXP-71", lines=lines)).status_code == 200
