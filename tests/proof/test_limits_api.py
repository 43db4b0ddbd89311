"""``GET /_sandbox/limits``: each fake that enforces a vendor limit counts the requests it refused for it."""

import json

import requests

from tests.sandbox.test_acumatica_fake import api, token

EXPENSIFY = "/Integration-Server/ExpensifyIntegrations"


def limits(box):
    return requests.get(f"{box.url}/_sandbox/limits", timeout=5).json()


def test_nothing_refused_after_a_reset(box):
    found = limits(box)
    assert {"expensify", "ifs", "acumatica", "bill"} <= set(found)
    assert found["acumatica"] == {"requests_per_minute": 0, "api_login_limit": 0}
    assert found["bill"] == {"BDC_1322_concurrency": 0, "BDC_1144_hourly": 0}
    assert all(n == 0 for counts in found.values() for n in counts.values())


def test_expensify_rate_limit_refusals_are_counted(box):
    box.config["expensify"]["rate_limit"] = [[2, 60]]
    creds = box.fakes["expensify"].credentials()
    job = {"type": "get", "credentials": creds, "inputSettings": {"type": "policyList"}}
    url, form = box.system_url("expensify") + EXPENSIFY, {"requestJobDescription": json.dumps(job)}
    codes = [requests.post(url, data=form, timeout=5).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert limits(box)["expensify"] == {"rate_limit": 1}


def test_acumatica_per_minute_refusals_are_counted(box):
    box.config["acumatica"]["requests_per_minute"] = 2
    tok = token(box).json()["access_token"]
    assert [api(box, "GET", "Account", tok=tok).status_code for _ in range(3)] == [200, 429, 429]
    assert limits(box)["acumatica"]["requests_per_minute"] == 2
