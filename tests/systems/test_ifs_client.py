"""The IFS Cloud client against the sandbox over real HTTP."""

import logging
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from integrations.systems.errors import AuthError, OutcomeUnknown, Unavailable, ValidationRejected
from integrations.systems.ifs import IfsClient, VoucherDocument, VoucherRow, clear_token_cache
from tests.sandbox_fixtures import sandbox_fixtures

server, box = sandbox_fixtures(systems=["ifs"], config={"ifs": {"rate_limit": [[100000, 60]]}}, around=clear_token_cache)
pytestmark = pytest.mark.django_db  # the per-tenant rate bucket lives in Django's cache (the database)


def client(box, *, credentials=None, **options):
    creds = {**box.credentials()["ifs"], **(credentials or {})}
    conn = SimpleNamespace(base_url=box.system_url("ifs"), credentials=creds,
                           options={"rate_limit": [100000, 60], "backoff_max": 0.2, **options})
    return IfsClient(conn)


def calls(box, endpoint=None):
    counts = box.calls["ifs"]
    return counts[endpoint] if endpoint else counts


def fault(box, **spec):
    box.faults.add(system="ifs", **spec)


def document(reference="EXP-7", amount="100.10", cost_center="CC10"):
    return VoucherDocument(reference=reference, voucher_date="2026-10-30", currency="USD", text="Trip to Oslo",
                           rows=[VoucherRow("6100", Decimal(amount), {"B": cost_center, "C": "PRJ-BETA"}, "Airfare"),
                                 VoucherRow("2100", -Decimal(amount), {}, "Employee payable")])


def vouchers(box, reference=None):
    params = {"reference": reference} if reference else {}
    return requests.get(f"{box.url}/_sandbox/ifs/vouchers", params=params, timeout=10).json()


# -- tokens ------------------------------------------------------------------------------------------------------
def test_one_token_serves_many_calls_and_is_renewed_at_five_sixths_of_its_life(box, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(IfsClient, "clock", staticmethod(lambda: now[0]))
    ifs = client(box)
    ifs.read_template()
    ifs.read_template()
    assert calls(box, "token") == 1
    now[0] += 149  # 5/6 of the 180 s lifetime is 150 s
    ifs.read_template()
    assert calls(box, "token") == 1
    now[0] += 2
    ifs.read_template()
    assert calls(box, "token") == 2


def test_a_token_that_expired_early_is_renewed_once_on_401(box):
    ifs = client(box)
    ifs.read_template()
    box.advance(181)  # the IFS clock runs past the token's life while the client thinks it is young
    template, etag = ifs.read_template()
    assert template["Template"] == "MLC-ACCRUAL" and etag.startswith('W/"')
    assert calls(box, "token") == 2 and calls(box, "read:VoucherTemplateSet") == 3


def test_401_twice_in_a_row_is_an_auth_error(box):
    fault(box, endpoint="read:VoucherTemplateSet", action="status", status=401, count=2)
    with pytest.raises(AuthError) as error:
        client(box).read_template()
    assert error.value.code == "IFS-AUTH" and calls(box, "token") == 2


def test_bad_client_secret_and_unknown_realm_are_auth_errors_without_the_secret(box, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as bad_secret:
        client(box, credentials={"client_secret": "s3cret-wrong-value"}).read_template()
    with pytest.raises(AuthError) as bad_realm:
        client(box, credentials={"realm": "elsewhere"}).read_template()
    assert bad_secret.value.code == "IFS-AUTH" and bad_realm.value.code == "IFS-REALM-UNKNOWN"
    assert "s3cret-wrong-value" not in str(bad_secret.value) + caplog.text


def test_missing_credentials_are_refused_before_any_call(box):
    with pytest.raises(AuthError) as error:
        client(box, credentials={"realm": ""})
    assert error.value.code == "IFS-AUTH-MISSING" and calls(box) == {}


# -- reads and paging ----------------------------------------------------------------------------------------------
def test_code_part_values_come_in_bounded_pages(box):
    rows = list(client(box, page_size=4).code_part_values())
    assert len(rows) == 19 and len({(r["CodePart"], r["CodeValue"]) for r in rows}) == 19
    assert calls(box, "read:CodePartValueSet") == 5  # 4 + 4 + 4 + 4 + 3


def test_server_next_links_inside_a_page_are_followed(box):
    box.config["ifs"]["page_size"] = 3  # the server pages at 3 while the client asks for 10 at a time
    rows = list(client(box, page_size=10).code_part_values(parts=("A",)))
    assert sorted(r["CodeValue"] for r in rows)[:3] == ["2100", "2150", "6100"] and len(rows) == 12
    assert calls(box, "read:CodePartValueSet") == 5  # $skip 0: 3+3+3+1 via nextLink; $skip 10: 2


def test_page_size_is_capped_at_5000(box):
    ifs = client(box, page_size=100000)
    assert ifs.page_size == 5000 and len(list(ifs.code_part_values())) == 19


def test_lookup_asks_only_for_the_values_given(box):
    found = client(box).lookup_code_parts([("B", "CC10"), ("B", "CC99"), ("C", "PRJ-ALPHA")])
    assert set(found) == {("B", "CC10"), ("C", "PRJ-ALPHA")} and calls(box, "read:CodePartValueSet") == 1


def test_429_is_retried_after_retry_after(box):
    fault(box, endpoint="read:CodePartValueSet", action="status", status=429, retry_after=0.3, count=2)
    start = time.monotonic()
    rows = list(client(box, backoff_max=5).code_part_values())
    elapsed = time.monotonic() - start
    assert len(rows) == 19 and 0.6 <= elapsed < 0.6 * 1.25 + 0.5  # what IFS asked, plus at most 25 % jitter
    assert calls(box, "read:CodePartValueSet") == 3


def test_the_tenant_rate_is_shared_by_every_client_of_the_tenant(box):
    box.config["ifs"]["rate_limit"] = [[6, 1]]
    first, second = client(box, rate_limit=[6, 1]), client(box, rate_limit=[6, 1])
    start = time.monotonic()
    for _ in range(4):
        first.read_template()
        second.read_template()
    # 8 calls at 6 per second (burst 1, then 5 a second) take over a second; IFS refused none of them.
    assert time.monotonic() - start >= 1.0
    assert requests.get(f"{box.url}/_sandbox/ifs/tokens", timeout=10).json()["rate_refused"] == 0


# -- vouchers ------------------------------------------------------------------------------------------------------
def test_the_template_etag_is_read_once_per_client_until_ifs_refuses_it(box):
    ifs = client(box)
    for n in range(3):
        ifs.create_voucher(document(reference=f"EXP-{n}"))
    assert calls(box, "read:VoucherTemplateSet") == 1 and len(vouchers(box)) == 3
    requests.post(f"{box.url}/_sandbox/ifs/templates/MLC-ACCRUAL/touch", timeout=10)  # edited since that read
    ifs.create_voucher(document(reference="EXP-9"))
    assert calls(box, "read:VoucherTemplateSet") == 2 and calls(box, "action:VoucherTemplate_CreateVoucher") == 5
    assert len(vouchers(box)) == 4


def test_create_voucher_sends_the_etag_and_keeps_the_reference_and_exact_amounts(box):
    ifs = client(box)
    voucher = ifs.create_voucher(document(amount="1234567890.99"))
    (stored,) = vouchers(box, "EXP-7")
    assert voucher.document_id == f"ACR 2026-{stored['VoucherNo']}"
    assert [r["CurrencyDebitAmount"] for r in stored["Rows"]] == ["1234567890.99", None]
    assert [r["CodeB"] for r in stored["Rows"]] == ["CC10", None]
    (found,) = ifs.find_vouchers("EXP-7")
    assert (found.debit_total, found.credit_total, found.line_count) == (Decimal("1234567890.99"),) * 2 + (2,)


def test_a_template_edited_between_read_and_write_is_read_again_once(box):
    requests.post(f"{box.url}/_sandbox/ifs/templates/MLC-ACCRUAL/touch", json={"on_next_read": 1}, timeout=10)
    client(box).create_voucher(document())
    assert len(vouchers(box)) == 1
    assert calls(box, "read:VoucherTemplateSet") == 2 and calls(box, "action:VoucherTemplate_CreateVoucher") == 2


def test_a_template_edited_twice_gives_up_without_writing(box):
    requests.post(f"{box.url}/_sandbox/ifs/templates/MLC-ACCRUAL/touch", json={"on_next_read": 2}, timeout=10)
    with pytest.raises(Unavailable) as error:
        client(box).create_voucher(document())
    assert error.value.code == "IFS-412-TEMPLATE-CHANGED" and error.value.retryable and vouchers(box) == []


def test_a_code_part_ifs_refuses_is_a_definite_rejection(box):
    with pytest.raises(ValidationRejected) as error:
        client(box).create_voucher(document(cost_center="CC90"))
    assert error.value.code == "IFS-REJECTED" and "CC90" in error.value.message and error.value.definite


def test_a_5xx_after_the_voucher_was_sent_is_an_unknown_outcome_and_reads_are_retried(box):
    fault(box, endpoint="action:VoucherTemplate_CreateVoucher", action="status_after", status=502, count=1)
    with pytest.raises(OutcomeUnknown):
        client(box).create_voucher(document())
    assert len(vouchers(box, "EXP-7")) == 1  # it was written: reconcile will find it
    fault(box, endpoint="read:VoucherSet", action="status", status=503, count=1)
    assert len(client(box).find_vouchers("EXP-7")) == 1
