"""The Acumatica client over real HTTP against the in-process sandbox."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from integrations.systems.acumatica import AcumaticaClient, clear_token_cache, unwrap, wrap
from integrations.systems.errors import AuthError, OutcomeUnknown, RateLimited, ValidationRejected, VersionMismatch
from tests.sandbox_fixtures import sandbox_fixtures

pytestmark = pytest.mark.django_db  # every call holds a slot of the connection's concurrency limit (a table)
FAST = {"backoff_max": 0.01, "max_attempts": 3}
server, box = sandbox_fixtures(systems=["acumatica"], size=40, around=clear_token_cache)


def client_for(box, **credentials):
    creds = {**box.credentials()["acumatica"], **credentials}
    return AcumaticaClient(SimpleNamespace(base_url=box.system_url("acumatica"), credentials=creds, options=dict(FAST)))


def bill(ref, amount="10.05"):
    return {"Vendor": "E1001", "VendorRef": ref, "CurrencyID": "USD",
            "Details": [{"Account": "6110", "Subaccount": "CC10", "Amount": Decimal(amount)}]}


def test_values_are_wrapped_and_unwrapped_in_one_place():
    sent = wrap({"id": "g", "VendorRef": "EXP-1", "Amount": Decimal("1.10"), "Details": [{"Account": "6110"}],
                 "MainContact": {"Email": "a@b"}})
    assert sent == {"id": "g", "VendorRef": {"value": "EXP-1"}, "Amount": {"value": Decimal("1.10")},
                    "Details": [{"Account": {"value": "6110"}}], "MainContact": {"Email": {"value": "a@b"}}}
    back = unwrap({"id": "g", "VendorRef": {"value": "EXP-1"}, "DueDate": {}, "Vendor": {"value": "X", "error": "bad"},
                   "Details": [{"Account": {"value": "6110"}}], "custom": {}, "_links": {}})
    assert back == {"id": "g", "VendorRef": "EXP-1", "DueDate": None, "Vendor": "X", "Details": [{"Account": "6110"}],
                    "_errors": {"Vendor": "bad"}}


def test_create_find_and_exact_decimals(box):
    client = client_for(box)
    saved = client.put("Bill", bill("EXP-7", "1234567.89"), create_only=True)
    assert saved["ReferenceNbr"] and saved["Amount"] == Decimal("1234567.89")
    found = list(client.list("Bill", filter="VendorRef eq 'EXP-7'", expand=["Details"]))
    assert len(found) == 1 and found[0]["Details"][0]["Amount"] == Decimal("1234567.89")
    assert client.get("Bill", "Bill", saved["ReferenceNbr"])["VendorRef"] == "EXP-7"
    assert client.get("Bill", "Bill", "999999") is None


def test_paging_with_top_and_skip_reads_every_record(box):
    client = client_for(box)
    everyone = list(client.list("Employee", page_size=4))
    raw = requests.get(f"{box.url}/_sandbox/acumatica/Employee", timeout=5).json()
    assert [e["EmployeeID"] for e in everyone] == [e["EmployeeID"] for e in raw] and len(raw) > 8


def test_a_version_the_instance_does_not_publish_names_both_versions(box):
    client = client_for(box, endpoint_version="25.100.001")
    with pytest.raises(VersionMismatch) as caught:
        list(client.list("Bill"))
    message = caught.value.message
    assert "25.100.001" in message and "24.212.0021" in message and "24.200.001" in message
    assert caught.value.code == "ACU-VERSION-MISMATCH" and "endpoint_version" in caught.value.help


def test_an_expired_token_is_refreshed_with_the_refresh_token(box):
    client = client_for(box)
    client.ensure_token()
    assert client.token_requests == 1
    requests.post(f"{box.url}/_sandbox/acumatica/expire_tokens", timeout=5)
    assert list(client.list("Account"))
    assert client.token_requests == 2  # one refresh, no new password sign-in
    assert box.calls["acumatica"]["token"] == 2


def test_when_the_refresh_token_is_gone_the_client_signs_in_again(box):
    client = client_for(box)
    client.ensure_token()
    box.advance(31 * 86400)  # past the refresh chain's 30 days and the access token's hour
    assert list(client.list("Account"))
    assert client.token_requests == 3  # a refused refresh, then the password grant


def test_wrong_secrets_are_an_auth_error_without_the_secret(box):
    client = client_for(box, password="wrong-password-123")
    with pytest.raises(AuthError) as caught:
        list(client.list("Account"))
    assert "wrong-password-123" not in str(caught.value.message) and caught.value.code == "ACU-AUTH"


def test_422_is_a_rejection_naming_the_fields(box):
    client = client_for(box)
    with pytest.raises(ValidationRejected) as caught:
        client.put("Bill", {**bill("EXP-8"), "Vendor": "NOPE"})
    assert "Vendor: 'Vendor' cannot be found in the system." in caught.value.message
    with pytest.raises(ValidationRejected) as caught:
        client.put("Bill", {"Type": "Bill", "ReferenceNbr": "999999", "Description": "x"}, update_only=True)
    assert caught.value.code == "ACU-412"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_after_the_bill_was_written_is_outcome_unknown_and_not_sent_again(box, status):
    """A 503 too: a gateway may answer it after the instance wrote (found by prove_clusters: 503 was retried
    blindly and the bill created twice)."""
    client = client_for(box)
    box.faults.add(system="acumatica", endpoint="put:Bill", action="status_after", status=status, count=1)
    with pytest.raises(OutcomeUnknown) as caught:
        client.put("Bill", bill("EXP-8"), create_only=True)
    assert not caught.value.definite and box.calls["acumatica"]["put:Bill"] == 1
    assert len(list(client.list("Bill", filter="VendorRef eq 'EXP-8'"))) == 1  # written once: reconcile finds it


def test_429_is_retried_then_reported_as_rate_limited(box):
    box.config["acumatica"]["requests_per_minute"] = 1  # the token request uses it
    client = client_for(box)
    with pytest.raises(RateLimited):
        list(client.list("Account"))
    assert box.calls["acumatica"]["get:Account"] == 3  # max_attempts
