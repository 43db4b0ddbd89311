"""The fake Expensify Integration Server over real HTTP (no Django needed)."""

import datetime as dt
import json
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests

from sandbox import catalog
from sandbox.expensify_data import generate
from tests.sandbox_fixtures import ANCHOR, sandbox_fixtures

PATH = "/Integration-Server/ExpensifyIntegrations"
TEMPLATE = (
    '[<#list reports as r>{"reportID":"${r.reportID?json_string}","total":${r.total?c},'
    '"currency":"${r.currency}","status":"${r.status}","approved":"${(r.approved)!""}",'
    '"policyID":"${r.policyID}","created":"${r.created}",'
    '"expenses":[<#list r.transactionList as e>{"id":"${e.transactionID}","amount":${e.amount?c},'
    '"converted":${e.convertedAmount?c},"currency":"${e.currency}","category":"${e.category?json_string}",'
    '"gl":"${e.categoryGlCode}","reimbursable":${e.reimbursable?string("true","false")}}<#sep>,</#sep></#list>]}'
    "<#sep>,</#list>]"
)


server, box = sandbox_fixtures(systems=["expensify"], size=60, config={"expensify": {"rate_limit": [[1000, 1]]}})


@pytest.fixture
def creds(box):
    return box.fakes["expensify"].credentials()


def post(box, job, **fields):
    return requests.post(box.system_url("expensify") + PATH,
                         data={"requestJobDescription": json.dumps(job), **fields}, timeout=10)


def export_job(creds, filters=None, state="APPROVED,REIMBURSED", **extra):
    job = {"type": "file", "credentials": creds, "onReceive": {"immediateResponse": ["returnRandomFileName"]},
           "inputSettings": {"type": "combinedReportData", "reportState": state,
                             "filters": filters if filters is not None else {"startDate": "2026-01-01"}},
           "outputSettings": {"fileExtension": "json"}}
    job.update(extra)
    return job


def export(box, creds, filters=None, state="APPROVED,REIMBURSED", template=TEMPLATE, **extra):
    response = post(box, export_job(creds, filters, state, **extra), template=template)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain"), response.text
    name = response.text
    assert name.startswith("export") and name.endswith(".json")
    download = post(box, {"type": "download", "credentials": creds, "fileName": name, "fileSystem": "integrationServer"})
    assert download.status_code == 200
    return json.loads(download.content)


def reports_in(box, *states):
    fake = box.fakes["expensify"]
    return [r for r in fake.reports.values() if not states or r["state"] in states]


# ---------------------------------------------------------------- generated data
def test_generation_is_deterministic_and_seed_dependent():
    a = generate(5, 80, ANCHOR)
    b = generate(5, 80, ANCHOR)
    c = generate(6, 80, ANCHOR)
    assert a == b
    assert a[1] != c[1]


def test_money_is_consistent_to_the_cent():
    policies, reports = generate(3, 400, ANCHOR)
    currencies, foreign = Counter(), 0
    for report in reports.values():
        assert report["currency"] == policies[report["policyID"]]["outputCurrency"]
        assert report["total"] == sum(t["convertedAmount"] for t in report["transactionList"])
        assert 1 <= len(report["transactionList"]) <= 8
        for txn in report["transactionList"]:
            assert isinstance(txn["amount"], int) and isinstance(txn["convertedAmount"], int)
            currencies[txn["currency"]] += 1
            if txn["currency"] == report["currency"]:
                assert txn["convertedAmount"] == txn["amount"] and txn["currencyConversionRate"] == 1
            else:
                foreign += 1
                exp_from = catalog.CURRENCY_EXPONENTS[txn["currency"]]
                exp_to = catalog.CURRENCY_EXPONENTS[report["currency"]]
                expected = (Decimal(txn["amount"]).scaleb(-exp_from) * Decimal(str(txn["currencyConversionRate"])))
                expected = int(expected.scaleb(exp_to).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
                assert txn["convertedAmount"] == expected
    assert foreign > 50
    assert {"USD", "EUR", "GBP", "CAD", "JPY"} <= set(currencies)
    jpy = [t for r in reports.values() for t in r["transactionList"] if t["currency"] == "JPY"]
    assert all(t["amount"] >= 50 for t in jpy)  # whole yen: a few dollars is hundreds of yen


def test_shape_of_reports_and_expenses():
    policies, reports = generate(7, 300, ANCHOR)
    states = Counter(r["state"] for r in reports.values())
    assert set(states) == {"OPEN", "SUBMITTED", "APPROVED", "REIMBURSED", "ARCHIVED"}
    assert states["APPROVED"] + states["REIMBURSED"] > 0.6 * 300
    limit = dt.datetime.combine(ANCHOR, dt.time())
    for report in reports.values():
        assert report["reportID"].isdigit()
        created = dt.datetime.strptime(report["created"], "%Y-%m-%d %H:%M:%S")
        assert created < limit and created > limit - dt.timedelta(days=181)
        if report["state"] in ("APPROVED", "REIMBURSED", "ARCHIVED"):
            assert report["approved"] >= report["submitted"] >= report["created"]
            assert report["managerEmail"]
        else:
            assert report["approved"] is None
        assert report["status"] == {"OPEN": "Open", "SUBMITTED": "Processing", "APPROVED": "Approved",
                                    "REIMBURSED": "Reimbursed", "ARCHIVED": "Closed"}[report["state"]]
    expenses = [t for r in reports.values() for t in r["transactionList"]]
    cards = [t for t in expenses if not t["reimbursable"]]
    assert cards and all(t["cardID"] and t["bank"] and t["mcc"] for t in cards)
    assert all(t["cardNumber"].startswith("XXXX") and len(t["cardNumber"]) == 8 for t in cards)
    assert all(t["cardID"] == "" for t in expenses if t["reimbursable"])
    tags = Counter("empty" if not t["tag"] else "pair" if ":" in t["tag"] else "single" for t in expenses)
    assert tags["empty"] and tags["pair"] > tags["empty"]
    for t in expenses:
        if ":" in t["tag"]:
            cost_center, project = t["tag"].split(":")
            assert cost_center in catalog.COST_CENTERS and project in catalog.TAG_LEVELS["Project"]
        assert t["category"] in catalog.CATEGORIES
    assert len({t["transactionID"] for t in expenses}) == len(expenses)


def test_a_gifts_expense_is_always_on_an_approved_report():
    for seed in range(1, 6):
        _, reports = generate(seed, 20, ANCHOR)
        first_approved = next(r for r in reports.values() if r["state"] == "APPROVED")
        assert first_approved["transactionList"][0]["category"] == "Gifts"


def test_generation_scales():
    start = time.perf_counter()
    _, reports = generate(1, 2000, ANCHOR)
    assert len(reports) == 2000
    assert time.perf_counter() - start < 2.0


# ---------------------------------------------------------------- export and download
def test_export_renders_the_callers_template_with_integer_cents(box, creds):
    rows = export(box, creds)
    expected = [r for r in reports_in(box, "APPROVED", "REIMBURSED") if r["created"] >= "2026-01-01"]
    assert {r["reportID"] for r in rows} == {r["reportID"] for r in expected}
    fake = box.fakes["expensify"]
    for row in rows:
        report = fake.reports[row["reportID"]]
        assert row["total"] == report["total"] == sum(e["converted"] for e in row["expenses"])
        assert row["status"] in ("Approved", "Reimbursed")
        for expense in row["expenses"]:
            assert expense["gl"] == (catalog.CATEGORIES[expense["category"]] or "")


def test_limit_applies_after_filters_in_approved_then_id_order(box, creds):
    all_rows = export(box, creds, filters={"approvedAfter": "2026-01-01"})
    keys = [(r["approved"], int(r["reportID"])) for r in all_rows]
    assert keys == sorted(keys)
    job = export_job(creds, {"approvedAfter": "2026-01-01"})
    job["inputSettings"]["limit"] = "3"
    name = post(box, job, template=TEMPLATE).text
    limited = json.loads(post(box, {"type": "download", "credentials": creds, "fileName": name,
                                    "fileSystem": "integrationServer"}).content)
    assert [r["reportID"] for r in limited] == [r["reportID"] for r in all_rows[:3]]


def test_approved_after_is_strict(box, creds):
    approved = sorted(reports_in(box, "APPROVED", "REIMBURSED"), key=lambda r: r["approved"])
    day = approved[len(approved) // 2]["approved"][:10]
    rows = export(box, creds, filters={"approvedAfter": day})
    assert rows and all(r["approved"][:10] > day for r in rows)
    assert len(rows) == sum(1 for r in approved if r["approved"][:10] > day)


def test_start_and_end_date_are_inclusive_on_the_later_of_created_and_submitted(box, creds):
    report = reports_in(box, "APPROVED")[0]
    day = max(report["created"], report["submitted"])[:10]
    rows = export(box, creds, filters={"startDate": day, "endDate": day}, state="APPROVED")
    assert report["reportID"] in {r["reportID"] for r in rows}
    for row in rows:
        source = box.fakes["expensify"].reports[row["reportID"]]
        assert max(source["created"], source["submitted"])[:10] == day


def test_report_and_policy_id_lists_accept_comma_strings_and_arrays(box, creds):
    ids = [r["reportID"] for r in reports_in(box, "APPROVED", "REIMBURSED")[:4]]
    as_string = export(box, creds, filters={"reportIDList": ",".join(ids)})
    as_array = export(box, creds, filters={"reportIDList": ids})
    assert sorted(r["reportID"] for r in as_string) == sorted(r["reportID"] for r in as_array) == sorted(ids)
    hq = catalog.POLICIES["HQ"][0]
    by_string = export(box, creds, filters={"startDate": "2026-01-01", "policyIDList": hq})
    by_array = export(box, creds, filters={"startDate": "2026-01-01", "policyIDList": [hq]})
    assert by_string == by_array and by_string and {r["policyID"] for r in by_string} == {hq}


def test_report_state_filter(box, creds):
    rows = export(box, creds, state="OPEN,SUBMITTED")
    assert rows and {r["status"] for r in rows} <= {"Open", "Processing"}
    response = post(box, export_job(creds, state="APPROVED,DONE"), template=TEMPLATE)
    assert response.json() == {"responseCode": 410, "responseMessage": "Invalid reportState 'DONE'"}


def test_mark_as_exported_then_filter_by_label(box, creds):
    ids = [r["reportID"] for r in reports_in(box, "APPROVED")[:3]]
    job = export_job(creds, {"reportIDList": ",".join(ids)}, onFinish=[{"actionName": "markAsExported", "label": "ERP"}])
    assert post(box, job, template=TEMPLATE).status_code == 200
    assert all("ERP" in box.fakes["expensify"].reports[i]["labels"] for i in ids)
    rows = export(box, creds, filters={"startDate": "2026-01-01", "markedAsExported": "ERP"})
    returned = {r["reportID"] for r in rows}
    assert not returned & set(ids)
    assert len(returned) == len([r for r in reports_in(box, "APPROVED", "REIMBURSED") if r["created"] >= "2026-01-01"]) - 3


def test_test_mode_skips_on_finish(box, creds):
    ids = [r["reportID"] for r in reports_in(box, "APPROVED")[:2]]
    job = export_job(creds, {"reportIDList": ids}, test="true",
                     onFinish=[{"actionName": "markAsExported", "label": "ERP"}])
    assert post(box, job, template=TEMPLATE).status_code == 200
    assert not any(box.fakes["expensify"].reports[i]["labels"] for i in ids)


def test_validation_errors_use_expensifys_shape(box, creds):
    cases = [
        ({"startDate": "16-01-01"}, "Malformed date '16-01-01'. Expected format is yyyy-MM-dd"),
        ({"approvedAfter": "2026-13-01"}, "Malformed date '2026-13-01'. Expected format is yyyy-MM-dd"),
        ({"markedAsExported": "x"}, "Required parameter 'startDate' is missing"),
        ({"startDate": "2025-06-01"}, "Required parameter 'endDate' is missing"),
        ({"startDate": "2024-01-01", "endDate": "2026-01-01"}, "cannot exceed one year"),
    ]
    for filters, message in cases:
        response = post(box, export_job(creds, filters), template=TEMPLATE)
        assert response.status_code == 200
        body = response.json()
        assert body["responseCode"] == 410 and message in body["responseMessage"], (filters, body)
    assert post(box, export_job(creds, {"startDate": "2025-06-01", "endDate": "2026-05-31"}),
                template=TEMPLATE).headers["Content-Type"].startswith("text/plain")
    missing_template = post(box, export_job(creds)).json()
    assert missing_template["responseCode"] == 410 and "'template'" in missing_template["responseMessage"]
    bad_limit = export_job(creds)
    bad_limit["inputSettings"]["limit"] = "ten"
    assert post(box, bad_limit, template=TEMPLATE).json()["responseCode"] == 410


def test_missing_on_receive_is_a_bare_500(box, creds):
    job = export_job(creds)
    del job["onReceive"]
    response = post(box, job, template=TEMPLATE)
    assert response.status_code == 500 and response.content == b""


def test_template_error_is_response_code_500_with_the_message(box, creds):
    response = post(box, export_job(creds), template="<#list reports as r>${r.transactionList[0].reimbursable}</#list>")
    body = response.json()
    assert body["responseCode"] == 500 and "boolean" in body["responseMessage"]
    unsupported = post(box, export_job(creds), template="<#macro x></#macro>").json()
    assert unsupported["responseCode"] == 500 and "unsupported directive <#macro>" in unsupported["responseMessage"]


def test_numbers_without_c_are_formatted_for_humans(box, creds):
    report = max(reports_in(box, "APPROVED"), key=lambda r: r["total"])
    job = export_job(creds, {"reportIDList": report["reportID"]})
    name = post(box, job, template="<#list reports as r>${r.total}|${r.total?c}</#list>").text
    text = post(box, {"type": "download", "credentials": creds, "fileName": name, "fileSystem": "integrationServer"}).text
    assert text == f"{report['total']:,}|{report['total']}"


def test_download_errors(box, creds):
    unknown = post(box, {"type": "download", "credentials": creds, "fileName": "exportnope.json",
                         "fileSystem": "integrationServer"}).json()
    assert unknown["responseCode"] == 404
    nested = post(box, {"type": "download", "credentials": creds, "inputSettings": {}, "fileName": "x",
                        "fileSystem": "integrationServer"}).json()
    assert nested["responseCode"] == 410


def test_file_name_uses_basename_and_is_listed(box, creds):
    job = export_job(creds, outputSettings={"fileExtension": "csv", "fileBasename": "myExport"})
    name = post(box, job, template="id\n<#list reports as r>${r.reportID}\n</#list>").text
    assert name.startswith("myExport") and name.endswith(".csv")
    files = requests.get(f"{box.url}/_sandbox/expensify/files", timeout=5).json()
    assert [f["name"] for f in files] == [name]
    content = requests.get(f"{box.url}/_sandbox/expensify/files/{name}", timeout=5).text
    assert content.splitlines()[0] == "id" and len(content.splitlines()) == files[0]["reports"] + 1


# ---------------------------------------------------------------- auth and rate limits
def test_bad_credentials(box, creds):
    wrong = dict(creds, partnerUserSecret="wrong")
    response = post(box, {"type": "get", "credentials": wrong, "inputSettings": {"type": "policyList"}})
    assert response.status_code == 200
    assert response.json() == {"responseCode": 401, "responseMessage": "Authentication error"}
    missing = post(box, {"type": "get", "inputSettings": {"type": "policyList"}}).json()
    assert missing["responseCode"] == 401
    box.config["expensify"]["auth_error_http_status"] = 401
    assert post(box, {"type": "get", "credentials": wrong, "inputSettings": {"type": "policyList"}}).status_code == 401


def test_unreadable_job_description(box):
    response = requests.post(box.system_url("expensify") + PATH, data={"requestJobDescription": "{nope"}, timeout=5)
    assert response.json()["responseCode"] == 410
    assert box.calls["expensify"]["invalid"] == 1


def test_rate_limit_windows_and_retry_after(box, creds):
    box.config["expensify"]["rate_limit"] = [[5, 10], [20, 60]]
    job = {"type": "get", "credentials": creds, "inputSettings": {"type": "policyList"}}
    codes = [post(box, job).status_code for _ in range(5)]
    assert codes == [200] * 5
    limited = post(box, job)
    assert limited.status_code == 429
    assert limited.json() == {"responseCode": 429, "responseMessage": "You have been rate-limited. Please try again "
                                                                    "later or contact help@expensify.com for assistance."}
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    other = post(box, {**job, "credentials": {"partnerUserID": "someone_else", "partnerUserSecret": "x"}})
    assert other.json()["responseCode"] == 401  # limits are per partnerUserID
    box.advance(11)
    assert [post(box, job).status_code for _ in range(5)] == [200] * 5
    box.advance(11)
    assert [post(box, job).status_code for _ in range(5)] == [200] * 5
    box.advance(11)
    assert [post(box, job).status_code for _ in range(5)] == [200] * 5
    box.advance(11)
    capped = post(box, job)  # 20 in the last minute
    assert capped.status_code == 429 and int(capped.headers["Retry-After"]) > 10


def test_injected_faults_carry_expensifys_body(box, creds):
    box.faults.add(system="expensify", endpoint="get:policyList", action="status", status=429, retry_after=3, count=1)
    job = {"type": "get", "credentials": creds, "inputSettings": {"type": "policyList"}}
    response = post(box, job)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json()["responseCode"] == 429 and "rate-limited" in response.json()["responseMessage"]
    box.faults.add(system="expensify", endpoint="download", action="status", status=500, count=1)
    failed = post(box, {"type": "download", "credentials": creds, "fileName": "x", "fileSystem": "integrationServer"})
    assert failed.status_code == 500 and failed.json()["responseCode"] == 500
    assert box.calls["expensify"] == Counter({"get:policyList": 1, "download": 1})


# ---------------------------------------------------------------- policies
def test_policy_list_and_getter(box, creds):
    listed = post(box, {"type": "get", "credentials": creds, "inputSettings": {"type": "policyList", "adminOnly": True}})
    policies = listed.json()["policyList"]
    assert {p["name"]: (p["id"], p["outputCurrency"]) for p in policies} == {
        name: (pid, currency) for name, (pid, currency, _) in catalog.POLICIES.items()}
    hq = catalog.POLICIES["HQ"][0]
    job = {"type": "get", "credentials": creds,
           "inputSettings": {"type": "policy", "policyIDList": [hq], "fields": ["categories", "tags", "employees",
                                                                                 "reportFields"]}}
    info = post(box, job).json()
    assert info["responseCode"] == 200
    policy = info["policyInfo"][hq]
    assert {c["name"]: c["glCode"] for c in policy["categories"]} == {k: v or "" for k, v in catalog.CATEGORIES.items()}
    assert [lvl["name"] for lvl in policy["tags"]] == ["Cost Center", "Project"]
    assert [t["name"] for t in policy["tags"][0]["tags"]] == catalog.COST_CENTERS
    assert all(t["enabled"] for t in policy["tags"][0]["tags"])
    assert len(policy["employees"]) >= 4 and all("@" in e["email"] for e in policy["employees"])
    assert {f["name"] for f in policy["reportFields"]} == {"Trip Purpose", "Department"}
    missing = post(box, {**job, "inputSettings": {**job["inputSettings"], "policyIDList": ["DEADBEEF"]}}).json()
    assert missing["responseCode"] == 404
    no_list = post(box, {**job, "inputSettings": {"type": "policy", "fields": ["tags"]}}).json()
    assert no_list == {"responseCode": 410, "responseMessage": "Required parameter 'policyIDList' is missing"}


def test_policy_updater_categories_and_tags(box, creds):
    hq = catalog.POLICIES["HQ"][0]
    job = {"type": "update", "credentials": creds, "inputSettings": {"type": "policy", "policyID": hq},
           "categories": {"action": "merge", "data": [{"name": "Gifts", "glCode": "6950"}, {"name": "Parking",
                                                                                           "glCode": "6140"}]},
           "tags": {"action": "merge", "data": [{"name": "Project", "tags": [{"name": "PRJ-DELTA"}]}]}}
    assert post(box, job).json() == {"responseCode": 200}
    policy = box.fakes["expensify"].policies[hq]
    codes = {c["name"]: c["glCode"] for c in policy["categories"]}
    assert codes["Gifts"] == "6950" and codes["Parking"] == "6140" and codes["Meals"] == "6110"
    levels = {lvl["name"]: [t["name"] for t in lvl["tags"]] for lvl in policy["tags"]}
    assert levels == {"Cost Center": catalog.COST_CENTERS, "Project": ["PRJ-DELTA"]}  # a group is replaced whole
    # Sections nested inside inputSettings are ignored: 200 and nothing happens.
    nested = {"type": "update", "credentials": creds,
              "inputSettings": {"type": "policy", "policyID": hq, "categories": {"action": "replace", "data": []}}}
    assert post(box, nested).json() == {"responseCode": 200}
    assert len(box.fakes["expensify"].policies[hq]["categories"]) == len(catalog.CATEGORIES) + 1
    # The export now carries the new GL code.
    gifts_report = next(r for r in reports_in(box) if r["policyID"] == hq and
                        any(t["category"] == "Gifts" for t in r["transactionList"]))
    rows = export(box, creds, filters={"reportIDList": gifts_report["reportID"]}, state="")
    assert any(e["gl"] == "6950" for e in rows[0]["expenses"] if e["category"] == "Gifts")


def test_employee_updater_wrapped_and_bare(box, creds):
    hq = catalog.POLICIES["HQ"][0]
    fake = box.fakes["expensify"]
    approver = fake.policies[hq]["approver"]
    record = {"employeeEmail": "new.person@demo.example", "managerEmail": approver, "employeeID": "E9001",
              "policyID": hq, "firstName": "New", "lastName": "Person"}
    job = {"type": "update", "credentials": creds, "dataSource": "request",
           "inputSettings": {"type": "employees", "entity": "generic"}}
    dry = post(box, {**job, "dry-run": True}, data=json.dumps({"Employees": [record]})).json()
    assert dry["responseCode"] == 200 and dry["added"] == 1 and dry["dryRun"] is True
    assert "new.person@demo.example" not in {e["email"] for e in fake.policies[hq]["employees"]}
    wrapped = post(box, job, data=json.dumps({"Employees": [record]})).json()
    assert (wrapped["added"], wrapped["updated"]) == (1, 0)
    bare = post(box, job, data=json.dumps([dict(record, lastName="Renamed")])).json()
    assert (bare["added"], bare["updated"]) == (0, 1)
    person = next(e for e in fake.policies[hq]["employees"] if e["email"] == "new.person@demo.example")
    assert person["lastName"] == "Renamed" and person["submitsTo"] == approver
    bad = post(box, job, data=json.dumps([dict(record, employeeEmail="x@demo.example"), {"employeeEmail": "y@demo.example"}]))
    body = bad.json()
    assert body["responseCode"] == 410 and "missing 'managerEmail'" in body["responseMessage"]
    assert "x@demo.example" not in {e["email"] for e in fake.policies[hq]["employees"]}  # all or nothing
    gone = post(box, job, data=json.dumps([dict(record, isTerminated=True)])).json()
    assert gone["removed"] == 1
    assert "new.person@demo.example" not in {e["email"] for e in fake.policies[hq]["employees"]}
    assert post(box, {k: v for k, v in job.items() if k != "dataSource"}, data="[]").json()["responseCode"] == 410


def test_report_status_updater(box, creds):
    approved = reports_in(box, "APPROVED")[0]["reportID"]
    reimbursed = reports_in(box, "REIMBURSED")[0]["reportID"]
    job = {"type": "update", "credentials": creds,
           "inputSettings": {"type": "reportStatus", "status": "REIMBURSED", "filters": {"reportIDList": approved}}}
    assert post(box, job).json() == {"responseCode": 200, "reportIDs": [approved]}
    partial = post(box, {**job, "inputSettings": {**job["inputSettings"],
                                                   "filters": {"reportIDList": f"{reimbursed},1"}}}).json()
    assert partial["responseCode"] == 207 and partial["reportIDs"] == []
    assert [s["reportID"] for s in partial["skippedReports"]] == [reimbursed]
    assert [f["reportID"] for f in partial["failedReports"]] == ["1"]


def test_expense_creator(box, creds):
    job = {"type": "create", "credentials": creds,
           "inputSettings": {"type": "expenses", "employeeEmail": "someone@demo.example",
                             "transactionList": [{"merchant": "Cafe", "created": "2026-10-01", "amount": 1234,
                                                  "currency": "USD", "externalID": "ext-1"}]}}
    body = post(box, job).json()
    assert body["responseCode"] == 200 and body["transactionList"][0]["transactionID"]
    assert requests.get(f"{box.url}/_sandbox/expensify/unreported", timeout=5).json()[0]["externalID"] == "ext-1"
    bad = post(box, {**job, "inputSettings": {**job["inputSettings"], "transactionList": [{"merchant": "x"}]}}).json()
    assert bad["responseCode"] == 410


# ---------------------------------------------------------------- control
def test_control_reports_and_reapproval(box, creds):
    listed = requests.get(f"{box.url}/_sandbox/expensify/reports", params={"state": "APPROVED,REIMBURSED"}, timeout=5).json()
    assert listed and {r["state"] for r in listed} <= {"APPROVED", "REIMBURSED"}
    report = next(r for r in listed if r["state"] == "REIMBURSED")
    assert {"reportID", "total", "currency", "labels", "transactions"} <= set(report)
    rid = report["reportID"]
    job = export_job(creds, {"reportIDList": rid}, onFinish=[{"actionName": "markAsExported", "label": "ERP"}])
    post(box, job, template=TEMPLATE)
    before = export(box, creds, filters={"approvedAfter": "2026-01-01", "markedAsExported": "ERP"})
    assert rid not in {r["reportID"] for r in before}
    control = f"{box.url}/_sandbox/expensify/reports/{rid}"
    unapproved = requests.post(control, json={"action": "unapprove"}, timeout=5).json()
    assert unapproved["state"] == "SUBMITTED" and unapproved["approved"] is None
    txn = report["transactions"][0]
    reapproved = requests.post(control, json={"action": "approve", "set_amount": {"transactionID": txn["transactionID"],
                                                                                  "amount": txn["amount"] + 1000}},
                               timeout=5).json()
    assert reapproved["state"] == "APPROVED" and reapproved["labels"] == []
    assert reapproved["approved"] > max(r["approved"] for r in listed)
    assert reapproved["total"] == sum(t["convertedAmount"] for t in reapproved["transactions"]) != report["total"]
    after = export(box, creds, filters={"approvedAfter": "2026-01-01", "markedAsExported": "ERP"})
    assert rid in {r["reportID"] for r in after}
    assert requests.post(control, json={"action": "approve"}, timeout=5).status_code == 400
    assert requests.post(control, json={"action": "fly"}, timeout=5).status_code == 400
    assert requests.get(f"{box.url}/_sandbox/expensify/reports/1", timeout=5).status_code == 404


def test_reset_clears_posted_state(box, creds):
    rid = reports_in(box, "APPROVED")[0]["reportID"]
    post(box, export_job(creds, {"reportIDList": rid}, onFinish=[{"actionName": "markAsExported", "label": "L"}]),
         template=TEMPLATE)
    assert box.fakes["expensify"].reports[rid]["labels"] == ["L"]
    requests.post(f"{box.url}/_sandbox/reset", json={}, timeout=5)
    assert box.fakes["expensify"].reports[rid]["labels"] == []
    assert requests.get(f"{box.url}/_sandbox/expensify/files", timeout=5).json() == []


# ---------------------------------------------------------------- order, late marks, slow files
CONTROL = "/_sandbox/expensify"


def set_config(box, **values):
    response = requests.post(f"{box.url}/_sandbox/config", json={"expensify": values}, timeout=5)
    assert response.status_code == 200


def ids_of(rows):
    return [r["reportID"] for r in rows]


def test_export_order_report_id(box, creds):
    set_config(box, export_order="report_id")
    rows = export(box, creds, filters={"approvedAfter": "2026-01-01"})
    assert len(rows) > 20
    assert [int(i) for i in ids_of(rows)] == sorted(int(i) for i in ids_of(rows))
    assert [r["approved"] for r in rows] != sorted(r["approved"] for r in rows)  # not the approved order any more


def test_export_order_random_is_a_reproducible_shuffle(box):
    def two_exports(seed):
        requests.post(f"{box.url}/_sandbox/reset", json={"seed": seed}, timeout=5)
        set_config(box, export_order="random", rate_limit=[[1000, 1]])
        seeded = requests.get(f"{box.url}/_sandbox/credentials", timeout=5).json()["expensify"]
        return [ids_of(export(box, seeded, filters={"approvedAfter": "2026-01-01"})) for _ in range(2)]

    first, second = two_exports(7)
    assert sorted(first) == sorted(second) and len(first) > 20
    approved_order = sorted(first, key=lambda i: (box.fakes["expensify"].reports[i]["approved"], int(i)))
    assert first != approved_order and first != second  # each export draws its own order
    assert two_exports(7) == [first, second]  # same seed, same calls: same orders
    assert two_exports(8)[0] != first
    set_config(box, export_order="sideways")
    response = post(box, export_job(box.fakes["expensify"].credentials()), template=TEMPLATE)
    assert response.status_code == 500 and "export_order" in response.json()["error"]


def test_limit_applies_after_the_random_order(box, creds):
    set_config(box, export_order="random")
    job = export_job(creds, {"approvedAfter": "2026-01-01"})
    job["inputSettings"]["limit"] = "5"
    picks = set()
    for _ in range(4):
        name = post(box, job, template=TEMPLATE).text
        rows = json.loads(post(box, {"type": "download", "credentials": creds, "fileName": name,
                                     "fileSystem": "integrationServer"}).content)
        assert len(rows) == 5
        picks |= set(ids_of(rows))
    assert len(picks) > 5  # not always the five earliest approvals


def marking_job(creds, ids, label="ERP", **extra):
    return export_job(creds, {"reportIDList": ",".join(ids)}, onFinish=[{"actionName": "markAsExported", "label": label}],
                      **extra)


def test_mark_delay_keeps_offering_reports_until_the_mark_lands(box, creds):
    set_config(box, mark_delay_seconds=0.4)
    ids = ids_of(reports_in(box, "APPROVED")[:3])
    assert post(box, marking_job(creds, ids), template=TEMPLATE).status_code == 200
    unmarked = {"approvedAfter": "2026-01-01", "markedAsExported": "ERP"}
    assert set(ids) <= set(ids_of(export(box, creds, filters=unmarked)))  # offered again: the mark is late
    pending = requests.get(f"{box.url}{CONTROL}/marks", timeout=5).json()
    assert [(m["label"], m["reportIDs"]) for m in pending] == [("ERP", ids)]
    assert 0 < pending[0]["dueInSeconds"] <= 0.4
    assert requests.get(f"{box.url}{CONTROL}/reports/{ids[0]}", timeout=5).json()["labels"] == []
    time.sleep(0.45)
    assert requests.get(f"{box.url}{CONTROL}/reports/{ids[0]}", timeout=5).json()["labels"] == ["ERP"]
    assert not set(ids) & set(ids_of(export(box, creds, filters=unmarked)))
    assert requests.get(f"{box.url}{CONTROL}/marks", timeout=5).json() == []


def test_mark_delay_follows_the_sandbox_clock_and_skips_test_jobs(box, creds):
    set_config(box, mark_delay_seconds=600)
    first, second = ids_of(reports_in(box, "APPROVED")[:2])
    post(box, marking_job(creds, [first]), template=TEMPLATE)
    post(box, marking_job(creds, [second], test="true"), template=TEMPLATE)
    assert [m["reportIDs"] for m in requests.get(f"{box.url}{CONTROL}/marks", timeout=5).json()] == [[first]]
    requests.post(f"{box.url}/_sandbox/clock", json={"advance": 601}, timeout=5)
    # The next request of any kind applies it, before it is handled.
    rows = export(box, creds, filters={"reportIDList": [first, second], "markedAsExported": "ERP"})
    assert ids_of(rows) == [second]
    assert box.fakes["expensify"].reports[second]["labels"] == []


def test_without_mark_delay_the_mark_is_immediate(box, creds):
    ids = ids_of(reports_in(box, "APPROVED")[:2])
    post(box, marking_job(creds, ids), template=TEMPLATE)
    assert requests.get(f"{box.url}{CONTROL}/marks", timeout=5).json() == []
    assert all(box.fakes["expensify"].reports[i]["labels"] == ["ERP"] for i in ids)


def download(box, creds, name):
    return post(box, {"type": "download", "credentials": creds, "fileName": name, "fileSystem": "integrationServer"})


def test_a_file_is_not_found_until_it_is_ready(box, creds):
    set_config(box, file_ready_delay_seconds=0.4)
    name = post(box, export_job(creds), template=TEMPLATE).text
    early = download(box, creds, name)
    assert early.status_code == 200 and early.json() == {"responseCode": 404, "responseMessage": f"File not found: {name}"}
    assert requests.get(f"{box.url}{CONTROL}/files", timeout=5).json()[0]["ready"] is False
    assert requests.get(f"{box.url}{CONTROL}/files/{name}", timeout=5).status_code == 200  # control sees it at once
    time.sleep(0.45)
    ready = download(box, creds, name)
    assert ready.headers["Content-Type"] == "application/json" and json.loads(ready.content)
    assert requests.get(f"{box.url}{CONTROL}/files", timeout=5).json()[0]["ready"] is True
    set_config(box, file_ready_delay_seconds=60)
    later = post(box, export_job(creds), template=TEMPLATE).text
    assert download(box, creds, later).json()["responseCode"] == 404
    requests.post(f"{box.url}/_sandbox/clock", json={"advance": 61}, timeout=5)
    assert json.loads(download(box, creds, later).content)


# ---------------------------------------------------------------- corrupting reports
ROBUST = (  # what a careful template does: every value by its own type, so one odd value cannot fail the export
    '[<#list reports as r>{"reportID":<#if r.reportID??>"${r.reportID?json_string}"<#else>null</#if>,'
    '"reportName":<#if r.reportName??>"${r.reportName?json_string}"<#else>null</#if>,'
    '"currency":<#if r.currency??>"${r.currency?json_string}"<#else>null</#if>,'
    '"total":<#if !(r.total??)>null<#elseif r.total?is_number>${r.total?c}<#else>"${r.total?json_string}"</#if>,'
    '"expenses":[<#list r.transactionList as e>{"id":<#if e.transactionID??>"${e.transactionID}"<#else>null</#if>,'
    '"merchant":<#if e.merchant??>"${e.merchant?json_string}"<#else>null</#if>,'
    '"amount":<#if !(e.amount??)>null<#elseif e.amount?is_number>${e.amount?c}<#else>"${e.amount?json_string}"</#if>}'
    "<#sep>,</#list>]}<#sep>,</#list>]"
)


def control_report(box, rid, body):
    return requests.post(f"{box.url}{CONTROL}/reports/{rid}", json=body, timeout=5)


def robust_export(box, creds, rid):
    name = post(box, export_job(creds, {"reportIDList": rid}, state=""), template=ROBUST).text
    raw = download(box, creds, name).content
    return raw, json.loads(raw)


def test_set_report_shows_any_value_and_recomputes_nothing(box, creds):
    report = reports_in(box, "APPROVED")[0]
    rid, total = report["reportID"], report["total"]
    body = {"set_report": {"reportName": "Trip\u0000to\u001fBerlin\n", "total": 10**30, "currency": None,
                           "approved": "not a date", "customField.Cost_Center": {"nested": [1, "x"]}}}
    view = control_report(box, rid, body).json()
    assert view["reportName"] == "Trip\u0000to\u001fBerlin\n" and view["total"] == 10**30
    assert "currency" not in view and view["approved"] == "not a date" and view["customField.Cost_Center"] == {"nested": [1, "x"]}
    raw, rows = robust_export(box, creds, rid)
    assert b"Trip\\u0000to\\u001fBerlin\\n" in raw  # ?json_string escapes every control character
    assert rows[0]["reportName"] == "Trip\u0000to\u001fBerlin\n" and rows[0]["total"] == 10**30
    assert rows[0]["currency"] is None
    source = box.fakes["expensify"].reports[rid]
    assert source["total"] == total and source["currency"] and source["approved"] != "not a date"
    # The report's real state still drives filters: it is exported as approved after 2026-01-01.
    assert rid in ids_of(export(box, creds, filters={"approvedAfter": "2026-01-01"}, template=ROBUST))
    requests.post(f"{box.url}/_sandbox/reset", json={}, timeout=5)
    assert control_report(box, rid, {"set_report": {"reportName": "x"}}).json()["total"] == total  # reset drops patches


def test_set_transaction_and_bad_values_leave_other_reports_alone(box, creds):
    report, other = reports_in(box, "APPROVED")[:2]
    rid, txn = report["reportID"], report["transactionList"][0]
    view = control_report(box, rid, {"set_transaction": [
        {"transactionID": txn["transactionID"], "amount": "abc", "merchant": "Caf\u0000e", "category": None}]}).json()
    shown = view["transactions"][0]
    assert shown["amount"] == "abc" and shown["merchant"] == "Caf\u0000e" and "category" not in shown
    assert view["total"] == report["total"]  # nothing recomputed: the lines no longer add up
    _, rows = robust_export(box, creds, f"{rid},{other['reportID']}")
    by_id = {r["reportID"]: r for r in rows}
    assert by_id[rid]["expenses"][0]["amount"] == "abc" and by_id[rid]["expenses"][0]["merchant"] == "Caf\u0000e"
    assert [e["amount"] for e in by_id[other["reportID"]]["expenses"]] == [t["amount"] for t in other["transactionList"]]
    assert control_report(box, rid, {"set_transaction": {"transactionID": "1", "amount": 5}}).status_code == 404
    assert control_report(box, rid, {"set_transaction": {"transactionID": txn["transactionID"]}}).status_code == 400


def test_add_and_remove_transactions_keep_the_total(box, creds):
    report = reports_in(box, "APPROVED")[0]
    rid, total, count = report["reportID"], report["total"], len(report["transactionList"])
    view = control_report(box, rid, {"add_transaction": [{"merchant": "Extra", "amount": 999, "convertedAmount": 999},
                                                         {"merchant": "No id", "transactionID": None, "amount": True}]}).json()
    assert len(view["transactions"]) == count + 2 and view["total"] == total
    added, anonymous = view["transactions"][-2:]
    assert added["transactionID"] and added["merchant"] == "Extra"
    assert "transactionID" not in anonymous and anonymous["amount"] is True and anonymous["categoryGlCode"] == ""
    # An added expense can be patched like any other.
    patched = control_report(box, rid, {"set_transaction": {"transactionID": added["transactionID"], "amount": -1}}).json()
    assert patched["transactions"][-2]["amount"] == -1
    numeric = control_report(box, rid, {"add_transaction": {"transactionID": 42, "amount": 1}}).json()["transactions"][-1]
    assert numeric["transactionID"] == 42  # kept exactly as given
    patched = control_report(box, rid, {"set_transaction": {"transactionID": "42", "merchant": "Found"}}).json()
    assert patched["transactions"][-1]["merchant"] == "Found"
    emptied = control_report(box, rid, {"remove_transactions": True}).json()
    assert emptied["transactions"] == [] and emptied["total"] == total
    _, rows = robust_export(box, creds, rid)
    assert rows[0]["expenses"] == [] and rows[0]["total"] == total


def test_control_refuses_what_it_cannot_hold(box):
    rid = reports_in(box, "APPROVED")[0]["reportID"]
    for body in ({"set_report": {"state": "OPEN"}}, {"set_report": {"labels": []}},
                 {"set_report": {"transactionList": []}}, {"set_report": {}}, {"set_transaction": "x"},
                 {"add_transaction": 5}, {"frobnicate": 1}, {}):
        assert control_report(box, rid, body).status_code == 400, body
    for raw in (b'{"set_report": {"total": NaN}}', b'{"set_report": {"total": 1e400}}'):
        response = requests.post(f"{box.url}{CONTROL}/reports/{rid}", data=raw, timeout=5)
        assert response.status_code == 400 and "NaN" in response.json()["error"]


def test_a_lone_surrogate_does_not_break_the_file(box, creds):
    rid = reports_in(box, "APPROVED")[0]["reportID"]
    requests.post(f"{box.url}{CONTROL}/reports/{rid}", data=b'{"set_report": {"reportName": "a\\ud800b"}}', timeout=5)
    raw, rows = robust_export(box, creds, rid)
    assert rows[0]["reportName"] == "a?b"  # written as Java's UTF-8 encoder writes it
