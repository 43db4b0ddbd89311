"""Fake Procurify API, per shared/reference/procurify.md (Procurify's OpenAPI and developer docs).

Served at ``<sandbox>/procurify``, which stands for ``https://{customer-domain}.procurify.com``.

Auth (developer.procurify.com, tag "oauth"): ``POST /oauth/token`` on the customer domain with JSON
(or form) ``client_id``, ``client_secret``, ``audience`` = ``https://api.procurify.com/`` and
``grant_type`` = ``client_credentials`` answers ``{"access_token", "scope", "expires_in": 86400,
"token_type": "Bearer"}``. Every API call sends ``Authorization: Bearer <token>``; a missing,
unknown or expired token answers 401 ``{"detail": ...}`` (DRF's body: UNCONFIRMED). A token lives
``token_lifetime`` seconds (default 86400, the documented 24 hours) on the sandbox clock, so
``POST /_sandbox/clock {"advance": 86401}`` expires it without sleeping. Token request errors use
the OAuth shape ``{"error", "error_description"}`` (401 bad client, 403 wrong audience; UNCONFIRMED).

Handlers: ``procurify_records`` (vendors, account codes, departments, locations, bills, payments)
and ``procurify_orders`` (purchase orders, requisitions, order items); envelope, paging and
filters in ``procurify_api``; seeded data in ``procurify_data``.

Config (``sandbox.config["procurify"]``): ``token_lifetime`` (86400), ``default_page_size`` (10,
DRF's usual; the real default is UNCONFIRMED), ``max_page_size`` (100, UNCONFIRMED),
``require_client_header`` (false: when true a call without ``X-Procurify-Client: api`` gets 403),
``strict_trailing_slash`` (false: when true a path without its trailing slash is a 404, as the
original spec's paths all end in one; UNCONFIRMED), ``requisition_purchase`` (``auto``: see
``procurify_orders``).

Endpoint names (call counts and faults): ``oauth/token``, ``vendors:list|create|get|update``,
``account_codes:...``, ``departments:...``, ``locations:list``, ``purchase_orders:list|get|update|close|reopen``,
``requisitions:create``, ``order_items:list``, ``bills:list|get``, ``payments:list``.

Control (``/_sandbox/procurify/...``): ``GET <kind>`` (vendors, account_codes, departments,
purchase_orders, requisitions, bills, payments); ``POST bills`` adds a bill and ``POST bills/<id>``
changes one (both stamp ``last_modified_datetime`` now); ``POST payments`` (``{"bill": id,
"status": "paid"}``) adds a payment and ``POST payments/<id>`` changes one (stamping ``updated_at``);
``POST requisitions/<id>/purchase``; ``GET tokens`` (``{"live": n}``).
"""

import json
import re
import secrets
from collections import Counter

from . import procurify_data as data
from .http import BadRequest, Fake, NotFoundError, json_response
from .procurify_api import DrfError, detail
from .procurify_orders import OrdersMixin
from .procurify_records import RecordsMixin
from .world import WorldClock

ROUTES = [  # (method, pattern, endpoint, handler name)
    ("POST", r"/oauth/token", "oauth/token", "token"),
    ("GET", r"/api/v3/vendors", "vendors:list", "vendor_list"),
    ("POST", r"/api/v3/vendors", "vendors:create", "vendor_create"),
    ("GET", r"/api/v3/vendors/(?P<key>\d+)", "vendors:get", "vendor_get"),
    ("PUT", r"/api/v3/vendors/(?P<key>\d+)", "vendors:update", "vendor_update"),
    ("PATCH", r"/api/v3/vendors/(?P<key>\d+)", "vendors:update", "vendor_update"),
    ("GET", r"/api/v3/account-codes", "account_codes:list", "code_list"),
    ("POST", r"/api/v3/account-codes", "account_codes:create", "code_write"),
    ("GET", r"/api/v3/account-codes/(?P<key>\d+)", "account_codes:get", "code_get"),
    ("PUT", r"/api/v3/account-codes/(?P<key>\d+)", "account_codes:update", "code_write"),
    ("GET", r"/api/v3/departments", "departments:list", "department_list"),
    ("POST", r"/api/v3/departments", "departments:create", "department_write"),
    ("PUT", r"/api/v3/departments/(?P<key>\d+)", "departments:update", "department_write"),
    ("GET", r"/api/v2/locations", "locations:list", "location_list"),
    ("GET", r"/api/v2/purchase_orders/(?P<role>[a-z]+)/(?P<status>[a-z]+)", "purchase_orders:list", "po_list"),
    ("GET", r"/api/v2/purchase_orders/(?P<key>[\w-]+)", "purchase_orders:get", "po_get"),
    ("PUT", r"/api/v3/purchase-orders/(?P<key>\d+)", "purchase_orders:update", "po_update"),
    ("POST", r"/api/v3/purchase-orders/(?P<key>\d+)/(?P<action>close|reopen)", "purchase_orders:state", "po_state"),
    ("POST", r"/api/v3/requisitions", "requisitions:create", "requisition_create"),
    ("GET", r"/api/v3/order-items", "order_items:list", "order_items"),
    ("GET", r"/api/v3/ap/bills", "bills:list", "bill_list"),
    ("GET", r"/api/v2/ap/bills/(?P<key>[\w-]+)", "bills:get", "bill_get"),
    ("GET", r"/api/public/v1/payments", "payments:list", "payment_list"),
]
COMPILED = [(m, re.compile(f"^{p}/?$"), e, h) for m, p, e, h in ROUTES]


class ProcurifyFake(RecordsMixin, OrdersMixin, WorldClock, Fake):
    name = "procurify"
    default_config = {
        "token_lifetime": 86400,
        "default_page_size": 10,
        "max_page_size": 100,
        "require_client_header": False,
        "strict_trailing_slash": False,
        "requisition_purchase": "auto",
    }

    writes = 0  # bumped after every change: list queries kept between pages (``_kept``, reset makes them) are stale then

    def reset(self, seed, size, anchor):
        self.writes += 1
        self.lists = {}
        self.world = data.generate(seed, size, anchor)
        self.creds = data.credentials_for(seed)
        self.tokens = {}
        self.start_clock(anchor)
        # Ids for new records continue after the seeded ones.
        self.counters = Counter(
            vendor=max([v["id"] for v in self.world["vendors"]] or [0]),
            code=max(c["id"] for c in self.world["account_codes"]),
            department=max(d["id"] for d in self.world["departments"]),
            po=max([p["procurify_PO"] for p in self.world["purchase_orders"]] or [2000]),
            order=1000,
            item=50000,
            bill=9000,
            payment=5000,
        )

    def credentials(self):
        return dict(self.creds)

    def restart(self):
        self.tokens.clear()

    def _match(self, req):
        for method, pattern, endpoint, handler in COMPILED:
            found = pattern.match(req.path)
            if found and method == req.method:
                return endpoint, handler, found.groupdict()
        return None

    def endpoint(self, req):
        found = self._match(req)
        return found[0] if found else None

    def handle(self, req):
        endpoint, handler, args = self._match(req)
        try:
            if self.settings.get("strict_trailing_slash") and not req.path.endswith("/"):
                raise detail(404, "Not found.")
            if endpoint != "oauth/token":
                self._authenticate(req)
            return getattr(self, handler)(req, **args)
        except DrfError as exc:
            return exc.response()
        finally:
            if req.method != "GET":  # after the change: lists kept from before are stale
                self.writes += 1

    def fault_body(self, status, req):
        if status == 401:
            return {"detail": "Authentication credentials were not provided."}
        return {"detail": "Request was throttled." if status == 429 else f"Server error ({status})."}

    def body(self, req):
        try:
            body = req.json()
        except BadRequest as exc:
            raise DrfError(400, {"detail": f"JSON parse error - {exc.message}"})
        if not isinstance(body, dict):
            raise DrfError(400, {"non_field_errors": ["Invalid data. Expected a dictionary."]})
        return body

    # -- auth ------------------------------------------------------------------------------------------
    def token(self, req):
        if req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body = req.form()
        else:
            try:
                body = json.loads(req.body or b"{}")
            except ValueError:
                body = None
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            return json_response(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant type: use client_credentials"}, 400
            )
        if body.get("client_id") != self.creds["client_id"] or body.get("client_secret") != self.creds["client_secret"]:
            return json_response({"error": "access_denied", "error_description": "Unauthorized"}, 401)
        if body.get("audience") != data.AUDIENCE:
            return json_response(
                {"error": "access_denied", "error_description": f"Service not enabled within domain: {body.get('audience')}"}, 403
            )
        lifetime = int(self.settings.get("token_lifetime") or 86400)
        token = secrets.token_urlsafe(48)
        self.tokens[token] = self.sandbox.clock() + lifetime
        return json_response(
            {
                "access_token": token,
                "expires_in": lifetime,
                "token_type": "Bearer",
                "scope": f"urn:procurify-api:domain:{self.creds['domain']} urn:procurify-api:email:api@sandbox.example",
            }
        )

    def _authenticate(self, req):
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise detail(401, "Authentication credentials were not provided.")
        expires = self.tokens.get(header[7:].strip())
        if expires is None or self.sandbox.clock() >= expires:
            self.tokens.pop(header[7:].strip(), None)
            raise detail(401, "Invalid token.")
        if self.settings.get("require_client_header") and req.headers.get("x-procurify-client") != "api":
            raise detail(403, "You do not have permission to perform this action.")

    # -- thin list/get handlers ------------------------------------------------------------------------
    def vendor_list(self, req):
        return self._listing(req, "vendors")

    def vendor_get(self, req, key):
        return self._single("vendors", key)

    def code_list(self, req):
        return self._listing(req, "account_codes", "code", search_field="code")

    def code_get(self, req, key):
        return self._single("account_codes", key)

    def department_list(self, req):
        return self._listing(req, "departments")

    def location_list(self, req):
        return self._listing(req, "locations")

    def _single(self, kind, key):
        return json_response({"metadata": {}, "data": dict(self._find(kind, key))})

    # -- control ---------------------------------------------------------------------------------------
    def control(self, req, subpath):
        parts = [p for p in subpath.split("/") if p]
        head = parts[0] if parts else ""
        try:
            return self._control(req, parts, head, subpath)
        finally:
            if req.method != "GET":  # a control call changes rows in place
                self.writes += 1

    def _control(self, req, parts, head, subpath):
        try:
            if req.method == "GET" and len(parts) == 1 and head in self.world:
                return json_response(self.world[head])
            if req.method == "GET" and parts == ["tokens"]:
                now = self.sandbox.clock()
                return json_response({"live": sum(1 for t in self.tokens.values() if t > now)})
            if req.method == "POST" and head == "bills":
                return json_response(self._control_bill(req.json(), parts[1] if len(parts) > 1 else None))
            if req.method == "POST" and head == "payments":
                return json_response(self._control_payment(req.json(), parts[1] if len(parts) > 1 else None))
            if req.method == "POST" and head == "requisitions" and len(parts) == 3 and parts[2] == "purchase":
                requisition = self._find("requisitions", parts[1])
                self.purchase(requisition)
                return json_response(requisition)
        except DrfError as exc:
            raise NotFoundError(str(exc.body)) if exc.status == 404 else BadRequest(str(exc.body))
        raise NotFoundError(f"no procurify control endpoint {req.method} {subpath}")

    def _control_bill(self, body, key):
        if not isinstance(body, dict):
            raise BadRequest("a bill change is a JSON object")
        if key is None:
            self.counters["bill"] += 1
            vendor = self.world["vendors"][0]
            bill = {
                "id": self.counters["bill"],
                "uuid": f"00000000-0000-4000-8000-{self.counters['bill']:012d}",
                "status": 2,
                "vendor": {"id": vendor["id"], "name": vendor["name"]},
                "invoice_number": f"INV-T{self.counters['bill']}",
                "invoice_date": self.now().date().isoformat(),
                "due_date": self.now().date().isoformat(),
                "total_cost_with_tax": "0.00",
                "currency": "USD",
                "gl_post_date": self.now().date().isoformat(),
                "last_export_date": None,
                "items": [],
            }
            self.world["bills"].append(bill)
        else:
            bill = self._find("bills", key)
        bill.update(body)
        if "items" in body and "total_cost_with_tax" not in body:
            bill["total_cost_with_tax"] = data.money(sum(data.Decimal(str(i.get("total", "0"))) for i in bill["items"]))
        bill["last_modified_datetime"] = data.stamp(self.now())
        return bill

    def _control_payment(self, body, key):
        if not isinstance(body, dict):
            raise BadRequest("a payment change is a JSON object")
        if key is None:
            bill = self._find("bills", body.pop("bill", None))
            self.counters["payment"] += 1
            payment = data.payment_for(
                data.random.Random(self.counters["payment"]),
                self.counters["payment"] - 800,
                bill,
                body.pop("status", "paid"),
                self.now(),
            )
            self.world["payments"].append(payment)
        else:
            payment = self._find("payments", key)
        payment.update(body)
        payment["updated_at"] = data.stamp(self.now())
        return payment


Fake = ProcurifyFake
