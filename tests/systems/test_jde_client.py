"""The JD Edwards AIS client over real HTTP against the in-process sandbox."""

import dataclasses
import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from integrations.systems import jde as jde_module
from integrations.systems.errors import (
    AuthError,
    HostNotAllowed,
    NotFound,
    OutcomeUnknown,
    Unavailable,
    ValidationRejected,
)
from integrations.systems.jde import (
    Account,
    FoundJournal,
    JdeClient,
    JournalDocument,
    JournalLine,
    clear_token_cache,
    max_amount,
)
from sandbox import catalog, jde_data
from tests.sandbox_fixtures import sandbox_fixtures

pytestmark = pytest.mark.django_db  # every call holds a slot of the connection's concurrency limit (a table)

FAST = {"backoff_max": 0.01}


server, box = sandbox_fixtures(systems=["jde"], size=40, around=clear_token_cache)


def connection(box, credentials=None, base_url=None, **options):
    return SimpleNamespace(base_url=base_url or box.system_url("jde"),
                           credentials=credentials or box.credentials()["jde"], options={**FAST, **options})


def make_client(box, **kwargs):
    return JdeClient(connection(box, **kwargs))


@pytest.fixture
def client(box):
    return make_client(box)


def calls(box):
    return box.calls["jde"]


def sandbox_post(box, path, body=None):
    response = requests.post(f"{box.url}/_sandbox/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def fault(box, **fields):
    box.faults.add(system="jde", **fields)


def rows(box, reference=None):
    return [r for r in box.fakes["jde"].tables["F0911Z1"] if reference is None or r["EDTN"] == reference]


def document(reference="EXP-1001", lines=None, **fields):
    return JournalDocument(
        reference=reference, gl_date=dt.date(2026, 11, 20), currency=fields.pop("currency", "USD"), company="00001",
        document_type="JE", explanation="Denver trip (avery@demo.example)",
        lines=lines if lines is not None else [
            JournalLine("200.6110.CC10", Decimal("123.45"), "Meals Chipotle", "t1"),
            JournalLine("200.6120", Decimal("300"), "Lodging Hilton", "t2"),
            JournalLine("100.2100", Decimal("-423.45"), "Employee payable", "EXP-1001"),
        ], **fields)


# -- tokens ------------------------------------------------------------------------------------------------------
def test_one_token_serves_many_calls_and_every_client_of_the_connection(box, client):
    assert client.ensure_token() == client.ensure_token()
    client.accounts()
    client.post_journal(document())
    JdeClient(connection(box)).find_journal("EXP-1001")
    assert calls(box)["tokenrequest"] == 1
    assert client.user_info["simpleDateFormat"] == "MM/dd/yyyy"


def test_token_is_renewed_at_five_sixths_of_its_lifetime(box):
    now = [1000.0]
    client = make_client(box, token_lifetime=600)
    client.clock = lambda: now[0]
    first = client.ensure_token()
    now[0] += 499
    assert client.ensure_token() == first
    now[0] += 2  # 501 s > 5/6 of 600
    second = client.ensure_token()
    assert second != first
    assert calls(box)["tokenrequest"] == 2


def test_an_expired_token_is_replaced_transparently(box, client):
    client.ensure_token()
    box.advance(1801)
    result = client.post_journal(document())
    assert result.batch_number
    assert calls(box)["tokenrequest"] == 2 and calls(box)["orchestrator"] == 2  # the 444 and the retry
    assert len({r["EDBT"] for r in rows(box, "EXP-1001")}) == 1


def test_server_restart_before_a_post_reauthenticates_once_and_posts_once(box, client):
    client.ensure_token()
    fault(box, endpoint="orchestrator", action="restart", count=1)
    result = client.post_journal(document())
    assert calls(box)["tokenrequest"] == 2
    assert calls(box)["orchestrator"] == 2
    assert {r["EDBT"] for r in rows(box, "EXP-1001")} == {result.batch_number}
    assert len(rows(box)) == 3


def test_restart_during_a_browse_reauthenticates_and_reads_everything(box, client):
    fault(box, endpoint="dataservice/next", action="restart", count=1)
    items = list(client.browse("F0901", ["AID"], page_size=40))
    assert [r["AID"] for r in items] == [r["AID"] for r in box.fakes["jde"].tables["F0901"]]
    assert calls(box)["tokenrequest"] == 2


def test_444_twice_in_a_row_is_an_auth_error_and_writes_nothing(box, client):
    fault(box, endpoint="orchestrator", action="status", status=444, count=2)
    with pytest.raises(AuthError) as caught:
        client.post_journal(document())
    assert caught.value.code == "JDE-444-TOKEN"
    assert calls(box)["tokenrequest"] == 2 and calls(box)["orchestrator"] == 2
    assert rows(box) == []


def test_405_names_both_allowed_hosts_settings(box, client):
    fault(box, endpoint="tokenrequest", action="status", status=405)
    with pytest.raises(HostNotAllowed) as caught:
        client.accounts()
    error = caught.value
    assert error.code == "JDE-405-ALLOWED-HOSTS" and error.status == 405
    text = error.message + " " + error.help
    assert "allowedHosts" in text and "HTML server" in text and "egress IP" in text
    assert error.definite
    assert calls(box)["tokenrequest"] == 1  # a host problem is not retried


def test_405_on_the_orchestration_is_a_definite_host_error(box, client):
    fault(box, endpoint="orchestrator", action="status", status=405)
    with pytest.raises(HostNotAllowed):
        client.post_journal(document())
    assert calls(box)["orchestrator"] == 1 and rows(box) == []


def test_bad_password_is_403_auth_error_without_the_password(box):
    creds = {**box.credentials()["jde"], "password": "Hunter2-secret"}
    client = make_client(box, credentials=creds)
    with pytest.raises(AuthError) as caught:
        client.ensure_token()
    error = caught.value
    assert error.code == "JDE-403-AUTH" and error.status == 403
    assert "MLCONN" in error.message and "JDV920" in error.message
    for text in (error.message, error.help, str(error), repr(client)):
        assert "Hunter2-secret" not in text
    assert calls(box)["tokenrequest"] == 1


def test_missing_credentials_fail_before_any_call(box):
    with pytest.raises(AuthError) as caught:
        make_client(box, credentials={"username": "MLCONN", "password": "", "environment": "JDV920", "role": "*ALL"})
    assert caught.value.code == "JDE-AUTH-MISSING"
    assert calls(box) == {}


def test_the_token_is_masked_in_logs(box, client):
    from portal.logging import redact

    token = client.ensure_token()
    assert token not in redact(f"sent header jde-AIS-Auth {token}")
    assert token not in repr(client)


# -- reads -------------------------------------------------------------------------------------------------------
def test_accounts_read_the_whole_chart(box, client):
    accounts = {a.key: a for a in client.accounts()}
    source = box.fakes["jde"].tables["F0901"]
    assert len(accounts) == len(source)
    meals = accounts["200.6110.CC10"]
    assert isinstance(meals, Account)
    assert (meals.business_unit, meals.object, meals.subsidiary, meals.company) == ("200", "6110", "CC10", "00001")
    assert meals.is_postable and meals.is_active and len(meals.aid) == 8
    assert accounts["100.2100"].is_postable and accounts["100.2150"].is_postable
    assert not accounts["300.6900"].is_postable and accounts["300.6900"].is_active
    assert not accounts["900.6110"].is_active and not accounts["900.6110"].is_postable
    assert all(not a.is_postable for a in accounts.values() if a.level_of_detail == "3")
    for (bu, obj, sub), pec in catalog.RESTRICTED_ACCOUNTS.items():
        assert accounts[jde_data.account_key(bu, obj, sub)].posting_edit == pec


def test_browse_follows_next_links_with_prefixes_stripped(box, client):
    items = list(client.browse("F0901", ["AID", "MCU", "OBJ"], page_size=20))
    source = box.fakes["jde"].tables["F0901"]
    assert [r["AID"] for r in items] == [r["AID"] for r in source]
    assert set(items[0]) == {"AID", "MCU", "OBJ"}
    assert items[0]["MCU"] == source[0]["MCU"]  # raw value: right-justified business unit
    pages = -(-len(source) // 20)
    assert calls(box)["dataservice"] == 1 and calls(box)["dataservice/next"] == pages - 1


def test_browse_conditions_and_order(box, client):
    items = list(client.browse("F0901", ["AID", "OBJ", "SUB"],
                               [("MCU", "=", "200"), ("OBJ", "BETWEEN", ["6100", "6130"]), ("SUB", "STR_NOT_BLANK", None)],
                               order_by=["-OBJ", "SUB"]))
    expected = [r for r in box.fakes["jde"].tables["F0901"]
                if r["MCU"].strip() == "200" and "6100" <= r["OBJ"] <= "6130" and r["SUB"]]
    assert len(items) == len(expected) == 12
    assert [(r["OBJ"], r["SUB"]) for r in items] == sorted(((r["OBJ"], r["SUB"]) for r in expected),
                                                           key=lambda k: (-int(k[0]), k[1]))


@pytest.mark.parametrize("style", ["user", "YYYYMMDD", "julian"])
def test_date_conditions_in_every_literal_style_select_the_same_rows(box, style):
    client = make_client(box, date_literal_format=style)
    cutoff = dt.date(2026, 3, 1)
    items = list(client.browse("F0101", ["AN8", "UPMJ"], [("UPMJ", ">=", cutoff)]))
    expected = {r["AN8"] for r in box.fakes["jde"].tables["F0101"] if jde_data.from_julian(r["UPMJ"]) >= cutoff}
    assert {r["AN8"] for r in items} == expected and expected


def test_an_expired_result_set_is_queried_again_without_losing_or_repeating_rows(box, client):
    seen = []
    for row in client.browse("F0901", ["AID"], page_size=25):
        seen.append(row["AID"])
        if len(seen) == 30:  # inside the second page: the third is fetched after the timeout
            box.advance(61)
    assert seen == [r["AID"] for r in box.fakes["jde"].tables["F0901"]]
    assert calls(box)["dataservice"] == 2


def test_a_result_set_that_keeps_expiring_gives_up(box, client):
    fault(box, endpoint="dataservice/next", action="status", status=500)
    box.fakes["jde"].fault_body = lambda status, req: {"sysErrors": [{"TITLE": "JAS_MSG347: The query results expired"}]}
    try:
        with pytest.raises(Unavailable) as caught:
            list(client.browse("F0901", ["AID"], page_size=25))
    finally:
        del box.fakes["jde"].fault_body
    assert caught.value.code == "JDE-RESULT-EXPIRED"
    assert calls(box)["dataservice"] == 1 + jde_module.MAX_REQUERIES


def test_reads_retry_server_errors(box, client):
    fault(box, endpoint="dataservice", action="status", status=500, count=1)
    fault(box, endpoint="dataservice", action="status", status=503, count=1)
    assert len(client.accounts()) == len(box.fakes["jde"].tables["F0901"])
    assert calls(box)["dataservice"] == 3


def test_reads_give_up_as_unavailable(box):
    client = make_client(box, max_attempts=3)
    fault(box, endpoint="dataservice", action="status", status=500)
    with pytest.raises(Unavailable) as caught:
        client.accounts()
    assert caught.value.retryable and calls(box)["dataservice"] == 3


def test_dropped_read_is_retried(box, client):
    fault(box, endpoint="dataservice", action="drop_after", count=1)
    assert len(client.accounts()) == len(box.fakes["jde"].tables["F0901"])


def test_suppliers_join_names_and_default_accounts(box, client):
    suppliers = client.suppliers()
    fake = box.fakes["jde"]
    names = {r["AN8"]: r["ALPH"] for r in fake.tables["F0101"]}
    assert len(suppliers) == len(fake.tables["F0401"])
    for supplier, source in zip(suppliers, fake.tables["F0401"], strict=True):
        assert supplier["address_number"] == source["AN8"]
        assert supplier["name"] == names[source["AN8"]] and supplier["search_type"] == "V"
        assert supplier["default_account"] == f"{source['MCUP'].strip()}.{source['OBAP']}"
        assert supplier["currency"] == source["CRRP"] and supplier["payment_terms"] == source["TRAP"]
        assert supplier["on_hold"] == (source["HDPY"] == "Y")
        assert supplier["updated"] == jde_data.from_julian(source["UPMJ"])


def test_suppliers_changed_since(box, client):
    cutoff = dt.date(2026, 6, 1)
    changed = client.suppliers(changed_since=cutoff)
    expected = {r["AN8"] for r in box.fakes["jde"].tables["F0401"] if jde_data.from_julian(r["UPMJ"]) >= cutoff}
    assert {s["address_number"] for s in changed} == expected and expected


def test_base_url_may_end_with_jderest(box):
    client = make_client(box, base_url=box.system_url("jde") + "/jderest/")
    assert len(client.accounts()) == len(box.fakes["jde"].tables["F0901"])


def test_next_links_are_followed_on_the_connection_host(box, client):
    assert client._rebase("https://ais-internal:9999/jde/jderest/v2/dataservice/next?rid=1") == (
        box.system_url("jde") + "/jderest/v2/dataservice/next?rid=1")


# -- journals ----------------------------------------------------------------------------------------------------
def test_post_journal_is_one_orchestration_call(box, client):
    result = client.post_journal(document())
    assert calls(box)["orchestrator"] == 1 and calls(box)["tokenrequest"] == 1
    assert result.batch_number == rows(box)[0]["EDBT"] and result.document_number == rows(box)[0]["DOC"]
    written = rows(box, "EXP-1001")
    assert [(r["ANI"], r["AA"]) for r in written] == [
        ("200.6110.CC10", Decimal("123.45")), ("200.6120", Decimal("300.00")), ("100.2100", Decimal("-423.45"))]
    assert written[0]["EXA"] == "Meals Chipotle"
    assert [r["EXR"] for r in written] == ["EXP-1001"] * 3  # the orchestration keeps the reference in VNEXR
    assert result.existing is False
    assert written[0]["DGJ"] == jde_data.to_julian(dt.date(2026, 11, 20))
    assert written[0]["EDUS"] == "MLCONN"


def test_journal_payload_formats_amounts_for_the_currency(box, client):
    payload = client.journal_payload(document(lines=[JournalLine("200.6110", Decimal("12.3")),
                                                     JournalLine("100.2100", Decimal("-12.30"))]))
    assert [line["Amount"] for line in payload["Lines"]] == ["12.30", "-12.30"]
    assert payload["GLDate"] == "2026-11-20" and payload["BatchReference"] == "EXP-1001"
    yen = client.journal_payload(document(currency="JPY", lines=[JournalLine("300.6100", Decimal("15000")),
                                                                 JournalLine("100.2150", Decimal("-15000"))]))
    assert [line["Amount"] for line in yen["Lines"]] == ["15000", "-15000"]


def test_batch_user_option_sets_vnedus(box):
    make_client(box, batch_user="EXPUSER").post_journal(document())
    assert {r["EDUS"] for r in rows(box)} == {"EXPUSER"}


@pytest.mark.parametrize("doc, words", [
    (document(lines=[JournalLine("200.6110", Decimal("10")), JournalLine("100.2100", Decimal("-9.99"))]),
     ["out of balance", "0.01"]),
    (document(lines=[JournalLine("200.6110", Decimal("10.001")), JournalLine("100.2100", Decimal("-10.001"))]),
     ["more decimals", "USD"]),
    (document(currency="JPY", lines=[JournalLine("200.6110", Decimal("1.5")), JournalLine("100.2100", Decimal("-1.5"))]),
     ["more decimals", "JPY"]),
    (document(lines=[]), ["no lines"]),
    (document(reference="EXP-" + "1" * 19), ["longer than 22"]),
    (document(lines=[JournalLine("6110", Decimal("1")), JournalLine("100.2100", Decimal("-1"))]), ["BU.OBJ"]),
])
def test_malformed_journals_are_refused_without_a_call(box, client, doc, words):
    with pytest.raises(ValidationRejected) as caught:
        client.post_journal(doc)
    assert caught.value.code == "JDE-INVALID-JOURNAL"
    for word in words:
        assert word in caught.value.message
    assert calls(box)["orchestrator"] == 0


@pytest.mark.parametrize("account, words", [
    ("200.6110.CC99", ["Account 200.6110.CC99 is not in F0901"]),
    ("300.6900", ["300.6900", "non-posting"]),
    ("900.6110", ["900.6110", "inactive"]),
])
def test_jde_rejections_carry_jdes_text(box, client, account, words):
    doc = document(lines=[JournalLine(account, Decimal("10")), JournalLine("100.2100", Decimal("-10"))])
    with pytest.raises(ValidationRejected) as caught:
        client.post_journal(doc)
    assert caught.value.code == "JDE-REJECTED" and caught.value.definite
    for word in words:
        assert word in caught.value.message
    assert calls(box)["orchestrator"] == 1 and rows(box) == []


def test_an_account_inactivated_in_jde_is_rejected(box, client):
    client.post_journal(document("EXP-1"))
    response = requests.post(f"{box.url}/_sandbox/jde/accounts", json={"account": "200.6110.CC10", "PEC": "I"}, timeout=10)
    assert response.status_code == 200
    with pytest.raises(ValidationRejected, match="200.6110.CC10 is inactive"):
        client.post_journal(document("EXP-2"))
    assert not next(a for a in client.accounts() if a.key == "200.6110.CC10").is_active
    assert {r["EDTN"] for r in rows(box)} == {"EXP-1"}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_on_the_post_are_outcome_unknown_and_not_retried(box, client, status):
    fault(box, endpoint="orchestrator", action="status", status=status, count=1)
    with pytest.raises(OutcomeUnknown) as caught:
        client.post_journal(document())
    assert caught.value.code == "JDE-OUTCOME-UNKNOWN" and not caught.value.definite
    assert calls(box)["orchestrator"] == 1


def test_connection_dropped_after_the_post_is_outcome_unknown_and_reconcile_finds_it(box, client):
    fault(box, endpoint="orchestrator", action="drop_after", count=1)
    with pytest.raises(OutcomeUnknown):
        client.post_journal(document())
    assert calls(box)["orchestrator"] == 1
    found = client.find_journal("EXP-1001")
    assert len(found) == 3
    assert {r["EDBT"] for r in found} == {rows(box)[0]["EDBT"]}
    assert {r["DOC"] for r in found} == {rows(box)[0]["DOC"]}
    assert [r["AA"] for r in found] == [Decimal("123.45"), Decimal("300.00"), Decimal("-423.45")]
    assert found[0]["MCU"] == "200" and found[0]["DGJ"] == dt.date(2026, 11, 20)


def test_connection_dropped_before_the_post_is_outcome_unknown_and_reconcile_finds_nothing(box, client):
    fault(box, endpoint="orchestrator", action="drop_before", count=1)
    with pytest.raises(OutcomeUnknown):
        client.post_journal(document())
    assert client.find_journal("EXP-1001") == []


def test_find_journal_sees_duplicates_and_only_its_reference(box, client):
    box.config["jde"]["journal_idempotent"] = False
    first = client.post_journal(document("EXP-1001"))
    second = client.post_journal(document("EXP-1001"))
    client.post_journal(document("EXP-10011"))
    found = client.find_journal("EXP-1001")
    assert sorted({r["EDBT"] for r in found}) == sorted([first.batch_number, second.batch_number])
    assert {r["EDTN"] for r in found} == {"EXP-1001"}
    assert client.find_journal("EXP-404") == []


def test_unknown_orchestration_is_not_found(box):
    client = make_client(box, orchestration="MLC_Nope")
    with pytest.raises(NotFound) as caught:
        client.post_journal(document())
    assert caught.value.code == "JDE-ORCHESTRATION-MISSING" and "MLC_Nope" in caught.value.message


def test_orchestration_name_option(box):
    box.config["jde"]["journal_orchestration"] = "ACME_GLBatch"
    client = make_client(box, orchestration="ACME_GLBatch")
    assert client.orchestration == "ACME_GLBatch"
    assert client.post_journal(document()).batch_number


@pytest.mark.django_db
def test_client_from_a_connection_model(box):
    from integrations.models import Connection
    from portal.models import Tenant

    tenant = Tenant.objects.create(name="Acme", slug="acme")
    conn = Connection.objects.create(tenant=tenant, system="jde", name="JDE", base_url=box.system_url("jde"),
                                     credentials=box.credentials()["jde"], options={"device_name": "portal-test"})
    conn.refresh_from_db()
    client = JdeClient(conn)
    assert client.device_name == "portal-test"
    assert client.post_journal(document()).document_number == rows(box)[0]["DOC"]
    assert len(client.find_journal("EXP-1001")) == 3


# -- idempotent orchestration and reconcile across F0911Z1 and F0911 ---------------------------------------------
MEALS_TOTAL = Decimal("423.45")


def test_posting_an_existing_reference_answers_the_existing_journal(box, client):
    first = client.post_journal(document())
    second = client.post_journal(document())
    assert second.existing is True and first.existing is False
    assert (second.batch_number, second.document_number) == (first.batch_number, first.document_number)
    assert calls(box)["orchestrator"] == 2 and len(rows(box)) == 3


def test_repost_after_a_dropped_answer_is_answered_as_existing(box, client):
    fault(box, endpoint="orchestrator", action="drop_after", count=1)
    with pytest.raises(OutcomeUnknown):
        client.post_journal(document())
    again = client.post_journal(document())
    assert again.existing and again.batch_number == rows(box)[0]["EDBT"]
    assert len(rows(box)) == 3


def test_find_journals_sees_an_unprocessed_batch(box, client):
    result = client.post_journal(document())
    assert client.find_journals("EXP-1001") == [FoundJournal(
        document_number=result.document_number, document_type="JE", company="00001", batch_number=result.batch_number,
        currency="USD", line_count=3, debit_total=MEALS_TOTAL, net=Decimal("0.00"), gl_date=dt.date(2026, 11, 20),
        where="F0911Z1", processed=False)]


def test_a_processed_batch_and_its_ledger_rows_are_one_journal(box, client):
    result = client.post_journal(document())
    sandbox_post(box, "jde/process")
    found = client.find_journals("EXP-1001")
    assert len(found) == 1
    journal = found[0]
    assert (journal.where, journal.processed) == ("F0911Z1+F0911", True)
    assert (journal.document_number, journal.batch_number) == (result.document_number, result.batch_number)
    assert (journal.line_count, journal.debit_total, journal.net) == (3, MEALS_TOTAL, 0)


def test_a_purged_journal_is_still_found_in_f0911(box, client):
    result = client.post_journal(document())
    sandbox_post(box, "jde/process")
    sandbox_post(box, "jde/purge")
    assert rows(box) == [] and client.find_journal("EXP-1001") == []  # what the Z-file-only search missed
    found = client.find_journals("EXP-1001")
    assert len(found) == 1
    journal = found[0]
    assert (journal.where, journal.processed) == ("F0911", True)
    assert (journal.document_number, journal.document_type, journal.company) == (result.document_number, "JE", "00001")
    assert journal.batch_number == result.batch_number  # the sandbox keeps VNEDBT as GLICU
    assert (journal.line_count, journal.debit_total, journal.net, journal.currency) == (3, MEALS_TOTAL, 0, "USD")
    assert journal.gl_date == dt.date(2026, 11, 20)
    assert calls(box)["dataservice"] >= 2  # both tables were read


def test_two_copies_are_two_journals_wherever_they_are(box, client):
    box.config["jde"]["journal_idempotent"] = False
    first = client.post_journal(document())
    second = client.post_journal(document())
    client.post_journal(document("EXP-10011"))
    found = client.find_journals("EXP-1001")
    assert [j.document_number for j in found] == [first.document_number, second.document_number]
    assert all(j.where == "F0911Z1" and j.line_count == 3 for j in found)
    sandbox_post(box, "jde/process", {"batch": first.batch_number})
    sandbox_post(box, "jde/purge")
    found = client.find_journals("EXP-1001")
    assert [(j.document_number, j.where, j.processed) for j in found] == [
        (first.document_number, "F0911", True), (second.document_number, "F0911Z1", False)]
    assert all(j.debit_total == MEALS_TOTAL for j in found)


def test_find_journals_finds_nothing_for_another_reference_or_document_type(box, client):
    client.post_journal(document())
    sandbox_post(box, "jde/process")
    assert client.find_journals("EXP-100") == [] and client.find_journals("EXP-404") == []
    assert client.find_journals("EXP-1001", document_type="JX") == []
    assert len(client.find_journals("EXP-1001", document_type="JE", company="00001")) == 1


# -- last guards in journal_payload -------------------------------------------------------------------------------
def test_max_amount_follows_the_currency_decimals():
    assert max_amount("USD") == Decimal("9999999999999.99")
    assert max_amount("JPY") == Decimal("999999999999999")
    assert max_amount("KWD") == Decimal("999999999999.999")


def test_the_largest_amount_is_accepted_and_one_cent_more_is_refused_without_a_call(box, client):
    limit = max_amount("USD")
    result = client.post_journal(document(lines=[JournalLine("200.6110", limit), JournalLine("100.2100", -limit)]))
    assert result.batch_number
    over = limit + Decimal("0.01")
    with pytest.raises(ValidationRejected) as caught:
        client.post_journal(document("EXP-1002", lines=[JournalLine("200.6110", Decimal("5")),
                                                        JournalLine("200.6120", over),
                                                        JournalLine("100.2100", -over - 5)]))
    error = caught.value
    assert error.code == "JDE-AMOUNT-TOO-LARGE" and error.help
    assert "line 2" in error.message and "10000000000000.00" in error.message
    assert calls(box)["orchestrator"] == 1


def test_an_absurd_amount_is_refused_as_too_large_not_crashing(box, client):
    huge = Decimal("1E+40")
    with pytest.raises(ValidationRejected) as caught:
        client.journal_payload(document(lines=[JournalLine("200.6110", huge), JournalLine("100.2100", -huge)]))
    assert caught.value.code == "JDE-AMOUNT-TOO-LARGE" and "line 1" in caught.value.message


@pytest.mark.parametrize("change, where, code_point", [
    ({"reference": "EXP-1001\n"}, "BatchReference", "U+000A"),
    ({"explanation": "Denver\ttrip"}, "Explanation", "U+0009"),
    ({"lines": [JournalLine("200.6110", Decimal("1"), "Meals\x00"), JournalLine("100.2100", Decimal("-1"))]},
     "line 1: Explanation", "U+0000"),
    ({"lines": [JournalLine("200.6110", Decimal("1")), JournalLine("100.2100", Decimal("-1"), "", "t\r2")]},
     "line 2: Remark", "U+000D"),
    ({"lines": [JournalLine("200.6110\x00", Decimal("1")), JournalLine("100.2100", Decimal("-1"))]},
     "line 1: Account", "U+0000"),
    ({"lines": [JournalLine("200.6110", Decimal("1"), "\x7fdel"), JournalLine("100.2100", Decimal("-1"))]},
     "line 1: Explanation", "U+007F"),
])
def test_control_characters_never_reach_jde(box, client, change, where, code_point):
    with pytest.raises(ValidationRejected) as caught:
        client.post_journal(dataclasses.replace(document(), **change))
    error = caught.value
    assert error.code == "JDE-CONTROL-CHARACTER"
    assert where in error.message and code_point in error.message
    assert "\n" not in error.message and "\x00" not in error.message
    assert calls(box)["orchestrator"] == 0


def test_printable_unicode_is_not_a_control_character(box, client):
    payload = client.journal_payload(document(lines=[JournalLine("200.6110", Decimal("1"), "Café – Zürich €"),
                                                     JournalLine("100.2100", Decimal("-1"))]))
    assert payload["Lines"][0]["Explanation"] == "Café – Zürich €"


def test_a_control_character_labels_the_refusal_even_after_other_problems(box, client):
    doc = document(lines=[JournalLine("200.6110", "ten"), JournalLine("100.2100", Decimal("-1"), "", "a\nb")])
    with pytest.raises(ValidationRejected) as caught:
        client.journal_payload(doc)
    assert caught.value.code == "JDE-CONTROL-CHARACTER"
    assert "line 1: amount 'ten' is not a number" in caught.value.message and "line 2: Remark" in caught.value.message


def test_z_rows_without_a_document_company_merge_with_their_ledger_rows(box, client):
    result = client.post_journal(document())
    for row in rows(box):
        row["KCO"] = ""  # an orchestration filling VNCO only
    sandbox_post(box, "jde/process")
    found = client.find_journals("EXP-1001", company="00001")
    assert [(j.document_number, j.company, j.where) for j in found] == [(result.document_number, "00001", "F0911Z1+F0911")]
