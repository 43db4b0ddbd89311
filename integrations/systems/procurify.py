"""Procurify API client.

Facts from shared/reference/procurify.md (Procurify's OpenAPI and developer.procurify.com):
the base URL is the customer domain ``https://{domain}.procurify.com`` (the connection's
``base_url``, else built from the ``domain`` credential; the sandbox's ``<url>/procurify``).

Auth: ``POST /oauth/token`` with ``client_id``, ``client_secret``, ``audience``
``https://api.procurify.com/`` and ``grant_type`` ``client_credentials`` gives a Bearer token for
``expires_in`` seconds (24 hours). Tokens are cached per process for every client of the same
domain and credentials, and replaced once less than ``token_refresh_margin`` (option, default
10% of the lifetime) remains. A 401 on an API call means the token was refused before any work,
so the client forgets it, fetches a new one and sends the same call once more. Every call also
sends ``X-Procurify-Client: api`` as the reference says.

Lists come as ``{"metadata": {"pagination": {..., "next": <absolute URL or null>}}, "data": [...]}``;
``pages`` follows ``next`` until it is null (``page_size`` option, default 50 as [3P] clients use:
the spec warns that slow requests can get API access suspended). Bills and payments, which change while
a cycle pages through them, are read by keyset paging on their last-change stamp instead
(``procurify_keyset``). Single objects come as
``{"metadata": {}, "data": {...}}``.

Errors: 401/403 from the token endpoint -> ``AuthError`` ``PROCURIFY-AUTH``; 400 -> ``ValidationRejected``
``PROCURIFY-400`` with DRF's field messages; 404 -> ``NotFound``; 429 -> ``RateLimited`` honouring
``Retry-After`` (UNCONFIRMED that Procurify sends one); timeouts and 5xx on reads are retried
with backoff by the shared base, on writes they are ``OutcomeUnknown``.

Typed records (``Vendor``, ``AccountCode``, ``Department``, ``PurchaseOrder`` with ``OrderItem``s,
``Requisition``, ``Bill`` with ``BillLine``s, ``Payment``) carry money as ``Decimal`` and keep the
vendor's object in ``raw``.
"""

import datetime as dt
import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from .errors import AuthError, IntegrationError, ValidationRejected
from .http import HttpClient
from .procurify_keyset import KeysetList
from .source_fields import FieldReader, trackable_id, when

log = logging.getLogger(__name__)
AUDIENCE = "https://api.procurify.com/"
_tokens: dict[tuple, tuple[str, float, float]] = {}  # key -> (token, fetched at, lifetime)
_locks: dict[tuple, threading.Lock] = {}
_store_lock = threading.Lock()


def clear_token_cache():
    """Forget every cached Procurify token of this process (tests; after rotating credentials)."""
    with _store_lock:
        _tokens.clear()


def _lock_for(key):
    with _store_lock:
        return _locks.setdefault(key, threading.Lock())


class TokenRejected(AuthError):
    """HTTP 401 on an API call: the token is invalid or expired; nothing was done."""


def _money(value):
    return Decimal(str(value if value not in (None, "") else "0"))


def _when(text):
    if not text:
        return None
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- records ------------------------------------------------------------------------------------------
@dataclass
class Vendor:
    id: int
    name: str
    active: bool
    email: list
    external_id: str
    modified: dt.datetime | None
    raw: dict = field(repr=False, default_factory=dict)
    contact: str = ""  # the contact person (``contact``, <= 50) and phone (``phoneOne``, <= 20) of the spec's
    phone: str = ""  # Vendor schema (konfig-sdks/procurify-python-sdk, procurify_python_sdk/model/vendor.py)

    @classmethod
    def from_api(cls, d):
        return cls(
            d["id"],
            d.get("name", ""),
            bool(d.get("active")),
            list(d.get("email") or []),
            d.get("external_id") or "",
            _when(d.get("dateModified")),
            d,
            d.get("contact") or "",
            d.get("phoneOne") or "",
        )


@dataclass
class AccountCode:
    id: int
    code: str
    description: str
    account_type: int
    active: bool
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d):
        return cls(d["id"], str(d.get("code", "")), d.get("description", ""), d.get("account_type"), bool(d.get("active")), d)


@dataclass
class Department:
    id: int
    name: str
    location: str
    active: bool
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d):
        return cls(d["id"], d.get("name", ""), (d.get("branch") or {}).get("name", ""), bool(d.get("active", True)), d)


@dataclass
class OrderItem:
    id: int
    name: str
    quantity: Decimal
    price: Decimal
    account_code: str
    po_numbers: list
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d):
        return cls(
            d["id"],
            d.get("name", ""),
            _money(d.get("quantity")),
            _money(d.get("price")),
            str(d.get("accountCode") or ""),
            list(d.get("PO") or []),
            d,
        )


@dataclass
class PurchaseOrder:
    number: int
    uuid: str
    po_num: str
    vendor_name: str
    total: Decimal
    currency: str
    state: int
    version: int
    modified: dt.datetime | None
    items: list = field(default_factory=list)
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d):
        return cls(
            d["procurify_PO"],
            d.get("uuid", ""),
            d.get("PO_Num") or "",
            d.get("vendor_name", ""),
            _money(d.get("total")),
            d.get("purchased_currency") or "",
            d.get("state"),
            d.get("version") or 0,
            _when(d.get("last_modified")),
            [OrderItem.from_api(i) for i in d.get("order_items") or []],
            d,
        )


@dataclass
class Requisition:
    id: int
    status: int
    items: list
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def po_numbers(self):
        return sorted({n for item in self.items for n in item.po_numbers})

    @classmethod
    def from_api(cls, d):
        return cls(d["id"], d.get("status"), [OrderItem.from_api(i) for i in d.get("order_items") or []], d)


@dataclass
class BillLine:
    description: str
    amount: Decimal | None  # None when Procurify sent no usable amount (see the bill's ``problems``)
    account_code: str
    department: str
    line_id: str = ""


@dataclass
class Bill:
    """A bill as Procurify sent it. ``problems``: what is not as the API documents it (plain sentences);
    a bill with any is held by the flow, never posted, and never fails a page."""

    id: int | str
    uuid: str
    status: int | None
    vendor_name: str
    invoice_number: str
    invoice_date: str
    total: Decimal | None
    currency: str
    modified: dt.datetime | None
    lines: list = field(default_factory=list)
    raw: dict = field(repr=False, default_factory=dict)
    problems: list = field(default_factory=list)

    @classmethod
    def from_api(cls, d):
        """The bill, or None when it has no id to track it by."""
        ident = _ident(d)
        if ident is None:
            return None
        problems = []
        read = FieldReader(problems, f"bill {ident}")
        lines = []
        for number, item in enumerate(read.records(d.get("items"), "items"), start=1):
            line = FieldReader(problems, f"bill {ident} line {number}")
            account = line.record(item.get("account"), "account")
            department = line.record(account.get("department"), "account.department")
            lines.append(BillLine(line.text(item.get("description"), "description"), line.amount(item.get("total"), "total"),
                                  line.text(item.get("account_code"), "account_code"),
                                  line.text(department.get("name"), "department name"), line.text(item.get("id"), "id")))
        ids = [ln.line_id for ln in lines if ln.line_id]
        if len(ids) != len(set(ids)):
            read.note("a line id appears twice")
        vendor = read.record(d.get("vendor"), "vendor")
        return cls(
            ident,
            read.text(d.get("uuid"), "uuid"),
            _status(d.get("status")),
            read.text(vendor.get("name"), "vendor name", required=True),
            read.text(d.get("invoice_number"), "invoice_number"),
            read.day(d.get("invoice_date"), "invoice_date"),
            read.amount(d.get("total_cost_with_tax"), "total_cost_with_tax"),
            read.text(d.get("currency"), "currency", required=True),
            when(d.get("last_modified_datetime")),
            lines,
            d,
            problems,
        )


@dataclass
class Payment:
    id: int | str
    uuid: str
    amount: Decimal | None
    currency: str
    status: str
    vendor_name: str
    bill_ids: list
    updated: dt.datetime | None
    raw: dict = field(repr=False, default_factory=dict)
    problems: list = field(default_factory=list)

    @classmethod
    def from_api(cls, d):
        """The payment, or None when it has no id to track it by."""
        ident = _ident(d)
        if ident is None:
            return None
        problems = []
        read = FieldReader(problems, f"payment {ident}")
        groups = read.records(d.get("bill_groups"), "bill_groups")
        bills = [b.get("id") for g in groups for b in read.records(g.get("bills"), "bill_groups.bills")]
        status = d.get("status")
        return cls(
            ident,
            read.text(d.get("uuid"), "uuid"),
            read.amount(d.get("amount"), "amount"),
            read.text(read.record(d.get("currency"), "currency").get("name"), "currency name", required=True),
            status if isinstance(status, str) else "",
            read.text(d.get("vendor_name"), "vendor_name"),
            [b for b in bills if isinstance(b, (int, str)) and not isinstance(b, bool)],
            when(d.get("updated_at")),
            d,
            problems,
        )


def _ident(d):
    """The record's id as Procurify sent it (stored as is: batches keep their fingerprints), or None."""
    value = d.get("id") if isinstance(d, dict) else None
    return value if trackable_id(value) is not None else None


def _status(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- the client -----------------------------------------------------------------------------------------
class ProcurifyClient(HttpClient):
    system = "procurify"
    clock = staticmethod(time.monotonic)

    def __init__(self, connection):
        super().__init__(connection, system="procurify")
        domain = str(self.credentials.get("domain") or "").strip()
        if not self.base_url and domain:
            self.base_url = f"https://{domain}.procurify.com"
        self.client_id = str(self.credentials.get("client_id") or "")
        self._secret = str(self.credentials.get("client_secret") or "")
        if not self.base_url or not self.client_id or not self._secret:
            raise AuthError(
                "The Procurify connection needs a domain (or base URL), client_id and client_secret.",
                code="PROCURIFY-AUTH-MISSING",
            )
        self.page_size = int(self.options.get("page_size") or 50)
        self.refresh_margin = self.options.get("token_refresh_margin")
        self._key = (self.base_url, self.client_id, hashlib.sha256(self._secret.encode()).hexdigest())
        self.token_requests = 0

    # -- auth ---------------------------------------------------------------------------------------------
    def ensure_token(self):
        with _lock_for(self._key):
            cached = _tokens.get(self._key)
            if cached is not None:
                token, fetched, lifetime = cached
                margin = float(self.refresh_margin) if self.refresh_margin is not None else lifetime / 10
                if self.clock() - fetched < lifetime - margin:
                    return token
            body = {
                "client_id": self.client_id,
                "client_secret": self._secret,
                "audience": AUDIENCE,
                "grant_type": "client_credentials",
            }
            self.token_requests += 1
            try:
                answer = self.request("POST", "/oauth/token", idempotent=True, json=body).json()
            except AuthError as exc:
                raise AuthError(
                    f"Procurify refused the client credentials (HTTP {exc.status})", code="PROCURIFY-AUTH", status=exc.status
                ) from None
            token = answer.get("access_token")
            if not token:
                raise IntegrationError("Procurify answered the token request without a token", code="PROCURIFY-BAD-ANSWER")
            _remember(token)
            _tokens[self._key] = (token, self.clock(), float(answer.get("expires_in") or 86400))
            return token

    def _forget(self, token):
        with _lock_for(self._key):
            if _tokens.get(self._key, (None,))[0] == token:
                del _tokens[self._key]

    def call(self, method, path, *, idempotent, json=None, params=None):
        """One authenticated call; on 401 a new token and the same call once more."""
        for attempt in (1, 2):
            token = self.ensure_token()
            headers = {"Authorization": f"Bearer {token}", "X-Procurify-Client": "api"}
            try:
                return self.request(method, path, idempotent=idempotent, json=json, params=params, headers=headers).json()
            except TokenRejected:
                self._forget(token)
                if attempt == 2:
                    raise AuthError(
                        "Procurify refused a freshly issued token (HTTP 401 twice)", code="PROCURIFY-401", status=401
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def classify(self, response, *, idempotent):
        status = response.status_code
        if status in (400, 401, 403) or (status == 422):
            said = self.scrub(_drf_text(response))
            if "/oauth/token" in response.url:
                return AuthError(f"Procurify token request refused (HTTP {status}): {said}", code="PROCURIFY-AUTH", status=status)
            if status == 401:
                return TokenRejected(f"Procurify answered HTTP 401: {said}", code="PROCURIFY-401", status=status)
            if status == 403:
                return AuthError(f"Procurify refused the call (HTTP 403): {said}", code="PROCURIFY-403", status=status)
            return ValidationRejected(f"Procurify refused the request: {said}", code=f"PROCURIFY-{status}", status=status)
        return self.default_classify(response, idempotent=idempotent)

    # -- paging -------------------------------------------------------------------------------------------
    def pages(self, path, params=None):
        """Every item of a list, following the absolute ``next`` links."""
        url, query = path, {"page_size": self.page_size, **(params or {})}
        while url:
            body = self.call("GET", url, idempotent=True, params=query)
            yield from body.get("data") or []
            url = ((body.get("metadata") or {}).get("pagination") or {}).get("next")
            query = None  # ``next`` carries the query

    # -- reference data -----------------------------------------------------------------------------------
    def vendors(self, search=None):
        return [Vendor.from_api(v) for v in self.pages("/api/v3/vendors/", {"search": search} if search else None)]

    def create_vendor(self, name, *, emails=(), vendor_type=3, **fields):
        body = {"name": name, "email": list(emails), "type": vendor_type, "overall_score": 0, **fields}
        return Vendor.from_api(self.call("POST", "/api/v3/vendors/", idempotent=False, json=body)["data"])

    def update_vendor(self, vendor_id, **fields):
        return Vendor.from_api(self.call("PATCH", f"/api/v3/vendors/{vendor_id}/", idempotent=True, json=fields)["data"])

    def account_codes(self):
        return [AccountCode.from_api(c) for c in self.pages("/api/v3/account-codes/")]

    def create_account_code(self, code, description, account_type=3):
        body = {"code": code, "description": description, "account_type": account_type, "active": True}
        return AccountCode.from_api(self.call("POST", "/api/v3/account-codes/", idempotent=False, json=body)["data"])

    def update_account_code(self, current, **changes):
        """PUT the whole code (``current``: an ``AccountCode``) with ``changes`` applied."""
        body = {
            "code": current.code,
            "description": current.description,
            "account_type": current.account_type,
            "active": current.active,
            **changes,
        }
        return AccountCode.from_api(self.call("PUT", f"/api/v3/account-codes/{current.id}/", idempotent=True, json=body)["data"])

    def deactivate_account_code(self, current):
        return self.update_account_code(current, active=False)

    def departments(self):
        return [Department.from_api(d) for d in self.pages("/api/v3/departments/")]

    def create_department(self, name, location_id, external_id=""):
        body = {"name": name, "branch": location_id, "external_id": external_id, "active": True}
        return Department.from_api(self.call("POST", "/api/v3/departments/", idempotent=False, json=body)["data"])

    def update_department(self, current, **changes):
        """PUT the whole department (``current``: a ``Department``) with ``changes`` applied."""
        body = {"name": current.name, "external_id": current.raw.get("external_id", ""), "active": current.active, **changes}
        return Department.from_api(self.call("PUT", f"/api/v3/departments/{current.id}/", idempotent=True, json=body)["data"])

    def locations(self):
        return list(self.pages("/api/v2/locations/"))

    # -- orders -----------------------------------------------------------------------------------------
    def purchase_orders(self, status="all", modified_since=None, role="purchased"):
        """PO headers (without items) whose last change is on or after ``modified_since`` (a date)."""
        params = {"modified_date_0": modified_since.isoformat()} if modified_since else None
        return [PurchaseOrder.from_api(p) for p in self.pages(f"/api/v2/purchase_orders/{role}/{status}/", params)]

    def purchase_order(self, number):
        return PurchaseOrder.from_api(self.call("GET", f"/api/v2/purchase_orders/{number}/", idempotent=True)["data"])

    def update_purchase_order(self, number, items, *, po_num=None, version=None, allow_duplicate_po_num=False):
        """``items``: dicts ``{"id", "name", "unit", "quantity", "price"}`` (Decimal amounts become strings)."""
        body = {"order_items": [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in i.items()} for i in items]}
        if po_num is not None:
            body.update(PO_Num=po_num, confirm_duplicate_external_po_number=allow_duplicate_po_num)
        if version is not None:
            body["version"] = version
        return PurchaseOrder.from_api(self.call("PUT", f"/api/v3/purchase-orders/{number}/", idempotent=True, json=body)["data"])

    def close_purchase_order(self, number):
        return PurchaseOrder.from_api(self.call("POST", f"/api/v3/purchase-orders/{number}/close/", idempotent=True)["data"])

    def reopen_purchase_order(self, number):
        return PurchaseOrder.from_api(self.call("POST", f"/api/v3/purchase-orders/{number}/reopen/", idempotent=True)["data"])

    def create_requisition(self, required_date, location_name, department_name, lines):
        """By names, not ids: ``lines`` hold item_name, vendor_name, account_code, unit_price, quantity, unit."""
        body = {
            "required_date": required_date.isoformat(),
            "location_name": location_name,
            "department_name": department_name,
            "line_items": [
                {
                    "custom_fields": [],
                    "unit": "each",
                    "currency_code": "USD",
                    **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in line.items()},
                }
                for line in lines
            ],
        }
        return Requisition.from_api(self.call("POST", "/api/v3/requisitions/", idempotent=False, json=body)["data"])

    def order_items(self, order_num=None, modified_since=None):
        params = {}
        if order_num is not None:
            params["orderNum"] = order_num
        if modified_since is not None:
            params["last_modified_0"] = modified_since.isoformat()
        return [OrderItem.from_api(i) for i in self.pages("/api/v3/order-items/", params)]

    # -- AP -----------------------------------------------------------------------------------------------
    def bill_pages(self, cursor=None):
        """Bill headers changed at or after ``cursor`` (a datetime), oldest change first, a page at a time:
        ``(bills, newest stamp read)``, by keyset paging (``procurify_keyset``: a bill changed meanwhile is
        neither skipped nor read twice)."""
        rows = KeysetList(self, "/api/v3/ap/bills/", field="last_modified_datetime", low="last_modified_datetime_0",
                          high="last_modified_datetime_1", since=cursor)
        for page, newest in rows.pages():
            yield _tracked(Bill.from_api(b) for b in page), newest

    def bills_since(self, cursor=None):
        return [bill for page, _ in self.bill_pages(cursor) for bill in page]

    def bill(self, uuid):
        """One bill with its lines."""
        return Bill.from_api(self.call("GET", f"/api/v2/ap/bills/{quote(str(uuid), safe='')}/", idempotent=True)["data"])

    def payment_pages(self, cursor=None):
        """Payments updated at or after ``cursor``, a page at a time, as ``bill_pages``."""
        rows = KeysetList(self, "/api/public/v1/payments/", field="updated_at", low="updated_at_after",
                          high="updated_at_before", since=cursor)
        for page, newest in rows.pages():
            yield _tracked(Payment.from_api(p) for p in page), newest

    def payments_since(self, cursor=None):
        return [payment for page, _ in self.payment_pages(cursor) for payment in page]


def _tracked(records):
    """The records that have an id; one without cannot be stored or followed, so it is logged and left."""
    records = list(records)
    kept = [r for r in records if r is not None]
    if len(kept) != len(records):
        log.warning("Procurify sent %d record(s) without a usable id: skipped", len(records) - len(kept))
    return kept


def _drf_text(response):
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:200]
    if isinstance(body, dict):
        if "detail" in body or "error_description" in body:
            return str(body.get("detail") or body.get("error_description"))
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items())
    return str(body)[:200]


def _remember(secret):
    try:
        from portal.logging import remember_secret
    except ImportError:  # pragma: no cover - the client used outside the portal
        return
    remember_secret(secret)
