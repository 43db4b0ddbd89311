"""``POST /api/v1/webhooks/bill/<connection id>``: BILL's signed events, into the inbox.

BILL signs each notification with ``x-bill-sha-signature`` = base64(HMAC-SHA256(subscription
security key, body)) (shared/reference/bill.md, "Webhooks"). The answer must be fast and a 200, or
BILL retries with backoff and finally disables the subscription; BILL advises deduplicating on
``eventId`` (events may arrive more than once and out of order) and confirming with a GET.

So this view only checks and stores:

* the signature, in constant time over the raw bytes, with the connection's ``webhook_secret``
  credential; a connection that does not exist, is not BILL or has no key answers the same 401 as a
  bad signature (a caller cannot probe which ids exist); each refusal is audited without the key,
  the signature or the body;
* replays: an ``eventId`` already in the inbox answers 200 ``duplicate`` and stores nothing (BILL's
  own redelivery after a lost answer looks exactly like this); an event whose ``createdTime`` is
  older than the newest one stored for the connection by more than ``webhook_window_seconds``
  (connection option, default 3 days: longer than BILL's retries) is refused with 409. The window
  is measured on the sender's clock, so a skewed clock on either side does not refuse fresh events;
* then the event goes to the inbox (``WebhookEvent``) and one cycle of each enabled flow reading
  the connection is queued (coalesced like the REST trigger: one pending cycle per flow). Order
  does not matter: the cycle reads each payment back from BILL before posting it.
"""

import datetime as dt
import json
import logging
import time

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from audit import log as audit

from ..models import Connection, Flow, WebhookEvent
from ..systems.bill import verify_signature
from ..tasks import queue_cycle
from . import guard

logger = logging.getLogger(__name__)
DEFAULT_WINDOW_SECONDS = 3 * 86400
# Flow kinds reading a BILL connection's events: queued when one of their events arrives.
READERS = {"bill_to_jde": ("payment.",)}


def _refuse(status, message, **extra):
    return JsonResponse({"error": message, **extra}, status=status)


def _remote(request):
    return request.META.get("REMOTE_ADDR", "")


def parse_event(raw):
    """The event as a dict; BILL documents the payload as a "JSON-escaped string", so a body that is a
    JSON string wrapping JSON is unwrapped once. None when it is not an event."""
    try:
        body = json.loads(raw)
        if isinstance(body, str):
            body = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
        return None
    if not str(body["metadata"].get("eventId") or "").strip():
        return None
    return body


def _occurred(metadata):
    when = parse_datetime(str(metadata.get("createdTime") or ""))
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def _entity_id(event):
    kind = str(event["metadata"].get("eventType") or "").split(".")[0]
    entity = event.get(kind)
    return str(entity.get("id") or "") if isinstance(entity, dict) else ""


_NO_KEY = "no-key-" + "0" * 32
REFUSAL_AUDITS_PER_MINUTE = 10


def _audit_refusal(connection, request, raw, secret):
    """Audit a refused call; past ``REFUSAL_AUDITS_PER_MINUTE`` per connection and minute the refusals are
    counted in the log only, so a flood of forged calls cannot fill the audit trail."""
    key = f"webhook-refused:{connection.pk}:{int(time.time() // 60)}"
    cache.add(key, 0, 120)
    try:
        count = cache.incr(key)
    except ValueError:
        count = 1
    why = "no webhook key is set on the connection" if not secret else "the signature does not match"
    if count > REFUSAL_AUDITS_PER_MINUTE:
        logger.warning("BILL webhook refused for connection %s (%s); %s refusals this minute", connection.pk, why, count)
        return
    audit.record(
        connection.tenant_id,
        "webhook.refused",
        actor="webhook:bill",
        target_ref=f"connection:{connection.pk}",
        message=f"BILL webhook refused (401): {why}; from {_remote(request)}, {len(raw)} bytes",
    )


@csrf_exempt
def bill_webhook(request, connection_id):
    if request.method != "POST":
        response = JsonResponse({"error": "method not allowed; use POST"}, status=405)
        response["Allow"] = "POST"
        return response
    raw = request.body
    connection = Connection.objects.filter(pk=int(connection_id), system="bill").select_related("tenant").first()
    secret = str(((connection.credentials or {}) if connection else {}).get("webhook_secret") or "")
    # The HMAC is computed whatever the connection, so the answer's timing does not tell which ids exist.
    valid = verify_signature(raw, request.headers.get("x-bill-sha-signature"), secret or _NO_KEY)
    if connection is None or not secret or not valid:
        if connection is not None:
            _audit_refusal(connection, request, raw, secret)
        return _refuse(401, "invalid or missing x-bill-sha-signature")
    event = parse_event(raw)
    if event is None:
        return _refuse(400, "the body is not a BILL event (metadata.eventId missing)")
    metadata = event["metadata"]
    event_id, event_type = str(metadata["eventId"])[:120], str(metadata.get("eventType") or "")[:60]
    occurred = _occurred(metadata)
    inbox = WebhookEvent.objects.filter(connection=connection)
    if inbox.filter(event_id=event_id).exists():
        return JsonResponse({"status": "duplicate", "event_id": event_id})
    window = float((connection.options or {}).get("webhook_window_seconds") or DEFAULT_WINDOW_SECONDS)
    newest = inbox.aggregate(newest=Max("occurred_at"))["newest"]
    if occurred is not None and newest is not None and (newest - occurred).total_seconds() > window:
        audit.record(
            connection.tenant_id,
            "webhook.replay_refused",
            actor="webhook:bill",
            target_ref=f"connection:{connection.pk}",
            source_ref=f"event:{event_id}",
            message=f"BILL event {event_type} of {occurred:%Y-%m-%d %H:%M:%S} is older than the replay window "
            f"({int(window)} s before the newest event received): refused",
        )
        return _refuse(409, "event outside the replay window", event_id=event_id)
    try:
        with transaction.atomic():
            WebhookEvent.objects.create(
                connection=connection,
                event_id=event_id,
                event_type=event_type,
                entity_id=_entity_id(event)[:120],
                occurred_at=occurred,
                payload=event,
            )
    except IntegrityError:  # the same event delivered twice at once: the other request stored it
        return JsonResponse({"status": "duplicate", "event_id": event_id})
    queued = _queue_readers(connection, event_type)
    return JsonResponse({"status": "stored", "event_id": event_id, "queued_flows": queued})


def _queue_readers(connection, event_type):
    """Queue one cycle of each enabled flow that reads this event (at most one pending per flow)."""
    queued = []
    for flow in Flow.objects.filter(source=connection, enabled=True, kind__in=list(READERS)).select_related("tenant"):
        if not flow.tenant.active or not event_type.startswith(READERS[flow.kind]):
            continue
        try:
            guard.queue_once(flow, lambda f: queue_cycle(f, trigger="webhook"))
            queued.append(flow.pk)
        except Exception:  # the event is stored: the next scheduled cycle takes it; BILL must still get its 200
            logger.exception("flow %s: cycle not queued after a BILL webhook", flow.pk)
    return queued
