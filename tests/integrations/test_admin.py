"""Admin for connections, flows, batches and cycles."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages

from audit.models import AuditEntry
from integrations.models import BatchState, Connection, Flow
from integrations.systems.registry import CREDENTIAL_KEYS, NON_SECRET_KEYS
from tests.factories import SECRET_MARK, credentials_for, make_batch, make_connection, make_cycle, make_flow

CONN = "/integrations/connection/"


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def connection_post(conn_or_none, tenant, system, creds, **extra):
    data = {
        "tenant": tenant.pk,
        "system": system,
        "name": extra.pop("name", "ERP"),
        "base_url": "https://erp.example.com/api",
        "options": "{}",
    }
    data.update({f"cred_{k}": v for k, v in creds.items()})
    data.update(extra)
    return data


# -- connection form -----------------------------------------------------------------------------


def test_add_asks_for_the_system_first(support_client):
    response = support_client.get(CONN + "add/")
    assert response.status_code == 200
    assert b"?system=jde" in response.content and b"?system=acumatica" in response.content


@pytest.mark.parametrize("system", sorted(CREDENTIAL_KEYS))
def test_add_form_has_one_field_per_credential_key(support_client, system):
    response = support_client.get(CONN + f"add/?system={system}")
    form = response.context["adminform"].form
    cred_fields = sorted(n.removeprefix("cred_") for n in form.fields if n.startswith("cred_"))
    assert cred_fields == sorted(CREDENTIAL_KEYS[system])
    for key in CREDENTIAL_KEYS[system]:
        widget = form.fields[f"cred_{key}"].widget
        assert (widget.input_type == "password") is (key not in NON_SECRET_KEYS)


def test_create_connection_through_the_admin(support_client, tenant):
    creds = credentials_for("jde", "new")
    response = support_client.post(CONN + "add/?system=jde", connection_post(None, tenant, "jde", creds))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response.wsgi_request.sensitive_post_parameters == "__ALL__"  # kept out of error reports
    conn = Connection.objects.get(name="ERP")
    assert conn.credentials == creds and conn.system == "jde"
    entry = AuditEntry.objects.get(event="connection.credentials_changed")
    assert entry.after == {"keys": sorted(creds)} and SECRET_MARK not in str(entry.after) + entry.message


@pytest.mark.parametrize("missing", CREDENTIAL_KEYS["acumatica"])
def test_missing_key_is_a_form_error_naming_it(support_client, tenant, missing):
    creds = credentials_for("acumatica")
    creds[missing] = ""
    response = support_client.post(CONN + "add/?system=acumatica", connection_post(None, tenant, "acumatica", creds))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [f"cred_{missing}"]
    assert missing in errors[f"cred_{missing}"][0]
    assert not Connection.objects.exists()


def test_blank_secret_keeps_the_stored_value_and_identifiers_are_shown(support_client, tenant):
    creds = credentials_for("jde", "keep")
    conn = make_connection(tenant, "jde", credentials=creds)
    page = support_client.get(CONN + f"{conn.pk}/change/")
    form = page.context["adminform"].form
    assert form["cred_username"].value() == creds["username"]
    data = connection_post(
        conn, tenant, "jde", {"username": "new-user", "password": "", "environment": "JPS920", "role": "*ALL"}, name=conn.name
    )
    response = support_client.post(CONN + f"{conn.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    conn.refresh_from_db()
    assert conn.credentials["password"] == creds["password"]
    assert conn.credentials["username"] == "new-user" and conn.credentials["environment"] == "JPS920"
    entry = AuditEntry.objects.filter(event="connection.credentials_changed").latest("id")
    assert entry.after == {"keys": ["environment", "role", "username"]}


def test_new_secret_replaces_the_stored_one(support_client, tenant):
    conn = make_connection(tenant, "expensify", credentials=credentials_for("expensify", "old"))
    data = connection_post(
        conn, tenant, "expensify", {"partnerUserID": "id", "partnerUserSecret": "brand-new-secret"}, name=conn.name
    )
    assert support_client.post(CONN + f"{conn.pk}/change/", data).status_code == 302
    conn.refresh_from_db()
    assert conn.credentials["partnerUserSecret"] == "brand-new-secret"


def test_system_cannot_change_after_creation(support_client, tenant):
    conn = make_connection(tenant, "expensify")
    data = connection_post(conn, tenant, "jde", {"partnerUserID": "id", "partnerUserSecret": ""}, name=conn.name)
    support_client.post(CONN + f"{conn.pk}/change/", data)
    conn.refresh_from_db()
    assert conn.system == "expensify"


def test_no_stored_secret_ever_appears_in_admin_html(support_client, customer_client, tenant):
    creds = credentials_for("bill", "html")
    conn = make_connection(tenant, "bill", credentials=creds)
    secrets = [v for k, v in creds.items() if k not in NON_SECRET_KEYS]
    assert len(secrets) == 3
    # a change with an invalid form re-renders the page: still no secret
    bad = connection_post(conn, tenant, "bill", {**{k: "" for k in creds}, "org_id": ""}, name=conn.name)
    support_client.post(
        CONN + f"{conn.pk}/change/", connection_post(conn, tenant, "bill", {**creds, "password": ""}, name=conn.name)
    )
    pages = {
        "change": support_client.get(CONN + f"{conn.pk}/change/"),
        "changelist": support_client.get(CONN),
        "history": support_client.get(CONN + f"{conn.pk}/history/"),
        "delete": support_client.get(CONN + f"{conn.pk}/delete/"),
        "invalid post": support_client.post(CONN + f"{conn.pk}/change/", bad),
        "customer change": customer_client.get(CONN + f"{conn.pk}/change/"),
        "customer changelist": customer_client.get(CONN),
        "audit": support_client.get("/audit/auditentry/"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        html = page.content.decode()
        for secret in secrets:
            assert secret not in html, f"{name} shows a stored secret"
        assert SECRET_MARK not in html, name
    assert 'name="cred_password"' in pages["change"].content.decode()
    assert LogEntry.objects.filter(object_id=str(conn.pk)).exists()  # the history page had something to show


def test_customer_never_sees_credentials(customer_client, tenant):
    conn = make_connection(tenant, "jde", credentials=credentials_for("jde", "cust"))
    html = customer_client.get(CONN + f"{conn.pk}/change/").content.decode()
    assert conn.name in html
    assert not re.search(r"cred_|username-cust|environment-cust|Credentials \(", html)
    assert customer_client.post(CONN + f"{conn.pk}/change/", {}).status_code == 403
    assert customer_client.get(CONN + "add/?system=jde").status_code == 403


def test_check_connection_action_uses_the_checks_module(support_client, tenant, monkeypatch):
    conn = make_connection(tenant)
    calls = []
    monkeypatch.setattr(
        "integrations.checks.check_connection", lambda c, user=None: calls.append((c.pk, user.username)) or (True, "ok")
    )
    response = support_client.post(CONN, {"action": "check_connections", "_selected_action": [conn.pk]}, follow=True)
    assert calls == [(conn.pk, "sam")]
    assert "1 connection(s) passed, 0 failed." in messages_of(response)


# -- flows ---------------------------------------------------------------------------------------

FLOWS = "/integrations/flow/"


def flow_post(tenant, source, target, **extra):
    return {
        "tenant": tenant.pk,
        "name": "Expenses",
        "kind": "expensify_to_jde",
        "source": source.pk,
        "target": target.pk,
        "enabled": "on",
        "schedule_type": "interval",
        "interval_minutes": 60,
        "cron": "",
        "options": "{}",
        "cursor": "{}",
        **extra,
    }


def test_flow_form_rejects_systems_that_do_not_fit_the_kind(support_client, tenant):
    expensify, jde = make_connection(tenant, "expensify"), make_connection(tenant, "jde")
    response = support_client.post(FLOWS + "add/", flow_post(tenant, jde, expensify))
    errors = response.context["adminform"].form.errors
    assert "needs a Expensify connection as source" in errors["source"][0]
    assert "as target" in errors["target"][0]
    assert support_client.post(FLOWS + "add/", flow_post(tenant, expensify, jde)).status_code == 302


def test_flow_form_rejects_another_tenants_connection(support_client, tenant, other_tenant):
    expensify, theirs = make_connection(tenant, "expensify"), make_connection(other_tenant, "jde")
    response = support_client.post(FLOWS + "add/", flow_post(tenant, expensify, theirs))
    assert "belongs to another tenant" in response.context["adminform"].form.errors["target"][0]
    assert not Flow.objects.exists()


def test_generate_trigger_token_shows_it_once_and_stores_the_hash(support_client, tenant):
    flow = make_flow(tenant)
    response = support_client.post(FLOWS, {"action": "generate_trigger_token", "_selected_action": [flow.pk]}, follow=True)
    shown = [m for m in messages_of(response) if "Trigger token for" in m]
    token = shown[0].rsplit(": ", 1)[1]
    flow.refresh_from_db()
    assert flow.check_trigger_token(token)
    assert token not in flow.trigger_token_hash
    assert token not in support_client.get(FLOWS + f"{flow.pk}/change/").content.decode()
    assert AuditEntry.objects.filter(event="flow.trigger_token_generated", flow=flow).exists()
    assert not any(token in (e.message + str(e.after)) for e in AuditEntry.objects.all())


def test_run_now_queues_a_cycle(support_client, tenant, monkeypatch):
    flows = [make_flow(tenant), make_flow(tenant), make_flow(tenant, enabled=False)]
    queued = []
    monkeypatch.setattr("integrations.tasks.queue_cycle", lambda flow, trigger: queued.append((flow.pk, trigger)))
    response = support_client.post(FLOWS, {"action": "run_now", "_selected_action": [f.pk for f in flows]}, follow=True)
    assert sorted(queued) == sorted((f.pk, "admin") for f in flows[:2])
    assert "2 flow cycle(s) queued." in messages_of(response)


def test_customer_sees_flows_read_only_without_actions(customer_client, tenant):
    flow = make_flow(tenant)
    page = customer_client.get(FLOWS)
    assert page.status_code == 200 and flow.name in page.content.decode()
    assert b"run_now" not in page.content and b"generate_trigger_token" not in page.content
    assert customer_client.post(FLOWS + f"{flow.pk}/change/", {}).status_code == 403


# -- batches -------------------------------------------------------------------------------------

BATCHES = "/integrations/batch/"


def test_batch_detail_shows_payload_posting_and_error(support_client, tenant):
    batch = make_batch(tenant, target_document_id="JE 4711", payload={"reportID": "R42", "policyName": "HQ"})
    html = support_client.get(BATCHES + f"{batch.pk}/change/").content.decode()
    for text in [
        "R42",
        "policyName",
        "100.6110",  # JD Edwards' own notation (BU.OBJECT), not business_unit=100 object=6110
        "12.34",
        batch.external_ref,
        "JE 4711",
        "MAP-UNMAPPED-CATEGORY",
        "unmapped category",
        "Add a mapping rule",
    ]:
        assert text.replace('"', "&quot;") in html or text in html, text
    assert 'name="_save"' not in html


@pytest.mark.parametrize(
    ("action", "operation"),
    [
        ("retry", "retry_batches"),
        ("release", "release_batches"),
        ("hold", "hold_batches"),
        ("skip", "skip_batches"),
        ("accept_corrections_action", "accept_corrections"),
    ],
)
def test_batch_actions_call_operations_with_the_user(support_client, tenant, monkeypatch, action, operation):
    batches = [make_batch(tenant), make_batch(tenant)]
    calls = []

    def fake(queryset, user):
        calls.append((sorted(queryset.values_list("pk", flat=True)), user.username))
        return 2

    monkeypatch.setattr(f"integrations.operations.{operation}", fake)
    response = support_client.post(BATCHES, {"action": action, "_selected_action": [b.pk for b in batches]}, follow=True)
    assert calls == [(sorted(b.pk for b in batches), "sam")]
    assert any(m.startswith("2 batch(es)") for m in messages_of(response))


def test_customer_can_retry_own_batches_for_real(customer_client, tenant, other_tenant, monkeypatch):
    monkeypatch.setattr("integrations.tasks.queue_cycle", lambda flow, trigger: None)
    mine, theirs = make_batch(tenant), make_batch(other_tenant)
    response = customer_client.post(BATCHES, {"action": "skip", "_selected_action": [mine.pk, theirs.pk]}, follow=True)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.state == BatchState.SKIPPED and theirs.state == BatchState.HELD
    assert "1 batch(es) skipped." in messages_of(response)
    assert AuditEntry.objects.get(event="batch.skipped").actor == "carla"


def test_batches_cannot_be_added_or_deleted(support_client, tenant):
    batch = make_batch(tenant)
    assert support_client.get(BATCHES + "add/").status_code == 403
    assert support_client.get(BATCHES + f"{batch.pk}/delete/").status_code == 403
    assert b"delete_selected" not in support_client.get(BATCHES).content


# -- cycles --------------------------------------------------------------------------------------


def test_running_cycles_are_visible_with_progress(support_client, tenant):
    flow = make_flow(tenant)
    make_cycle(tenant, flow=flow, state="running", progress="posting 7 of 40", counts={"posted": 6})
    html = support_client.get("/integrations/synccycle/?state=running").content.decode()
    assert "posting 7 of 40" in html and "posted 6" in html and "(running)" in html
    assert support_client.get("/integrations/synccycle/add/").status_code == 403
