"""Fake BILL API v3, per shared/reference/bill.md (developer.bill.com).

Served at ``<sandbox>/bill/connect`` (BILL's ``https://gateway.stage.bill.com/connect``) and
``<sandbox>/bill/connect-events`` (the webhook admin API's ``.../connect-events``); paths start
with ``/v3/``. Modules: ``bill_gate`` (login sessions, idle expiry, the hourly and in-flight
limits), ``bill_records`` (vendors, bills, chart of accounts, departments, payments),
``bill_webhooks`` (subscriptions, signed deliveries with retries), ``bill_query`` (errors,
filters, sort, paging), ``bill_data`` (seeded data and ids).

JSON bodies in and out; every answer except login needs the ``devKey`` and ``sessionId`` headers.
An unknown path answers BDC_1121 with HTTP 404. ``concurrent = True``: the sandbox server does not
serialize this fake's calls, so it can count calls in flight; its state is guarded by ``self.lock``.

Endpoint names (call counts and faults): ``login``, ``logout``, ``session``, ``vendors:list|create|get|
update|archive``, ``bills:...``, ``chart_of_accounts:...``, ``departments:...``, ``payments:list|get``,
``events:catalog``, ``subscriptions:list|create|get|update|delete|security_key|test``, ``unknown``.

Control (``/_sandbox/bill/...``): ``GET stats`` (``in_flight``, ``peak_in_flight``, ``refused_1322``,
``refused_1144``); ``GET <kind>`` (vendors, bills, chart_of_accounts, departments, payments,
subscriptions with their keys); ``GET deliveries`` (one entry per notification: attempts, statuses,
delivered); ``POST payments`` (``{"billId", "amount"?, "status"?}``: BILL pays a bill; sends
``payment.updated``, or ``payment.failed`` for status FAILED, and ``bill.updated``); ``POST
payments/<id>`` and ``POST bills/<id>`` (change fields, send ``payment.updated``/``bill.updated``);
``POST events`` (``{"type": "vendor.updated", "id": "009..."}``: send any catalog event about a
record); ``POST sessions/expire`` (every session ends silently).

Injected faults answer BILL's error array: 401 BDC_1109 (a session gone), 404 BDC_1121, 429 the code in
config ``fault_429_code`` (default BDC_1322; ``"BDC_1144"`` for the hourly limit), anything else BDC_1002.
"""

import random
import re
import threading
import uuid

from . import bill_data as data
from . import bill_query as query
from .bill_gate import GateMixin
from .bill_records import RecordsMixin
from .bill_webhooks import Deliverer, SubscriptionsMixin
from .http import BadRequest, Fake, NotFoundError, Response, json_response
from .world import WorldClock

ID = r"(?P<key>[A-Za-z0-9]+)"
ACT = r"(?:/(?P<action>archive|restore))?"
CLASS = r"/connect/v3/classifications/(?P<kind>chart-of-accounts|departments)"
ROUTES = [  # (method, pattern, endpoint, handler)
    ("POST", r"/connect/v3/login", "login", None),
    ("POST", r"/connect/v3/logout", "logout", "logout"),
    ("GET", r"/connect/v3/login/session", "session", "session_info"),
    ("GET", r"/connect/v3/vendors", "vendors:list", "vendors"),
    ("POST", r"/connect/v3/vendors", "vendors:create", "vendor_create"),
    ("GET|PATCH", rf"/connect/v3/vendors/{ID}", "vendors:get_update", "vendor"),
    ("POST", rf"/connect/v3/vendors/{ID}{ACT}", "vendors:archive", "vendor"),
    ("GET", r"/connect/v3/bills", "bills:list", "bills"),
    ("POST", r"/connect/v3/bills", "bills:create", "bill_create"),
    ("GET|PATCH", rf"/connect/v3/bills/{ID}", "bills:get_update", "bill"),
    ("POST", rf"/connect/v3/bills/{ID}{ACT}", "bills:archive", "bill"),
    ("GET", CLASS, "classifications:list", "classification_list"),
    ("POST", CLASS, "classifications:create", "classification_create"),
    ("GET|PATCH", rf"{CLASS}/{ID}", "classifications:get_update", "classification"),
    ("POST", rf"{CLASS}/{ID}{ACT}", "classifications:archive", "classification"),
    ("GET", r"/connect/v3/payments", "payments:list", "payments"),
    ("GET", rf"/connect/v3/payments/{ID}", "payments:get", "payment"),
    ("GET", r"/connect-events/v3/events/catalog", "events:catalog", "events_catalog"),
    ("GET", r"/connect-events/v3/subscriptions", "subscriptions:list", "subscription_list"),
    ("POST", r"/connect-events/v3/subscriptions", "subscriptions:create", "subscription_create"),
    ("GET", rf"/connect-events/v3/subscriptions/{ID}", "subscriptions:get", "subscription_get"),
    ("PATCH|PUT", rf"/connect-events/v3/subscriptions/{ID}", "subscriptions:update", "subscription_update"),
    ("DELETE", rf"/connect-events/v3/subscriptions/{ID}", "subscriptions:delete", "subscription_delete"),
    ("POST", rf"/connect-events/v3/subscriptions/{ID}/security[-_]key", "subscriptions:security_key", "subscription_key"),
    ("POST", rf"/connect-events/v3/subscriptions/{ID}/test", "subscriptions:test", "subscription_test"),
]
COMPILED = [(set(m.split("|")), re.compile(f"^{p}/?$"), e, h) for m, p, e, h in ROUTES]
KIND_OF_PATH = {"chart-of-accounts": "chart_of_accounts", "departments": "departments"}
ENTITY_KIND = {"vendor": "vendors", "bill": "bills", "payment": "payments"}


class BillFake(GateMixin, RecordsMixin, SubscriptionsMixin, WorldClock, Fake):
    name = "bill"
    concurrent = True
    default_config = {
        "session_idle_seconds": 2100,
        "requests_per_hour": 20000,
        "max_in_flight": 3,
        "latency_ms": 0,
        "limit_http_status": 429,
        "fault_429_code": "BDC_1322",
        "refuse_duplicate_invoice": True,
        "require_https": False,
        "webhook_backoff_initial": 1.0,
        "webhook_backoff_max": 300.0,
        "webhook_max_attempts": 8,
        "webhook_timeout": 5.0,
    }

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.lock = threading.RLock()
        self.deliverer = Deliverer(self)

    def reset(self, seed, size, anchor):
        with self.lock:
            self.writes += 1
            self.world = data.generate(seed, size, anchor)
            self.creds = data.credentials_for(seed)
            self.user_id = data.new_id(random.Random(f"bill-user-{seed}"), "user")
            self._ids = random.Random(f"bill-new-ids-{seed}")
            self.subscriptions = {}
            self.idempotency = {}
            self.reset_gate()
            self.start_clock(anchor)
            self.deliverer.clear()

    def credentials(self):
        return dict(self.creds, webhook_secret="")

    def limit_breaches(self):
        with self.lock:
            return {"BDC_1322_concurrency": self.stats["refused_1322"], "BDC_1144_hourly": self.stats["refused_1144"]}

    def restart(self):
        with self.lock:
            self.sessions.clear()

    # -- helpers used by the mixins --------------------------------------------------------------------
    def stamp(self):
        return data.stamp(self.now())

    def new_id(self, kind):
        return data.new_id(self._ids, kind)

    def event_id(self):
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def error(self, status, message):
        return query.BdcError(status, query.VALIDATION, message)

    def not_found(self, kind, key):
        return query.BdcError(404, query.NOT_FOUND, f"No {kind} with id {key}")

    def body(self, req):
        try:
            body = req.json()
        except BadRequest as exc:
            raise query.invalid(exc.message)
        if not isinstance(body, dict):
            raise query.invalid("The request body must be a JSON object")
        return body

    # -- dispatch --------------------------------------------------------------------------------------
    def _match(self, req):
        for methods, pattern, endpoint, handler in COMPILED:
            found = pattern.match(req.path)
            if found and req.method in methods:
                return endpoint, handler, {k: v for k, v in found.groupdict().items() if v is not None}
        return "unknown", None, {}

    def endpoint(self, req):
        return self._match(req)[0]

    def handle(self, req):
        endpoint, handler, args = self._match(req)
        try:
            if endpoint == "unknown":
                raise query.BdcError(404, "BDC_1121", f"Unknown API: {req.method} {req.path}")
            login_body = self.body(req) if endpoint == "login" else None
            slot = self.enter(req, login_body)
            try:
                with self.lock:
                    if endpoint == "login":
                        return json_response(self.login(req, login_body))
                    session = self.session_for(req)
                    if "kind" in args:
                        args["kind"] = KIND_OF_PATH[args["kind"]]
                    try:
                        result = getattr(self, handler)(req, session, **args)
                    finally:
                        if req.method != "GET":  # under the lock, after the change: lists kept from before are stale
                            self.writes += 1
            finally:
                self.leave(slot)
        except query.BdcError as exc:
            return exc.response(self.now())
        return result if isinstance(result, Response) else json_response(result)

    def classification_list(self, req, session, kind):
        return self.chart(req, session) if kind == "chart_of_accounts" else self.departments(req, session)

    def fault_body(self, status, req):
        code = {401: "BDC_1109", 404: "BDC_1121", 429: self.settings.get("fault_429_code") or "BDC_1322"}.get(status, "BDC_1002")
        message = query.BdcError(status, code, "Injected fault").response(self.now())
        return message.json()

    # -- control ---------------------------------------------------------------------------------------
    def control(self, req, subpath):
        parts = [p for p in subpath.split("/") if p]
        with self.lock:
            if req.method != "GET":  # a control call may change rows in place (kept lists are computed under the lock)
                self.writes += 1
            if req.method == "GET" and parts == ["stats"]:
                counts = {k: self.stats[k] for k in ("refused_1322", "refused_1144", "peak_in_flight")}
                return json_response(dict(counts, in_flight=sum(self.in_flight.values()), sessions=len(self.sessions)))
            if req.method == "GET" and parts == ["deliveries"]:
                return json_response(self.deliverer.snapshot())
            if req.method == "GET" and parts == ["subscriptions"]:
                return json_response(list(self.subscriptions.values()))
            if req.method == "GET" and len(parts) == 1 and parts[0] in self.world:
                return json_response(self.world[parts[0]])
            if req.method == "POST" and parts == ["sessions", "expire"]:
                self.sessions.clear()
                return json_response({})
            if req.method == "POST" and parts == ["events"]:
                body = req.json()
                kind = ENTITY_KIND.get(str(body.get("type", "")).split(".")[0])
                row = next((r for r in self.world.get(kind, []) if r["id"] == body.get("id")), None)
                if row is None:
                    raise NotFoundError(f"no record {body.get('id')} for event {body.get('type')}")
                self.notify(body["type"], row)
                return json_response({"queued": body["type"]})
            if req.method == "POST" and parts and parts[0] in ("payments", "bills"):
                return json_response(self._control_change(parts, req.json()))
        raise NotFoundError(f"no bill control endpoint {req.method} {subpath}")

    def _control_change(self, parts, body):
        if not isinstance(body, dict):
            raise BadRequest("expected a JSON object")
        try:
            if parts == ["payments"]:
                bill = self._get("bills", body.get("billId"))
                payment = data.payment_for(self._ids, bill, self.now(), str(body.get("status") or "PAID"))
                payment["id"] = self.new_id("payment")
                if body.get("amount") is not None:
                    payment["amount"] = data.amount(body["amount"])
                self.world["payments"].append(payment)
                paid = payment["status"] != "FAILED"
                if paid:
                    due = max(0.0, data.amount(bill["dueAmount"] - payment["amount"]))
                    bill.update(dueAmount=due, paymentStatus="PAID" if due == 0 else "PARTIAL")
                    self._touch(bill, "bill.updated")
                self.notify("payment.updated" if paid else "payment.failed", payment)
                return payment
            kind = parts[0]
            row = self._get(kind, parts[1])
            row.update(body)
            failed = kind == "payments" and row.get("status") == "FAILED"
            return self._touch(row, {"payments": "payment.failed" if failed else "payment.updated"}.get(kind, "bill.updated"))
        except query.BdcError as exc:
            raise NotFoundError(exc.message) if exc.status == 404 else BadRequest(exc.message)


Fake = BillFake
