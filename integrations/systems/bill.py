"""BILL API v3 client.

Facts from shared/reference/bill.md (developer.bill.com). ``base_url`` is the v3 root,
``https://gateway.prod.bill.com/connect`` (sandbox ``https://gateway.stage.bill.com/connect``; the
local sandbox's ``<url>/bill/connect``); the webhook admin API is the same host's ``/connect-events``
(option ``events_base_url`` overrides). Credentials: ``dev_key``, ``username``, ``password``, ``org_id``.

Sessions: ``POST /v3/login`` with username, password, organizationId and devKey gives a
``sessionId``, sent with ``devKey`` as headers on every later call. A session ends silently after 35
idle minutes, so it is cached per process (every client of the same organization and credentials
shares it), replaced before a call when it has been idle longer than ``session_idle_seconds`` minus a
minute (option, default 2100), and when BILL answers BDC_1109 (session invalid) the client logs in
again and sends the same call once more: BDC_1109 means nothing was done.

Limits: at most 3 calls in flight per devKey and organization (BDC_1322 past that). Every call,
login included, holds one of the connection's slots in the shared ``ConcurrencyLimiter``
(registry default 3, keyed by devKey and organization), across threads, workers and machines.
BDC_1322 and BDC_1144 (20,000 calls per hour) are ``RateLimited``: the shared base retries them with
exponential backoff and jitter, honouring ``Retry-After`` when BILL sends one (UNCONFIRMED that it does).

Errors: the body is a JSON array ``[{"code": "BDC_...", "message": ...}]``. BDC_1101/1102 -> ``AuthError``
(``BILL-AUTH``); BDC_1109 -> re-login once, then ``AuthError``; BDC_1121 and 404 -> ``NotFound``;
other 4xx -> ``ValidationRejected`` (``BILL-<code>``); 5xx -> retried on reads, ``OutcomeUnknown`` on creates.

Money: amounts are decimal currency units (228.99), as ``Decimal`` here; a value with more than two
decimals is refused before any call. A vendor's bills are in its ``billCurrency`` (developer.bill.com
"International payments"); ``currency`` (option, default USD) is the organization's, for vendors without one.
``verify_signature`` checks a webhook's ``x-bill-sha-signature``
(base64 HMAC-SHA256 of the raw body with the subscription's security key) in constant time.
"""

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from .errors import AuthError, IntegrationError, NotFound, RateLimited, ValidationRejected
from .http import HttpClient, parse_retry_after
from .source_fields import FieldReader, trackable_id

log = logging.getLogger(__name__)

_sessions: dict[tuple, list] = {}  # key -> [sessionId, last used (client clock)]
_locks: dict[tuple, threading.Lock] = {}
_store_lock = threading.Lock()
LIMIT_CODES = {"BDC_1144": "hourly request limit", "BDC_1322": "concurrent request limit"}


def clear_session_cache():
    with _store_lock:
        _sessions.clear()


def _lock_for(key):
    with _store_lock:
        return _locks.setdefault(key, threading.Lock())


def verify_signature(raw_body, signature, security_key):
    """True when ``signature`` is BILL's base64 HMAC-SHA256 of ``raw_body`` under ``security_key``."""
    expected = base64.b64encode(hmac.new(security_key.encode(), raw_body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected, str(signature or ""))


class SessionInvalid(AuthError):
    """BDC_1109: the session expired or was ended; the call was not processed."""


def _money(value):
    return Decimal(str(value if value not in (None, "") else "0"))


def _units(value):
    number = Decimal(str(value))
    if number.as_tuple().exponent < -2:
        raise ValidationRejected(f"BILL amounts take at most two decimals, not {value}", code="BILL-AMOUNT")
    return float(number)  # json writes the shortest repr: 228.99 stays 228.99


# -- records ------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Vendor:
    """What the portal reads of a BILL vendor. Not the whole answer: a cycle holds every vendor of the
    organization (5,000 whole vendor objects were 10 MB of a 10,000-record cycle)."""

    id: str
    name: str
    tax_id: str
    archived: bool
    updated: str
    email: str = ""
    bill_currency: str = ""  # the currency BILL makes this vendor's bills in ("": the organization's)

    @classmethod
    def from_api(cls, d):
        return cls(
            d["id"],
            d.get("name", ""),
            str((d.get("additionalInfo") or {}).get("taxId") or ""),
            bool(d.get("archived")),
            d.get("updatedTime", ""),
            str(d.get("email") or ""),
            str(d.get("billCurrency") or "").upper(),
        )


@dataclass
class BillLine:
    amount: Decimal
    chart_of_account_id: str = ""
    department_id: str = ""
    description: str = ""


@dataclass
class Bill:
    id: str
    vendor_id: str
    invoice_number: str
    amount: Decimal
    payment_status: str
    archived: bool
    updated: str
    lines: list = field(default_factory=list)
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d):
        lines = [
            BillLine(
                _money(i.get("amount")),
                (i.get("classifications") or {}).get("chartOfAccountId", ""),
                (i.get("classifications") or {}).get("departmentId", ""),
                i.get("description", ""),
            )
            for i in d.get("billLineItems") or []
        ]
        return cls(
            d["id"],
            d.get("vendorId", ""),
            (d.get("invoice") or {}).get("invoiceNumber", ""),
            _money(d.get("amount")),
            d.get("paymentStatus", ""),
            bool(d.get("archived")),
            d.get("updatedTime", ""),
            lines,
            d,
        )


@dataclass(slots=True)
class Classification:
    """A chart-of-accounts entry or a department."""

    id: str
    name: str
    number: str  # accountNumber, or a department's shortName
    archived: bool
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, d):
        return cls(
            d["id"], d.get("name", ""), str(d.get("accountNumber") or d.get("shortName") or ""), bool(d.get("archived")), d
        )


@dataclass
class Payment:
    """A payment as BILL sent it; ``problems``: what is not as the API documents it (plain sentences), for
    which the flow holds the record instead of posting it (one odd payment never fails a page)."""

    id: str
    bill_id: str
    vendor_id: str
    amount: Decimal | None
    status: str
    process_date: str
    updated: str
    raw: dict = field(repr=False, default_factory=dict)
    problems: list = field(default_factory=list)

    @classmethod
    def from_api(cls, d):
        """The payment, or None when it has no id to follow it by."""
        value = trackable_id(d.get("id") if isinstance(d, dict) else None)
        if value is None:
            return None
        problems = []
        read = FieldReader(problems, f"payment {value}")
        return cls(
            value,
            read.text(d.get("billId"), "billId"),
            read.text(d.get("vendorId"), "vendorId"),
            read.amount(d.get("amount"), "amount"),
            read.text(d.get("status"), "status"),
            read.day(d.get("processDate"), "processDate"),
            d.get("updatedTime") if isinstance(d.get("updatedTime"), str) else "",
            d,
            problems,
        )


@dataclass
class Subscription:
    id: str
    name: str
    url: str
    events: list
    enabled: bool
    security_key: str = field(default="", repr=False)  # only in the create and rotate answers

    @classmethod
    def from_api(cls, d):
        return cls(
            d["id"],
            d.get("name", ""),
            d.get("notificationUrl", ""),
            [e.get("type") for e in d.get("events") or []],
            bool((d.get("status") or {}).get("enabled")),
            d.get("securityKey", ""),
        )


def _quote(value):
    return '"' + str(value).replace('"', "") + '"'


# -- the client -----------------------------------------------------------------------------------------
class BillClient(HttpClient):
    system = "bill"
    clock = staticmethod(time.monotonic)

    def __init__(self, connection):
        super().__init__(connection, system="bill")
        c = self.credentials
        self.dev_key, self.org_id = str(c.get("dev_key") or ""), str(c.get("org_id") or "")
        self.username, self._password = str(c.get("username") or ""), str(c.get("password") or "")
        if not all((self.base_url, self.dev_key, self.org_id, self.username, self._password)):
            raise AuthError(
                "The BILL connection needs a base URL, dev_key, org_id, username and password.", code="BILL-AUTH-MISSING"
            )
        events = self.options.get("events_base_url")
        if not events and self.base_url.endswith("/connect"):
            events = self.base_url[: -len("/connect")] + "/connect-events"
        self.events_url = (events or self.base_url).rstrip("/")
        # The organization's own currency, that of vendors without a billCurrency: BILL funds payments in USD
        # ("fundingAmount ... This value is in USD", developer.bill.com changelog 2025-11-20), option for others.
        self.currency = str(self.options.get("currency") or "USD").upper()
        self.idle_limit = float(self.options.get("session_idle_seconds") or 2100) - 60
        fingerprint = hashlib.sha256(f"{self.username}\0{self._password}".encode()).hexdigest()
        self._key = (self.base_url, self.dev_key, self.org_id, fingerprint)
        self.logins = 0

    # -- sessions ----------------------------------------------------------------------------------------
    def ensure_session(self):
        with _lock_for(self._key):
            cached = _sessions.get(self._key)
            if cached is not None and self.clock() - cached[1] < self.idle_limit:
                return cached[0]
            body = {"username": self.username, "password": self._password, "organizationId": self.org_id, "devKey": self.dev_key}
            self.logins += 1
            answer = self.request("POST", "/v3/login", idempotent=True, json=body).json()
            session = answer.get("sessionId")
            if not session:
                raise IntegrationError("BILL answered the login without a sessionId", code="BILL-BAD-ANSWER")
            _remember(session)
            _sessions[self._key] = [session, self.clock()]
            return session

    def _forget(self, session):
        with _lock_for(self._key):
            if (_sessions.get(self._key) or [None])[0] == session:
                del _sessions[self._key]

    def call(self, method, path, *, idempotent, json=None, params=None, headers=None, events=False):
        """One call with the session headers; on BDC_1109 a new login and the same call once more."""
        url = (self.events_url if events else self.base_url) + path
        for attempt in (1, 2):
            session = self.ensure_session()
            sent = {"devKey": self.dev_key, "sessionId": session, **(headers or {})}
            try:
                response = self.request(method, url, idempotent=idempotent, json=json, params=params, headers=sent)
            except SessionInvalid:
                self._forget(session)
                if attempt == 2:
                    raise AuthError("BILL refused a fresh session (BDC_1109 twice)", code="BILL-SESSION", status=401) from None
                continue
            with _lock_for(self._key):
                cached = _sessions.get(self._key)
                if cached is not None and cached[0] == session:
                    cached[1] = self.clock()  # BILL's idle timer restarted with this call
            return response.json() if response.content else {}
        raise AssertionError("unreachable")  # pragma: no cover

    def classify(self, response, *, idempotent):
        status = response.status_code
        if status < 400:
            return None
        code, message = _bdc(response)
        said = self.scrub(message)
        if code == "BDC_1109":
            return SessionInvalid(f"BILL: {said}", code="BILL-SESSION", status=status)
        if code in ("BDC_1101", "BDC_1102"):
            return AuthError(f"BILL refused the login ({code}): {said}", code="BILL-AUTH", status=status)
        if code in LIMIT_CODES:
            return RateLimited(
                f"BILL {LIMIT_CODES[code]} reached ({code}): {said}",
                code=f"BILL-{code[4:]}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                status=status,
            )
        if code == "BDC_1121" or status == 404:
            return NotFound(f"BILL: {said or 'not found'}", code=f"BILL-{(code or 'BDC_404')[4:]}", status=status)
        if 400 <= status < 500:
            return ValidationRejected(
                f"BILL refused the request ({code}): {said}", code=f"BILL-{(code or 'BDC_400')[4:]}", status=status
            )
        return self.default_classify(response, idempotent=idempotent)

    # -- lists ---------------------------------------------------------------------------------------------
    def pages(self, path, filters=(), sort=None):
        """Every result of a v3 list, 100 at a time, following ``nextPage``."""
        params = {"max": 100}
        if filters:
            params["filters"] = ",".join(filters)
        if sort:
            params["sort"] = sort
        while True:
            body = self.call("GET", path, idempotent=True, params=params)
            yield from body.get("results") or []
            token = body.get("nextPage")
            if not token:
                return
            params = {**params, "page": token}

    @staticmethod
    def since(updated_since):
        return [f"updatedTime:gte:{_quote(updated_since)}"] if updated_since else []

    # -- vendors ---------------------------------------------------------------------------------------------
    def vendors(self, updated_since=None, name=None):
        filters = self.since(updated_since) + ([f"name:eq:{_quote(name)}"] if name else [])
        return [Vendor.from_api(v) for v in self.pages("/v3/vendors", filters, "updatedTime:asc")]

    def find_vendors(self, name=None, tax_id=None):
        """Live vendors with this name, or this tax id (BILL does not document a tax id filter: all are read)."""
        found = self.vendors(name=name) if name and not tax_id else self.vendors()
        return [v for v in found if not v.archived and (not name or v.name == name) and (not tax_id or v.tax_id == tax_id)]

    def create_vendor(self, name, *, tax_id=None, **fields):
        body = {"name": name, "accountType": "BUSINESS", **fields}
        if tax_id:
            body["additionalInfo"] = {**(fields.get("additionalInfo") or {}), "taxId": tax_id}
        return Vendor.from_api(self.call("POST", "/v3/vendors", idempotent=False, json=body))

    def update_vendor(self, vendor_id, **fields):
        return Vendor.from_api(self.call("PATCH", f"/v3/vendors/{vendor_id}", idempotent=True, json=fields))

    def set_vendor_archived(self, vendor_id, archived):
        """``POST /v3/vendors/{id}/archive`` or ``/restore`` (shared/reference/bill.md, endpoints table)."""
        action = "archive" if archived else "restore"
        return Vendor.from_api(self.call("POST", f"/v3/vendors/{vendor_id}/{action}", idempotent=True))

    # -- bills -------------------------------------------------------------------------------------------------
    def bills(self, updated_since=None, invoice_number=None, vendor_id=None):
        filters = self.since(updated_since)
        if invoice_number:
            filters.append(f"invoice.invoiceNumber:eq:{_quote(invoice_number)}")
        if vendor_id:
            filters.append(f"vendorId:eq:{_quote(vendor_id)}")
        return [Bill.from_api(b) for b in self.pages("/v3/bills", filters, "updatedTime:asc")]

    def bills_numbered(self, invoice_numbers):
        """Every bill (archived too) whose invoice number is one of ``invoice_numbers`` (none holding a comma or a
        double quote): one list call while the answer fits a page. BILL v3 list filter ``in`` takes one quoted string
        of comma-separated values, ``invoiceCurrency:in:"USD,CAD"`` (developer.bill.com/docs/search-op-with-lists);
        that ``invoice.invoiceNumber`` takes ``in`` as it takes ``eq`` is UNCONFIRMED."""
        return [Bill.from_api(b) for b in self.pages("/v3/bills", [self.numbered_filter(invoice_numbers)], "updatedTime:asc")]

    @staticmethod
    def numbered_filter(invoice_numbers):
        return f'invoice.invoiceNumber:in:"{",".join(str(n) for n in invoice_numbers)}"'

    def find_bills(self, invoice_number, vendor_id=None):
        return [b for b in self.bills(invoice_number=invoice_number, vendor_id=vendor_id) if not b.archived]

    def create_bill(self, vendor_id, invoice_number, invoice_date, due_date, lines, **fields):
        body = bill_body(vendor_id, invoice_number, invoice_date, due_date, lines, fields)
        return Bill.from_api(self.call("POST", "/v3/bills", idempotent=False, json=body))

    def bill(self, bill_id):
        return Bill.from_api(self.call("GET", f"/v3/bills/{quote(str(bill_id), safe='')}", idempotent=True))

    # -- classifications and payments -------------------------------------------------------------------------
    def chart_of_accounts(self):
        return [Classification.from_api(c) for c in self.pages("/v3/classifications/chart-of-accounts")]

    def departments(self):
        return [Classification.from_api(d) for d in self.pages("/v3/classifications/departments")]

    def payments(self, updated_since=None):
        return list(self.each_payment(updated_since))

    def each_payment(self, updated_since=None):
        """``payments`` as they come, a BILL page at a time: a poll of 10,000 holds one page, not all of them."""
        skipped = 0
        for raw in self.pages("/v3/payments", self.since(updated_since), "updatedTime:asc"):
            payment = Payment.from_api(raw)
            if payment is None:  # nothing to store it under or to read it back by: logged and left
                skipped += 1
            else:
                yield payment
        if skipped:
            log.warning("BILL sent %d payment(s) without a usable id: skipped", skipped)

    def payment(self, payment_id):
        """One payment, read back from BILL (confirm a webhook with it, as BILL advises)."""
        return Payment.from_api(self.call("GET", f"/v3/payments/{quote(str(payment_id), safe='')}", idempotent=True))

    # -- webhooks ----------------------------------------------------------------------------------------------
    def create_subscription(self, name, url, events):
        """A new subscription; its ``security_key`` is in this answer only. One idempotency key for every retry."""
        body = {
            "name": name,
            "status": {"enabled": True},
            "notificationUrl": url,
            "events": [{"type": e, "version": "1"} for e in events],
        }
        answer = self.call(
            "POST", "/v3/subscriptions", idempotent=True, json=body, events=True, headers={"X-Idempotent-Key": str(uuid.uuid4())}
        )
        return Subscription.from_api(answer)

    def rotate_security_key(self, subscription_id):
        answer = self.call(
            "POST",
            f"/v3/subscriptions/{subscription_id}/security-key",
            idempotent=True,
            events=True,
            headers={"X-Idempotent-Key": str(uuid.uuid4())},
        )
        return answer.get("securityKey", "")

    def subscriptions(self):
        answer = self.call("GET", "/v3/subscriptions", idempotent=True, events=True)
        return [Subscription.from_api(s) for s in (answer if isinstance(answer, list) else answer.get("results") or [])]

    def set_subscription_enabled(self, subscription_id, enabled):
        return Subscription.from_api(
            self.call(
                "PATCH",
                f"/v3/subscriptions/{subscription_id}",
                idempotent=True,
                events=True,
                json={"status": {"enabled": bool(enabled)}},
            )
        )


def bill_body(vendor_id, invoice_number, invoice_date, due_date, lines, fields=None):
    """The JSON of ``POST /v3/bills`` (shared/reference/bill.md, "Create bill")."""
    return {
        "vendorId": vendor_id,
        "dueDate": due_date.isoformat(),
        "invoice": {"invoiceNumber": invoice_number, "invoiceDate": invoice_date.isoformat()},
        "billLineItems": [_line(line) for line in lines],
        **(fields or {}),
    }


def _line(line):
    out = {"amount": _units(line.amount), "description": line.description}
    refs = {k: v for k, v in (("chartOfAccountId", line.chart_of_account_id), ("departmentId", line.department_id)) if v}
    if refs:
        out["classifications"] = refs
    return out


def _bdc(response):
    """(code, message) of BILL's error array, tolerant of other shapes."""
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or "")[:200]
    if isinstance(body, str):  # a JSON string wrapping JSON
        try:
            body = json.loads(body)
        except ValueError:
            return None, body[:200]
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        return first.get("code") or first.get("error_code"), str(first.get("message") or first.get("error_message") or "")
    return None, str(body)[:200]


def _remember(secret):
    try:
        from portal.logging import remember_secret
    except ImportError:  # pragma: no cover - the client used outside the portal
        return
    remember_secret(secret)
