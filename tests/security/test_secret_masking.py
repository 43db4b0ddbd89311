"""Secrets masked in every encoding and every sink, proven with a vendor fake that echoes them (issue 9, point 5).

The JD Edwards fake's ``echo_credentials_in_errors`` makes its Authorization Failure quote
the submitted credentials (JSON-escaped with ``\\uXXXX``, JSON with UTF-8 letters, or
URL-encoded). A connection whose password holds ``"``, ``\\`` and a non-ASCII letter is
refused; the answer must then be masked wherever it lands.
"""

import io
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
import requests
from django.core import mail
from django.core.management import call_command

from audit.models import AuditEntry
from integrations.checks import check_connection
from integrations.models import Connection, SyncCycle
from portal.scrub import MASK, encodings, remember_secret, scrub, scrub_data
from tests.flows.conftest import control, make_flow

SECRET = 'Wr0ng"pa\\ss-w\u00f6rd\u00e9'  # a quote, a backslash and two non-ASCII letters


def forms_of(value):
    json_ascii = json.dumps(value)[1:-1]
    return {
        "raw": value,
        "json": json_ascii,
        "json-utf8": json.dumps(value, ensure_ascii=False)[1:-1],
        "json-upper-hex": json_ascii.replace("\\u00f6", "\\u00F6").replace("\\u00e9", "\\u00E9"),
        "json-twice": json.dumps(json_ascii)[1:-1],
        "url": quote(value, safe=""),
        "url-plus": quote_plus(value),
        "python": repr(value)[1:-1],
    }


def leaks(text, value=SECRET):
    """The encodings of ``value`` found in ``text`` (a fragment long enough to matter counts too)."""
    text = str(text)
    found = [name for name, form in forms_of(value).items() if form in text]
    if "pa\\ss" in text or "pa%5Css" in text.lower() or "ss-w" in text:
        found.append("fragment")
    return found


@pytest.mark.parametrize("form", list(forms_of(SECRET)))
def test_scrub_masks_a_given_secret_in_each_encoding(form):
    text = f"vendor said: bad login [{forms_of(SECRET)[form]}] for svc-user"
    cleaned = scrub(text, [SECRET])
    assert leaks(cleaned) == [] and MASK in cleaned
    assert "svc-user" in cleaned and cleaned.startswith("vendor said: bad login [")


@pytest.mark.parametrize("form", list(forms_of("Remembered\"\\S\u00e9cret-42")))
def test_scrub_masks_a_remembered_secret_in_each_encoding(form):
    value = 'Remembered"\\S\u00e9cret-42'
    remember_secret(value)
    assert forms_of(value)[form] not in scrub(f"echo: {forms_of(value)[form]}!")


def test_keyed_secrets_are_masked_when_json_escaped_inside_json():
    inner = json.dumps({"partnerUserSecret": "unknown-value-77", "partnerUserID": "me"})
    cleaned = scrub(json.dumps({"error": inner}))
    assert "unknown-value-77" not in cleaned and "me" in cleaned


def test_scrub_data_masks_nested_values_and_secret_keys():
    data = {"ok": False, "detail": [f"echo {json.dumps(SECRET)}"], "password": "anything-at-all"}
    cleaned = scrub_data(data, [SECRET])
    assert cleaned["password"] == MASK and leaks(json.dumps(cleaned, ensure_ascii=False)) == []
    assert cleaned["ok"] is False


def test_every_encoding_is_listed_longest_first():
    forms = encodings(SECRET)
    assert list(forms) == sorted(forms, key=len, reverse=True)
    assert set(forms_of(SECRET).values()) <= set(forms)


# -- end to end: the vendor echoes the credentials; nothing that stores or shows its answer keeps them --------

@pytest.fixture
def refused_flow(box, db):
    flow = make_flow(box)
    target = flow.target
    target.credentials = {**target.credentials, "password": SECRET}
    target.save()
    return flow


@pytest.mark.parametrize("mode", ["json", "json-utf8", "url"])
def test_the_fake_really_echoes_the_credentials(box, mode):
    control(box, "POST", "config", json={"jde": {"echo_credentials_in_errors": mode}})
    answer = requests.post(f"{box.system_url('jde')}/jderest/v2/tokenrequest", timeout=10,
                           json={"username": "x", "password": SECRET, "environment": "JDV920", "role": "*ALL"})
    assert answer.status_code == 403
    message = answer.json()["message"]
    expected = {"json": forms_of(SECRET)["json"], "json-utf8": forms_of(SECRET)["json-utf8"], "url": quote(SECRET, safe="")}
    assert expected[mode] in message


@pytest.mark.parametrize("mode", ["json", "json-utf8", "url"])
def test_an_echoed_secret_reaches_no_sink(refused_flow, box, mode, caplog, support_client):
    control(box, "POST", "config", json={"jde": {"echo_credentials_in_errors": mode}})
    caplog.set_level(logging.DEBUG)
    out, err = io.StringIO(), io.StringIO()
    call_command("sync", str(refused_flow.pk), "--wait", "0", stdout=out, stderr=err)
    admin = support_client.post("/integrations/connection/", {"action": "check_connections", "index": "0",
                                                               "_selected_action": [refused_flow.target.pk]}, follow=True)
    passed, returned = check_connection(Connection.objects.get(pk=refused_flow.target.pk))
    assert not passed
    refused_flow.refresh_from_db()
    target = Connection.objects.get(pk=refused_flow.target.pk)
    cycles = list(SyncCycle.objects.filter(flow=refused_flow).values_list("message", "progress"))
    audit = [(e.message, json.dumps(e.before, ensure_ascii=False), json.dumps(e.after, ensure_ascii=False))
             for e in AuditEntry.objects.all()]
    admin_messages = [str(m) for m in admin.context["messages"]]
    sinks = {
        "stderr": err.getvalue(), "stdout": out.getvalue(), "logs": caplog.text, "cycles": cycles,
        "outage": refused_flow.outage_message, "last check": target.last_check_message, "returned": returned,
        "audit": audit, "admin messages": admin_messages, "admin page": admin.content.decode(),
        "mail": [(m.subject, m.body) for m in mail.outbox],
    }
    assert "Authorization Failure" in target.last_check_message  # the vendor's words are kept, only the secret goes
    assert any("Authorization Failure" in m for m in admin_messages)
    assert any("Authorization Failure" in m for m, _ in cycles)
    assert {name: leaks(sink) for name, sink in sinks.items() if leaks(sink)} == {}
