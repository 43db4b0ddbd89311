"""BILL webhooks: subscriptions with their one-time security key, and signed delivery.

Facts (developer.bill.com docs/bill-webhook-api-general-rules, test-with-webhook-security,
working-with-bill-webhooks; changelog 2024-05-20):
  * ``POST /connect-events/v3/subscriptions`` (``X-Idempotent-Key`` UUID4 required; a repeat with the
    same key within 24 h answers the first response) with name, ``status.enabled``, ``events``
    [{type, version}] and ``notificationUrl``; the answer holds ``securityKey`` once, never again;
    at most 10 per organization and no duplicates (same events and URL).
  * ``POST .../subscriptions/{id}/security-key`` (the changelog spells it ``security_key``; both
    answer) makes a new key, also with ``X-Idempotent-Key``; the old key stops signing at once.
  * every notification carries ``x-bill-sha-signature`` = base64(HMAC-SHA256(securityKey, body)),
    the body being the raw bytes sent (that it is exactly the raw body is the reference's
    reading, UNCONFIRMED);
  * a failed delivery (anything but HTTP 200) is retried with exponential backoff; when it keeps
    failing BILL sets the subscription's ``enabled`` to false and stops sending.
Payload: ``{"metadata": {"eventId", "subscriptionId", "organizationId", "eventType", "version",
"createdTime"}, "<entity>": {...}}`` (``createdTime`` is the event history's field, carried in the
notification by this sandbox: UNCONFIRMED).

Config (``sandbox.config["bill"]``): ``webhook_backoff_initial`` (1.0 s), ``webhook_backoff_max``
(300 s), ``webhook_max_attempts`` (8, then the subscription is disabled), ``webhook_timeout`` (5 s),
``require_https`` (false, so local test receivers work). Deliveries run on one background thread.
"""

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request

CATALOG = [
    "vendor.created",
    "vendor.updated",
    "vendor.archived",
    "vendor.restored",
    "bill.created",
    "bill.updated",
    "bill.archived",
    "bill.restored",
    "payment.updated",
    "payment.failed",
]
MAX_SUBSCRIPTIONS = 10


def sign(key, body):
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


class Deliverer:
    """A queue of notifications due at a time, sent by one daemon thread."""

    def __init__(self, fake):
        self.fake = fake
        self._cond = threading.Condition()
        self._queue = []  # (due monotonic, seq, delivery)
        self._seq = itertools.count()
        self._generation = 0
        self._thread = None
        self._sending = False  # an attempt is on the wire (outside the lock)
        self.log = []  # one entry per notification: attempts, statuses, delivered

    def clear(self, wait=5.0):
        """Drop every queued notification, and wait (up to ``wait`` s) for an attempt on the wire to end:
        after a reset no delivery of the old world reaches a receiver (a test's server may be gone)."""
        with self._cond:
            self._queue.clear()
            self._generation += 1
            self.log = []
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._sending, timeout=wait)

    def enqueue(self, subscription_id, event_type, body):
        entry = {
            "subscriptionId": subscription_id,
            "eventType": event_type,
            "eventId": json.loads(body)["metadata"]["eventId"],
            "attempts": 0,
            "statuses": [],
            "delivered": False,
            "gaveUp": False,
        }
        with self._cond:
            self.log.append(entry)
            heapq.heappush(self._queue, (time.monotonic(), next(self._seq), (self._generation, entry, body)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bill-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return [dict(e, statuses=list(e["statuses"])) for e in self.log]

    def _run(self):
        while True:
            with self._cond:
                while not self._queue or self._queue[0][0] > time.monotonic():
                    self._cond.wait(None if not self._queue else max(0.0, self._queue[0][0] - time.monotonic()))
                _, _, (generation, entry, body) = heapq.heappop(self._queue)
                if generation != self._generation:
                    continue
                self._sending = True
            try:
                self._attempt(generation, entry, body)
            finally:
                with self._cond:
                    self._sending = False
                    self._cond.notify_all()

    def _attempt(self, generation, entry, body):
        settings = self.fake.settings
        sub = self.fake.subscriptions.get(entry["subscriptionId"])
        if sub is None or not sub["status"]["enabled"]:
            entry["gaveUp"] = True
            return
        request = urllib.request.Request(
            sub["notificationUrl"],
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "x-bill-sha-signature": sign(sub["securityKey"], body)},
        )
        try:
            with urllib.request.urlopen(request, timeout=float(settings.get("webhook_timeout") or 5)) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError):
            status = 0  # connection refused, reset or timed out
        with self._cond:
            if generation != self._generation:
                return
            entry["attempts"] += 1
            entry["statuses"].append(status)
            if status == 200:
                entry["delivered"] = True
                return
            if entry["attempts"] >= int(settings.get("webhook_max_attempts") or 8):
                entry["gaveUp"] = True
                sub["status"]["enabled"] = False
                return
            initial = float(settings.get("webhook_backoff_initial") or 1.0)
            delay = min(initial * 2 ** (entry["attempts"] - 1), float(settings.get("webhook_backoff_max") or 300))
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), (generation, entry, body)))
            self._cond.notify_all()


class SubscriptionsMixin:
    """The ``/connect-events/v3`` handlers; ``self.subscriptions`` maps id -> subscription."""

    def _idempotent(self, req, action):
        key = req.headers.get("x-idempotent-key", "")
        if not key:
            raise self.error(400, "X-Idempotent-Key header is required (a UUID4)")
        cached = self.idempotency.get(key)
        if cached is not None and self.sandbox.clock() - cached[0] < 86400:
            return cached[1]
        result = action()
        self.idempotency[key] = (self.sandbox.clock(), result)
        return result

    def events_catalog(self, req, session):
        return [{"type": t, "version": "1"} for t in CATALOG]

    def subscription_create(self, req, session):
        body = self.body(req)

        def create():
            events = body.get("events")
            url = str(body.get("notificationUrl") or "")
            if not body.get("name") or not isinstance(events, list) or not events or not url:
                raise self.error(400, "name, status, events and notificationUrl are required")
            if any(not isinstance(e, dict) or e.get("type") not in CATALOG for e in events):
                raise self.error(400, f"Unknown event type; see GET /v3/events/catalog ({', '.join(CATALOG)})")
            if self.settings.get("require_https") and not url.startswith("https://"):
                raise self.error(400, "notificationUrl must use HTTPS")
            mine = [s for s in self.subscriptions.values() if s["organizationId"] == session["org"]]
            if len(mine) >= MAX_SUBSCRIPTIONS:
                raise self.error(400, f"At most {MAX_SUBSCRIPTIONS} subscriptions per organization")
            kinds = sorted(e["type"] for e in events)
            if any(s["notificationUrl"] == url and sorted(e["type"] for e in s["events"]) == kinds for s in mine):
                raise self.error(400, "A subscription with these events and notificationUrl already exists")
            now = self.stamp()
            sub = {
                "id": self.new_id("subscription"),
                "name": body["name"],
                "organizationId": session["org"],
                "status": {"enabled": bool((body.get("status") or {}).get("enabled", True))},
                "events": [{"type": e["type"], "version": str(e.get("version") or "1")} for e in events],
                "notificationUrl": url,
                "securityKey": secrets.token_urlsafe(32),
                "createdTime": now,
                "updatedTime": now,
            }
            self.subscriptions[sub["id"]] = sub
            return dict(sub)  # the only answer that shows the key

        return self._idempotent(req, create)

    def _subscription(self, key, session):
        sub = self.subscriptions.get(key)
        if sub is None or sub["organizationId"] != session["org"]:
            raise self.not_found("subscription", key)
        return sub

    def _public(self, sub):
        return {k: v for k, v in sub.items() if k != "securityKey"}

    def subscription_list(self, req, session):
        return [self._public(s) for s in self.subscriptions.values() if s["organizationId"] == session["org"]]

    def subscription_get(self, req, session, key):
        return self._public(self._subscription(key, session))

    def subscription_update(self, req, session, key):
        sub, body = self._subscription(key, session), self.body(req)
        for field in ("name", "notificationUrl", "events"):
            if field in body:
                sub[field] = body[field]
        if isinstance(body.get("status"), dict) and "enabled" in body["status"]:
            sub["status"] = {"enabled": bool(body["status"]["enabled"])}
        sub["updatedTime"] = self.stamp()
        return self._public(sub)

    def subscription_delete(self, req, session, key):
        self._subscription(key, session)
        return self._public(self.subscriptions.pop(key))

    def subscription_key(self, req, session, key):
        sub = self._subscription(key, session)

        def rotate():
            sub["securityKey"] = secrets.token_urlsafe(32)
            sub["updatedTime"] = self.stamp()
            return {"securityKey": sub["securityKey"]}

        return self._idempotent(req, rotate)

    def subscription_test(self, req, session, key):
        sub = self._subscription(key, session)
        event_type = sub["events"][0]["type"]
        entity = event_type.split(".")[0]
        sample = next(iter(self.world[{"vendor": "vendors", "bill": "bills", "payment": "payments"}[entity]]), {})
        self.notify(event_type, sample, only=sub["id"])
        return {"message": "Test event sent"}

    def notify(self, event_type, obj, only=None):
        """Queue ``event_type`` about ``obj`` for every enabled subscription of its organization that wants it."""
        entity = event_type.split(".")[0]
        for sub in list(self.subscriptions.values()):
            if only not in (None, sub["id"]) or not sub["status"]["enabled"]:
                continue
            if event_type not in {e["type"] for e in sub["events"]}:
                continue
            payload = {
                "metadata": {
                    "eventId": self.event_id(),
                    "subscriptionId": sub["id"],
                    "organizationId": sub["organizationId"],
                    "eventType": event_type,
                    "version": "1",
                    "createdTime": self.stamp(),
                },
                entity: obj,
            }
            self.deliverer.enqueue(sub["id"], event_type, json.dumps(payload).encode())
