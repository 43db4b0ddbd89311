"""POST /api/v1/webhooks/bill/<connection>: BILL's signed events, over real HTTP (the sandbox delivers to a live portal)."""

import base64
import hashlib
import hmac
import json
import uuid

import pytest
import requests
from django_q.models import OrmQ

from audit.models import AuditEntry
from integrations.models import WebhookEvent

from .bill_setup import make_bill_flow, paid_bill, subscribe, supplier_vendor, wait_for
from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def sign(key, raw):
    return base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()


def event(payment_id="stp01AAAAAAAAAAAAAAA", created="2026-11-01T10:00:00.000+00:00", event_id=None):
    return {
        "metadata": {
            "eventId": event_id or str(uuid.uuid4()),
            "subscriptionId": "sub01",
            "organizationId": "008x",
            "eventType": "payment.updated",
            "version": "1",
            "createdTime": created,
        },
        "payment": {"id": payment_id, "status": "PAID", "amount": 10.0},
    }


@pytest.fixture
def hooked(box, portal_server):
    box.config.setdefault("bill", {}).update(webhook_backoff_initial=0.01)
    flow = make_bill_flow(box)
    subscribe(flow, portal_server)
    flow.source.refresh_from_db()
    url = f"{portal_server}/api/v1/webhooks/bill/{flow.source.pk}"
    return flow, url, flow.source.credentials["webhook_secret"]


def send(url, raw, signature):
    return requests.post(
        url, data=raw, headers={"Content-Type": "application/json", "x-bill-sha-signature": signature}, timeout=10
    )


def test_a_payment_event_from_bill_is_verified_stored_and_queues_one_cycle(box, hooked):
    flow, _, _ = hooked
    _, vendor = supplier_vendor(flow)
    _, payment, _ = paid_bill(box, flow, vendor)
    delivery = wait_for(lambda: [d for d in control(box, "GET", "bill/deliveries") if d["delivered"]])
    assert delivery[0]["statuses"] == [200]  # answered at the first attempt: BILL does not retry
    (stored,) = WebhookEvent.objects.filter(connection=flow.source)
    assert stored.event_type == "payment.updated" and stored.entity_id == payment["id"] and stored.processed_at is None
    (task,) = OrmQ.objects.all()
    assert task.task["func"] == "integrations.tasks.run_flow" and task.task["args"][0] == flow.pk


def test_a_forged_signature_is_401_stores_nothing_and_is_audited_without_the_key(hooked):
    flow, url, key = hooked
    raw = json.dumps(event()).encode()
    forged = sign("not-the-key", raw)
    assert send(url, raw, forged).status_code == 401
    assert send(url, raw, "").status_code == 401
    tampered = raw.replace(b"10.0", b"99999.0")
    assert send(url, tampered, sign(key, raw)).status_code == 401  # signed body altered: the raw bytes are what is checked
    assert WebhookEvent.objects.count() == 0 and OrmQ.objects.count() == 0
    refused = AuditEntry.objects.filter(event="webhook.refused")
    assert refused.count() == 3
    for entry in refused:
        text = json.dumps([entry.message, entry.before, entry.after])
        assert key not in text and forged not in text and "99999" not in text


def test_an_unknown_connection_answers_like_a_bad_signature(hooked, portal_server):
    _, url, key = hooked
    raw = json.dumps(event()).encode()
    unknown = send(f"{portal_server}/api/v1/webhooks/bill/987654", raw, sign(key, raw))
    forged = send(url, raw, "x")
    assert unknown.status_code == forged.status_code == 401 and unknown.json() == forged.json()


def test_a_duplicate_delivery_is_answered_200_and_stored_once(hooked):
    flow, url, key = hooked
    raw = json.dumps(event()).encode()
    first, again = send(url, raw, sign(key, raw)), send(url, raw, sign(key, raw))
    assert first.status_code == again.status_code == 200  # a 200 either way, or BILL retries the redelivery forever
    assert first.json()["status"] == "stored" and again.json()["status"] == "duplicate"
    assert WebhookEvent.objects.filter(connection=flow.source).count() == 1


def test_a_replayed_old_event_outside_the_window_is_refused(hooked):
    flow, url, key = hooked
    flow.source.options = {**flow.source.options, "webhook_window_seconds": 3600}
    flow.source.save()
    fresh = json.dumps(event(created="2026-11-02T10:00:00.000+00:00")).encode()
    assert send(url, fresh, sign(key, fresh)).status_code == 200
    stale = json.dumps(event(created="2026-11-01T08:00:00.000+00:00")).encode()  # a new id, a day old
    answer = send(url, stale, sign(key, stale))
    assert answer.status_code == 409
    assert WebhookEvent.objects.count() == 1
    assert AuditEntry.objects.filter(event="webhook.replay_refused").count() == 1


def test_out_of_order_events_within_the_window_are_both_kept(hooked):
    _, url, key = hooked
    newer = json.dumps(event(created="2026-11-02T10:00:00.000+00:00")).encode()
    older = json.dumps(event(created="2026-11-02T09:59:00.000+00:00")).encode()
    assert send(url, newer, sign(key, newer)).json()["status"] == "stored"
    assert send(url, older, sign(key, older)).json()["status"] == "stored"
    assert list(WebhookEvent.objects.values_list("occurred_at__minute", flat=True)) == [59, 0]  # read in event order


def test_a_json_escaped_string_body_is_accepted(hooked):
    _, url, key = hooked
    raw = json.dumps(json.dumps(event())).encode()  # BILL documents the payload as a "JSON-escaped string"
    assert send(url, raw, sign(key, raw)).json()["status"] == "stored"


def test_only_post_is_allowed(hooked):
    _, url, _ = hooked
    assert requests.get(url, timeout=10).status_code == 405


def test_the_connection_admin_subscribes_then_rotates_the_key_and_keeps_it_only_encrypted(box, support_client):
    from integrations.models import Connection

    flow = make_bill_flow(box)
    action = {"action": "bill_webhook_subscribe", "_selected_action": [flow.source.pk]}
    assert support_client.post("/integrations/connection/", action, follow=True).status_code == 200
    (sub,) = control(box, "GET", "bill/subscriptions")
    assert sub["notificationUrl"].endswith(f"/api/v1/webhooks/bill/{flow.source.pk}")
    assert {e["type"] for e in sub["events"]} == {"payment.updated", "payment.failed"}
    first = Connection.objects.get(pk=flow.source.pk)
    assert first.credentials["webhook_secret"] == sub["securityKey"]
    support_client.post("/integrations/connection/", action, follow=True)  # again: the key is rotated, no second subscription
    (rotated,) = control(box, "GET", "bill/subscriptions")
    second = Connection.objects.get(pk=flow.source.pk)
    assert rotated["securityKey"] != sub["securityKey"] and second.credentials["webhook_secret"] == rotated["securityKey"]
    entries = AuditEntry.objects.filter(event__in=["webhook.subscribed", "webhook.key_rotated"])
    assert entries.count() == 2
    assert not any(k in json.dumps([e.message for e in entries]) for k in (sub["securityKey"], rotated["securityKey"]))
    from django.db import connection as db

    with db.cursor() as cursor:  # at rest: only the encrypted form
        cursor.execute("SELECT credentials FROM integrations_connection WHERE id = %s", [flow.source.pk])
        assert rotated["securityKey"] not in str(cursor.fetchone()[0])


def test_a_flood_of_forged_calls_is_refused_without_filling_the_audit_trail(hooked):
    from integrations.api.webhooks import REFUSAL_AUDITS_PER_MINUTE

    _, url, _ = hooked
    raw = json.dumps(event()).encode()
    answers = {send(url, raw, "forged").status_code for _ in range(REFUSAL_AUDITS_PER_MINUTE + 5)}
    assert answers == {401}
    assert AuditEntry.objects.filter(event="webhook.refused").count() <= REFUSAL_AUDITS_PER_MINUTE + 1  # a minute may turn
