"""JD Edwards EnterpriseOne AIS Server client.

Facts from shared/reference/jde.md (Oracle's rest-api and AIS guides: token request,
validate/logout, data service and next page, orchestrator; public client code where
marked there). Everything the reference marks UNCONFIRMED is handled robustly here
(several answers accepted) and named below.

Connection: ``base_url`` is the AIS root, with or without the trailing ``/jderest``
(``https://ais.example.com:9300`` or ``.../jderest``; the sandbox's ``<url>/jde``).
``credentials``: ``username``, ``password``, ``environment``, ``role``. ``options``:
``orchestration`` (default ``MLC_AddJournalBatch``), ``token_lifetime`` (seconds, default
1800: the site's rest.ini setting, which the token response does not tell), ``device_name``
(default ``ml-connector``), ``batch_user`` (VNEDUS; default: JDE uses the token's user),
``api_version`` (``v2``) and ``orchestrator_version`` (``v3``), ``date_literal_format``
(``user``: the format of the token's ``simpleDateFormat``, else ``YYYYMMDD`` or ``julian``),
``rate_limit`` (none: JDE documents none), ``voucher_orchestration`` (default
``MLC_AddVoucherBatch``), ``cancelled_statuses`` (``("980",)``) and ``supplier_search_types``
(``("V",)``), plus the shared base's ``timeouts``, ``max_attempts`` and ``backoff_max``.

This module holds the connection, tokens and error mapping; the rest is mixed in from
``jde_browse`` (data service reads), ``jde_reference`` (accounts, suppliers),
``jde_journals`` (journals), ``jde_vouchers`` (AP vouchers), ``jde_purchasing`` (purchase
orders and suppliers changed since a cursor), ``jde_orchestrator`` (the orchestration POST),
``jde_checks`` (local checks) and ``jde_values`` (typed values).

Auth lifecycle: ``ensure_token`` requests an AIS token (POST ``/jderest/v2/tokenrequest``)
when there is none or the one held is older than 5/6 of ``token_lifetime``. Tokens are
shared, per process, by every client of the same server and credentials (JDE binds a
token to its device name, which this process shares), so one cycle that loads reference
data and posts journals asks for one token, not one per client. An HTTP 444 (invalid or
expired token, e.g. after an AIS restart) means the request was refused, so the client
re-authenticates once and sends the same call again: that retry cannot duplicate work.

Errors (codes are shown on held batches):
  * 405 -> ``HostNotAllowed`` ``JDE-405-ALLOWED-HOSTS``: Oracle documents 405 as the HTML
    server's Allowed Hosts refusing the AIS Server, the product pages as the connector's
    IP missing from AIS allowedHosts; the message names both;
  * 403 (445/446 SSO) at sign-in -> ``AuthError`` ``JDE-403-AUTH``; elsewhere
    ``JDE-403-FORBIDDEN`` (the user may not run that orchestration or read that table);
  * 500 with ``userDefinedErrorText`` -> ``ValidationRejected`` ``JDE-REJECTED`` carrying
    JDE's text (the orchestration refused the journal; nothing was written);
  * 500 with JAS_MSG347 (next-page result set expired) -> the browse re-runs the query
    and skips the rows already delivered (rows come in a fixed order for that reason);
  * other 5xx and dropped connections -> ``Unavailable`` for reads (retried with
    backoff), ``OutcomeUnknown`` for the orchestration POST (the caller reconciles with
    ``find_journals`` before any re-post);
  * 404 -> ``NotFound`` (``JDE-ORCHESTRATION-MISSING`` for an orchestration), other 4xx
    -> ``ValidationRejected`` ``JDE-<status>``.
A journal is one orchestration POST in the normal case; the client checks it first
(lines present, balanced to zero, no more decimals than the currency has, reference at
most 22 characters) so a malformed journal is held without a call (``JDE-INVALID-JOURNAL``).
Two last guards have their own codes: an amount beyond ``max_amount(currency)`` (VNAA
holds 15 digits including the currency's decimals; UNCONFIRMED, the reference does not
give the size) -> ``JDE-AMOUNT-TOO-LARGE``; a control character (Unicode Cc: NUL, tab,
line break...) in the BatchReference, an Explanation, a Remark or an Account ->
``JDE-CONTROL-CHARACTER`` (the engine strips them earlier; none may ever reach JDE).

``browse`` yields rows keyed by the bare column alias (``F0901_AID`` -> ``AID``) with the
values as JDE sent them (text may be space-padded, e.g. business units right-justified;
JSON decimals arrive as ``Decimal``). The typed helpers (``accounts``, ``suppliers``,
``find_journals``, the older ``find_journal``) strip padding and convert. Dates in grid data may come back as
``YYYYMMDD`` text, a Julian CYYDDD number or in the user's format (UNCONFIRMED): all
three are read.

The orchestration ``MLC_AddJournalBatch`` is a customer-side artifact of this product,
whose input and output are documented in ``sandbox/jde.py``: ``BatchReference`` (our
external reference, stored in VNEDTN and in every line's VNEXR), ``GLDate``,
``Currency``, ``Company``, ``DocumentType``, ``Explanation`` and ``Lines`` of
``Account`` (``BU.OBJ.SUB``) and signed display-decimal ``Amount`` strings (a line's
``Remark`` is still sent but the orchestration ignores it); it answers ``BatchNumber``
and ``DocumentNumber``, and ``"Existing": true`` (``JournalResult.existing``) when the
reference was already written and it wrote nothing (idempotent by reference).

Reconcile (``find_journals``): R09110Z copies F0911Z1 rows into F0911 and sets VNEDSP to
"1"; sites then purge processed Z rows (shared/reference/jde.md, "Where a journal lives
after it is written"). So the search covers F0911Z1 by VNEDTN in any VNEDSP state AND
F0911 by GLEXR (the remark carrying the reference; the VNEXR -> GLEXR carry-over is the
data dictionary's, UNCONFIRMED by the reference), and merges what it finds per document
(company KCO, type DCT, number DOC) into ``FoundJournal`` entries: more than one entry is
more than one copy in JDE.
"""

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from .errors import (
    AuthError,
    HostNotAllowed,
    IntegrationError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Unavailable,
    ValidationRejected,
)
from .http import HttpClient, parse_retry_after
from .jde_browse import MAX_REQUERIES, ResultSetExpired, TableBrowsing  # noqa: F401 - MAX_REQUERIES: API
from .jde_checks import (
    max_amount,  # noqa: F401 - part of this module's public API
)
from .jde_invoices import InvoiceReads, SupplierInvoice  # noqa: F401 - SupplierInvoice: public API
from .jde_journals import FoundJournal, JournalDocument, JournalLine, JournalPosting, JournalResult  # noqa: F401
from .jde_orchestrator import OrchestrationCalls
from .jde_purchasing import PurchaseOrder, PurchaseOrderLine, PurchasingReads, Supplier  # noqa: F401 - public API
from .jde_reference import Account, ReferenceReads  # noqa: F401 - Account: public API
from .jde_suppliers import SupplierWrites
from .jde_vouchers import FoundVoucher, VoucherDocument, VoucherLine, VoucherPayItem, VoucherPosting, VoucherResult  # noqa: F401
from .limits import RateLimiter

DEFAULT_ORCHESTRATION = "MLC_AddJournalBatch"
DEFAULT_TOKEN_LIFETIME = 1800.0
REFRESH_FRACTION = 5 / 6
LIST_CHUNK = 100  # values per LIST condition
HOSTS_MESSAGE = (
    "The JD Edwards AIS Server refused the connector with HTTP 405 (Allowed Hosts). Add the connector's egress IP "
    "addresses to the AIS Server's allowedHosts list, and check the HTML server's Allowed Hosts setting: it must "
    "accept requests from the AIS Server.")
HOSTS_HELP = (
    "Ask your JD Edwards administrator to (1) add ml-connector's egress IP addresses to allowedHosts in the AIS "
    "Server configuration, and (2) make sure the HTML server's Allowed Hosts setting accepts requests from the AIS "
    "Server (Oracle documents HTTP 405 for that case). Then run 'Check connection' and retry the held batches.")
AUTH_HELP = (
    "Check the username, password, environment and role on this connection: the JD Edwards user must be active, "
    "its password current, and it must be allowed that environment and role. Then run 'Check connection'.")


# -- data ----------------------------------------------------------------------------------------------------

# -- the token store shared by clients of one process ---------------------------------------------------------
@dataclass
class _Token:
    value: str
    issued: float
    user_info: dict


_tokens: dict[tuple, _Token] = {}
_token_locks: dict[tuple, threading.Lock] = {}
_store_lock = threading.Lock()


def _lock_for(key):
    with _store_lock:
        return _token_locks.setdefault(key, threading.Lock())


def clear_token_cache():
    """Forget every cached AIS token of this process (tests; after rotating credentials)."""
    with _store_lock:
        _tokens.clear()


class TokenRejected(AuthError):
    """HTTP 444: the token is invalid or expired; the request was not processed."""


def _remember(secret):
    try:
        from portal.scrub import remember_secret
    except ImportError:  # pragma: no cover - the client used outside the portal
        return
    remember_secret(secret)


# -- the client ----------------------------------------------------------------------------------------------
class JdeClient(TableBrowsing, ReferenceReads, OrchestrationCalls, JournalPosting, PurchasingReads, InvoiceReads,
                VoucherPosting, SupplierWrites, HttpClient):
    system = "jde"
    clock = staticmethod(time.monotonic)

    def __init__(self, connection):
        super().__init__(connection, system="jde")
        root = self.base_url
        if root.lower().endswith("/jderest"):
            root = root[: -len("/jderest")]
        self.root = root
        self.username = str(self.credentials.get("username") or "").strip()
        self._password = str(self.credentials.get("password") or "")
        self.environment = str(self.credentials.get("environment") or "").strip()
        self.role = str(self.credentials.get("role") or "").strip() or "*ALL"
        missing = [k for k, v in (("username", self.username), ("password", self._password),
                                  ("environment", self.environment)) if not v]
        if missing:
            raise AuthError(f"The JD Edwards connection has no {', '.join(missing)}.", code="JDE-AUTH-MISSING",
                            help=AUTH_HELP)
        self.orchestration = str(self.options.get("orchestration") or DEFAULT_ORCHESTRATION)
        self.token_lifetime = float(self.options.get("token_lifetime") or DEFAULT_TOKEN_LIFETIME)
        self.device_name = str(self.options.get("device_name") or "ml-connector")
        self.batch_user = self.options.get("batch_user") or None
        self.api_version = str(self.options.get("api_version") or "v2")
        self.orchestrator_version = str(self.options.get("orchestrator_version") or "v3")
        self.date_literal_format = str(self.options.get("date_literal_format") or "user")
        windows = self.options.get("rate_limit")
        if windows:
            self.limiter = RateLimiter(f"jde:{self.root}:{self.username}", windows)
        fingerprint = hashlib.sha256(self._password.encode()).hexdigest()
        self._key = (self.root, self.username.upper(), self.environment.upper(), self.role.upper(), self.device_name,
                     fingerprint)
        self.token_requests = 0  # token requests this client sent

    def __repr__(self):
        return f"<JdeClient {self.root} user={self.username!r} environment={self.environment!r}>"

    # -- URLs ---------------------------------------------------------------------------------------------------
    def _url(self, path, version=None):
        version = self.api_version if version is None else version
        prefix = f"/jderest/{version}" if version and version != "v1" else "/jderest"
        return f"{self.root}{prefix}/{path.lstrip('/')}"

    def _rebase(self, href):
        """A server-built link, pointed at the host this connection uses (the AIS may name itself otherwise)."""
        index = href.find("/jderest/")
        return self.root + href[index:] if index >= 0 else self.url(href)

    # -- auth ---------------------------------------------------------------------------------------------------
    @property
    def user_info(self):
        token = _tokens.get(self._key)
        return dict(token.user_info) if token else {}

    def ensure_token(self):
        """A live AIS token: the cached one while younger than 5/6 of its lifetime, else a new one."""
        with _lock_for(self._key):
            cached = _tokens.get(self._key)
            if cached is not None and self.clock() - cached.issued < self.token_lifetime * REFRESH_FRACTION:
                return cached.value
            value, info = self._request_token()
            _tokens[self._key] = _Token(value, self.clock(), info)
            return value

    def _forget_token(self, value):
        with _lock_for(self._key):
            cached = _tokens.get(self._key)
            if cached is not None and cached.value == value:
                del _tokens[self._key]

    def _request_token(self):
        body = {"username": self.username, "password": self._password, "environment": self.environment,
                "role": self.role, "deviceName": self.device_name}
        self.token_requests += 1
        try:
            response = self.request("POST", self._url("tokenrequest"), idempotent=True, json=body)
        except TokenRejected as exc:
            raise AuthError(f"JD Edwards refused the sign-in of user {self.username} (HTTP 444)", code="JDE-403-AUTH",
                            help=AUTH_HELP, status=exc.status) from None
        data = self._json(response)
        info = data.get("userInfo") if isinstance(data.get("userInfo"), dict) else {}
        token = info.get("token") or data.get("token")
        if not token:
            raise IntegrationError("JD Edwards answered the token request without a token", code="JDE-BAD-ANSWER",
                                   status=response.status_code)
        _remember(token)
        return str(token), {k: v for k, v in info.items() if k != "token"}

    def logout(self):
        """End this connection's cached token on the server (best effort) and forget it."""
        cached = _tokens.get(self._key)
        if cached is None:
            return
        self._forget_token(cached.value)
        try:
            self.request("POST", self._url("tokenrequest/logout"), idempotent=True, json={"token": cached.value},
                         headers=self._auth_headers(cached.value))
        except IntegrationError:
            pass

    def _auth_headers(self, token):
        return {"jde-AIS-Auth": token, "jde-AIS-Auth-Device": self.device_name}

    def call(self, method, url, *, idempotent, json_body=None):
        """One authenticated AIS call; on HTTP 444 re-authenticate once and send it again."""
        for attempt in (1, 2):
            token = self.ensure_token()
            kwargs = {"headers": self._auth_headers(token)}
            if json_body is not None:
                kwargs["json"] = json_body
            try:
                return self.request(method, url, idempotent=idempotent, **kwargs)
            except TokenRejected as exc:
                self._forget_token(token)
                if attempt == 2:
                    raise AuthError("JD Edwards rejected a freshly issued token (HTTP 444 twice in a row)",
                                    code="JDE-444-TOKEN", status=exc.status,
                                    help="The AIS Server invalidates tokens at once, or binds them to another "
                                         "device or address; check its session settings and the connector's "
                                         "device_name option, then run 'Check connection'.") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- error mapping --------------------------------------------------------------------------------------
    def classify(self, response, *, idempotent):
        status = response.status_code
        if status < 400:
            return None
        body = _error_body(response)
        said = self.scrub(_vendor_text(body))
        suffix = f": {said}" if said else ""
        url = str(getattr(response, "url", "") or "")
        signing_in = ("tokenrequest" in url and "/logout" not in url and "/validate" not in url) or "jde-login" in url
        orchestration = "/orchestrator/" in url and not signing_in
        if status == 444:
            return TokenRejected(f"JD Edwards answered HTTP 444 (invalid or expired token){suffix}",
                                 code="JDE-444-TOKEN", status=status)
        if status == 405:
            return HostNotAllowed(HOSTS_MESSAGE + (f" (JD Edwards said: {said})" if said else ""),
                                  code="JDE-405-ALLOWED-HOSTS", help=HOSTS_HELP, status=status)
        if status in (401, 403, 445, 446):
            if signing_in:
                return AuthError(f"JD Edwards refused the sign-in of user {self.username} to environment "
                                 f"{self.environment} with role {self.role} (HTTP {status}){suffix}",
                                 code="JDE-403-AUTH", help=AUTH_HELP, status=status)
            return AuthError(f"JD Edwards user {self.username} is not allowed this call (HTTP {status}){suffix}",
                             code="JDE-403-FORBIDDEN", status=status,
                             help="Ask your JD Edwards administrator to grant the connector's user access to the "
                                  "orchestration and tables it uses (security workbench), then retry.")
        if status == 429:
            return RateLimited(f"JD Edwards asked the connector to slow down (HTTP 429){suffix}", code="JDE-429",
                               retry_after=parse_retry_after(response.headers.get("Retry-After")), status=status)
        if status == 404:
            if orchestration:
                return NotFound(f"JD Edwards has no orchestration {self.orchestration} for user {self.username} "
                                f"(HTTP 404){suffix}", code="JDE-ORCHESTRATION-MISSING", status=status,
                                help="Deploy the orchestration in Orchestrator Studio and grant the connector's "
                                     "user access, or set the connection's 'orchestration' option to its name.")
            return NotFound(f"JD Edwards: not found (HTTP 404){suffix}", code="JDE-404", status=status,
                            help="Check the connection's base URL: it must point at the AIS Server.")
        if status < 500:
            return ValidationRejected(f"JD Edwards refused the request (HTTP {status}){suffix}", code=f"JDE-{status}",
                                      status=status)
        user_text = self.scrub(str(body.get("userDefinedErrorText") or "").strip()) if isinstance(body, dict) else ""
        if user_text:
            return ValidationRejected(f"JD Edwards rejected it: {user_text}", code="JDE-REJECTED", status=status,
                                      help="Correct what JD Edwards names (mapping, account, amounts or date), "
                                           "then retry the batch.")
        if "JAS_MSG347" in said:
            return ResultSetExpired(f"JD Edwards closed the query's result set{suffix}", code="JDE-RESULT-EXPIRED",
                                    status=status)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if idempotent:
            return Unavailable(f"JD Edwards answered HTTP {status}{suffix}", code=f"JDE-{status}",
                               retry_after=retry_after, status=status)
        return OutcomeUnknown(f"JD Edwards answered HTTP {status} after the journal was sent{suffix}; it may or may not "
                              "have been written", code="JDE-OUTCOME-UNKNOWN", status=status)

    def _json(self, response):
        try:
            body = json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError:
            raise IntegrationError(f"JD Edwards answered something that is not JSON (HTTP {response.status_code})",
                                   code="JDE-BAD-ANSWER", status=response.status_code) from None
        if not isinstance(body, dict):
            raise IntegrationError("JD Edwards answered an unexpected JSON shape", code="JDE-BAD-ANSWER",
                                   status=response.status_code)
        return body


def _error_body(response):
    try:
        body = json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _vendor_text(body):
    """The most telling message of a JDE error body (ServiceErrorResponse, sysErrors, the 444 body)."""
    if not isinstance(body, dict):
        return ""
    for key in ("userDefinedErrorText", "message", "errorText"):
        if body.get(key):
            return str(body[key]).strip()[:500]
    sys_errors = body.get("sysErrors")
    if isinstance(sys_errors, list) and sys_errors and isinstance(sys_errors[0], dict):
        first = sys_errors[0]
        return str(first.get("TITLE") or first.get("DESC") or "").strip()[:500]
    return ""


