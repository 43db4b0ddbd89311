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
``rate_limit`` (none: JDE documents none), plus the shared base's ``timeouts``,
``max_attempts`` and ``backoff_max``.

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

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from .jde_checks import (
    INVALID,
    TEXT_LENGTH,
    control_problems,
    exponent_of,
    line_problems,
    max_amount,  # noqa: F401 - part of this module's public API
    reference_problems,
    refuse,
)
from .jde_purchasing import PurchaseOrder, PurchaseOrderLine, PurchasingReads, Supplier  # noqa: F401 - public API
from .jde_values import (
    as_date,
    as_int,
    as_text,
    clean,
    document_number,
    flag,
    julian,
    stamp,
    strftime_pattern,
)
from .jde_vouchers import FoundVoucher, VoucherDocument, VoucherLine, VoucherPayItem, VoucherPosting, VoucherResult  # noqa: F401
from .limits import RateLimiter

DEFAULT_ORCHESTRATION = "MLC_AddJournalBatch"
DEFAULT_TOKEN_LIFETIME = 1800.0
REFRESH_FRACTION = 5 / 6
LIST_CHUNK = 100  # values per LIST condition
MAX_REQUERIES = 2  # expired result sets re-run per browse
DEFAULT_ORDER = {
    "F0901": ("AID",),
    "F0101": ("AN8",),
    "F0401": ("AN8",),
    "F0911Z1": ("EDUS", "EDBT", "EDTN", "EDLN"),
    "F0911": ("KCO", "DCT", "DOC", "DGJ", "JELN", "LT"),
    "F0411Z1": ("EDUS", "EDBT", "EDTN", "EDLN"),
    "F0411": ("KCO", "DCT", "DOC", "SFX"),
    "F4301": ("KCOO", "DOCO", "DCTO", "SFXO"),
    "F4311": ("KCOO", "DOCO", "DCTO", "SFXO", "LNID"),
    "F0111": ("AN8", "IDLN"),
    "F01151": ("AN8", "IDLN", "RCK7"),
}
OPERATOR_ALIASES = {"=": "EQUAL", "==": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", "<=": "LESS_EQUAL", ">": "GREATER",
                    ">=": "GREATER_EQUAL", "EQ": "EQUAL", "NE": "NOT_EQUAL", "LT": "LESS", "LE": "LESS_EQUAL",
                    "GT": "GREATER", "GE": "GREATER_EQUAL", "IN": "LIST"}

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
@dataclass(frozen=True)
class Account:
    """One F0901 row."""

    aid: str
    company: str
    business_unit: str
    object: str
    subsidiary: str
    description: str
    posting_edit: str  # blank = posting; "N" non-posting; "I" inactive (sandbox); the full code list is UNCONFIRMED
    level_of_detail: str
    updated: dt.datetime | None = None  # UPMJ + UPMT

    @property
    def key(self):
        """``BU.OBJ`` or ``BU.OBJ.SUB``, the account number the orchestration takes."""
        key = f"{self.business_unit}.{self.object}"
        return f"{key}.{self.subsidiary}" if self.subsidiary else key

    @property
    def is_active(self):
        return self.posting_edit != "I"

    @property
    def is_postable(self):
        """Conservative: only a blank posting edit code takes postings from the connector."""
        return self.posting_edit == ""


@dataclass
class JournalLine:
    account: str  # "BU.OBJ.SUB" or "BU.OBJ"
    amount: Decimal  # signed: debit +, credit -
    explanation: str = ""
    remark: str = ""  # sent as the line's Remark; the orchestration stores the reference in VNEXR instead


@dataclass
class JournalDocument:
    reference: str  # the external reference: VNEDTN and every line's VNEXR, at most 22 characters
    gl_date: dt.date
    currency: str
    company: str = "00001"
    document_type: str = "JE"
    explanation: str = ""
    lines: list[JournalLine] = field(default_factory=list)


@dataclass
class JournalResult:
    batch_number: str
    document_number: int | str
    raw: dict = field(default_factory=dict, repr=False)
    existing: bool = False  # the orchestration found the reference already written and wrote nothing


@dataclass(frozen=True)
class FoundJournal:
    """One journal document found for a reference, wherever it lives now.

    Identified by (company, document_type, document_number): a Z batch the processor has
    copied into F0911 is the same journal as its F0911 rows. Counts and totals come from
    the F0911 lines when there are any (the Z rows may be purged), else from the Z rows."""

    document_number: int | str
    document_type: str
    company: str
    batch_number: str  # VNEDBT when the Z rows remain (what the orchestration answered), else GLICU
    currency: str
    line_count: int
    debit_total: Decimal  # sum of the positive amounts
    net: Decimal  # sum of every amount (zero for a balanced journal)
    gl_date: dt.date | None
    where: str  # "F0911Z1", "F0911" or "F0911Z1+F0911"
    processed: bool  # in F0911, or every Z row has VNEDSP "1"


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


class ResultSetExpired(Unavailable):
    """JAS_MSG347: the next-page result set was closed on the server (re-query; asking again is useless)."""

    retryable = False


def _remember(secret):
    try:
        from portal.scrub import remember_secret
    except ImportError:  # pragma: no cover - the client used outside the portal
        return
    remember_secret(secret)


# -- the client ----------------------------------------------------------------------------------------------
class JdeClient(PurchasingReads, VoucherPosting, HttpClient):
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

    # -- data service ------------------------------------------------------------------------------------------
    def browse(self, table, columns, conditions=(), page_size=500, order_by=None, *, match_any=False) -> Iterator[dict]:
        """Rows of ``table`` (keys: bare aliases) matching ``conditions``, following next-page links.

        ``conditions``: ``(column, operator, value)`` with JDE operators (EQUAL, LIST, BETWEEN,
        STR_START_WITH...; ``=``, ``<=``, ``IN``... are accepted too); ``value`` is a list for
        BETWEEN and LIST, None for STR_BLANK/STR_NOT_BLANK; dates may be ``datetime.date``.
        ``order_by``: columns, ``"-COL"`` for descending, or ``(column, "ASC"|"DESC")``;
        default: the table's key, so a re-run after an expired result set can skip what was
        already delivered.
        """
        table = str(table).upper()
        body = {"targetName": table, "targetType": "table", "dataServiceType": "BROWSE", "outputType": "GRID_DATA",
                "findOnEntry": "TRUE", "returnControlIDs": "|".join(_qualify(table, c) for c in columns),
                "maxPageSize": str(int(page_size)), "enableNextPageProcessing": True}
        if conditions:
            body["query"] = {"autoFind": True, "matchType": "MATCH_ANY" if match_any else "MATCH_ALL",
                             "condition": [self._condition(table, c) for c in conditions]}
        order = list(order_by) if order_by is not None else list(DEFAULT_ORDER.get(table, ()))
        if order:
            body["aggregation"] = {"orderBy": [_order_item(table, o) for o in order]}
        delivered, requeries = 0, 0
        while True:
            try:
                for index, row in enumerate(self._pages(table, body)):
                    if index < delivered:
                        continue
                    delivered += 1
                    yield row
                return
            except ResultSetExpired:
                requeries += 1
                if requeries > MAX_REQUERIES or not order:
                    raise

    def _pages(self, table, body):
        response = self.call("POST", self._url("dataservice"), idempotent=True, json_body=body)
        while True:
            data = self._json(response)
            form = data.get(f"fs_DATABROWSE_{table}")
            if not isinstance(form, dict):
                errors = data.get("sysErrors") or data.get("errors")
                raise IntegrationError(f"JD Edwards answered no fs_DATABROWSE_{table}"
                                       f"{': ' + self.scrub(str(errors)[:300]) if errors else ''}",
                                       code="JDE-BAD-ANSWER", status=response.status_code)
            grid = (form.get("data") or {}).get("gridData") or {}
            prefix = f"{table}_"
            for row in grid.get("rowset") or []:
                yield {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in row.items()}
            href = next((link.get("href") for link in data.get("links") or []
                         if isinstance(link, dict) and link.get("rel") == "next" and link.get("href")), None)
            if not href:
                return
            response = self.call("POST", self._rebase(href), idempotent=True, json_body={})

    def _condition(self, table, condition):
        column, operator, value = condition
        operator = OPERATOR_ALIASES.get(str(operator).upper(), str(operator).upper())
        if value is None:
            values = []
        elif isinstance(value, (list, tuple, set, frozenset)):
            values = list(value)
        else:
            values = [value]
        return {"controlId": _qualify(table, column), "operator": operator,
                "value": [{"content": self._literal(v), "specialValueId": "LITERAL"} for v in values]}

    def _literal(self, value):
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            style = self.date_literal_format.lower()
            if style == "julian":
                return str(julian(value))
            if style == "user":
                pattern = strftime_pattern(self.user_info.get("simpleDateFormat"))
                if pattern:
                    return value.strftime(pattern)
            return value.strftime("%Y%m%d")
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, Decimal):
            return format(value, "f")
        return str(value)

    # -- reference data ------------------------------------------------------------------------------------
    def accounts(self) -> list[Account]:
        """The chart of accounts (F0901)."""
        columns = ["AID", "CO", "MCU", "OBJ", "SUB", "DL01", "PEC", "LDA", "UPMJ", "UPMT"]
        return [Account(aid=as_text(r.get("AID")), company=as_text(r.get("CO")), business_unit=as_text(r.get("MCU")),
                        object=as_text(r.get("OBJ")), subsidiary=as_text(r.get("SUB")), description=as_text(r.get("DL01")),
                        posting_edit=as_text(r.get("PEC")).upper(), level_of_detail=as_text(r.get("LDA")),
                        updated=stamp(r.get("UPMJ"), r.get("UPMT")))
                for r in self.browse("F0901", columns)]

    def suppliers(self, changed_since=None) -> list[dict]:
        """Suppliers from F0401 joined with their F0101 names (only suppliers updated on or
        after ``changed_since`` when given: F0401.UPMJ)."""
        conditions = [("UPMJ", "GREATER_EQUAL", changed_since)] if changed_since else []
        masters = list(self.browse("F0401", ["AN8", "MCUP", "OBAP", "AIDP", "CRRP", "TRAP", "PYIN", "HDPY", "UPMJ"],
                                   conditions))
        numbers = [as_int(r.get("AN8")) for r in masters]
        names = {}
        for start in range(0, len(numbers), LIST_CHUNK):
            chunk = numbers[start:start + LIST_CHUNK]
            for row in self.browse("F0101", ["AN8", "ALPH", "AT1", "TAX"], [("AN8", "LIST", chunk)]):
                names[as_int(row.get("AN8"))] = row
        out = []
        for row in masters:
            number = as_int(row.get("AN8"))
            book = names.get(number, {})
            business_unit, obj = as_text(row.get("MCUP")), as_text(row.get("OBAP"))
            out.append({
                "address_number": number, "name": as_text(book.get("ALPH")), "search_type": as_text(book.get("AT1")),
                "tax_id": as_text(book.get("TAX")), "business_unit": business_unit, "object": obj,
                "account_id": as_text(row.get("AIDP")),
                "default_account": f"{business_unit}.{obj}" if business_unit and obj else "",
                "currency": as_text(row.get("CRRP")), "payment_terms": as_text(row.get("TRAP")),
                "payment_instrument": as_text(row.get("PYIN")), "on_hold": as_text(row.get("HDPY")).upper() == "Y",
                "updated": as_date(row.get("UPMJ")),
            })
        return out

    # -- journals --------------------------------------------------------------------------------------------
    def journal_payload(self, doc: JournalDocument) -> dict:
        """The orchestration input for ``doc``, after the local checks (raises ValidationRejected).

        Each line's ``Remark`` is still sent, but the orchestration stores the BatchReference
        in VNEXR (so that reconcile finds the journal in F0911 as GLEXR) and ignores it."""
        reference = str(doc.reference or "").strip()
        currency = str(doc.currency or "").strip().upper()
        exponent = exponent_of(currency)
        quantum = Decimal(1).scaleb(-exponent)
        problems = reference_problems(doc.reference) + control_problems(
            "the journal", {"Explanation": doc.explanation})  # (code, text) pairs
        if not doc.lines:
            problems.append((INVALID, "the journal has no lines"))
        lines, total = [], Decimal(0)
        for number, line in enumerate(doc.lines, start=1):
            amount, found = line_problems(number, line, currency, exponent)
            if found:
                problems += found
                continue
            total += amount
            lines.append({"LineNumber": number, "Account": str(line.account).strip(),
                          "Amount": format(amount.quantize(quantum), "f"),
                          "Explanation": str(line.explanation or "")[:TEXT_LENGTH],
                          "Remark": str(line.remark or "")[:TEXT_LENGTH]})
        if not problems and total != 0:
            problems.append((INVALID, f"the journal is out of balance by {total} {currency}"))
        if problems:
            refuse("Journal", reference, problems)
        payload = {"BatchReference": reference, "DocumentType": str(doc.document_type or "JE"),
                   "Company": str(doc.company or "00001"), "GLDate": doc.gl_date.isoformat(), "Currency": currency,
                   "Explanation": str(doc.explanation or "")[:TEXT_LENGTH], "Lines": lines}
        if self.batch_user:
            payload["User"] = str(self.batch_user)
        return payload

    def post_journal(self, doc: JournalDocument) -> JournalResult:
        """One orchestration call writing ``doc`` to F0911Z1. Raises ``OutcomeUnknown`` when
        it may have been written without an answer: reconcile with ``find_journals`` first.
        ``existing`` on the result: the orchestration already had this reference and wrote
        nothing (its idempotency; the numbers are the existing journal's)."""
        return self._post_orchestration(self.orchestration, self.journal_payload(doc), "journal", "BatchReference")

    def _post_orchestration(self, name, payload, what, reference_key, result=None):
        """POST ``payload`` to orchestration ``name``; a ``JournalResult`` (or ``result`` class) with
        the batch and document it answered, ``existing`` when it already had the reference.
        ``OutcomeUnknown`` when it may have written without a usable answer."""
        result = result or JournalResult
        url = self._url(f"orchestrator/{name}", self.orchestrator_version)
        response = self.call("POST", url, idempotent=False, json_body=payload)
        try:
            body = self._json(response)
        except IntegrationError:
            raise OutcomeUnknown(f"JD Edwards answered the {what} {payload[reference_key]} with something that is "
                                 "not JSON; it may or may not have been written", code="JDE-OUTCOME-UNKNOWN",
                                 status=response.status_code) from None
        status = str(body.get("jde__status") or "SUCCESS").upper()
        batch, document = body.get("BatchNumber"), body.get("DocumentNumber")
        if batch not in (None, "") and status in ("SUCCESS", "WARNING"):
            return result(batch_number=as_text(batch), document_number=document_number(document), raw=body,
                          existing=flag(body.get("Existing")))
        message = self.scrub(str(body.get("jde__simpleMessage") or body.get("message") or "").strip())
        if status in ("ERROR", "FAIL", "FAILED", "FAILURE"):
            # UNCONFIRMED: an orchestration reporting its own failure with HTTP 200. Ours validates
            # before it writes, so this is a definite rejection.
            return_text = message or f"jde__status {status}"
            raise ValidationRejected(f"JD Edwards rejected it: {return_text}", code="JDE-REJECTED",
                                     status=response.status_code,
                                     help="Correct what JD Edwards names, then retry the batch.")
        raise OutcomeUnknown(f"JD Edwards answered the {what} {payload[reference_key]} without a batch number "
                             f"(jde__status {status}); it may or may not have been written", code="JDE-OUTCOME-UNKNOWN",
                             status=response.status_code)

    def find_journals(self, reference, *, document_type=None, company=None) -> list[FoundJournal]:
        """Every journal document written for ``reference``, wherever it lives now.

        Searches F0911Z1 by VNEDTN (processed or not) and F0911 by GLEXR, which our
        orchestration fills with the reference and R09110Z carries over, so a journal is
        still found after its Z rows were processed and purged. One entry per document
        (company, type, number): a Z batch and the F0911 rows made from it are one journal;
        two entries mean the reference was written twice. Ordered by document number.
        ``document_type``/``company`` narrow both searches (GLEXR is no key of F0911, so on a
        large ledger they spare the server work)."""
        reference = str(reference)
        groups: dict[tuple, dict] = {}
        # VNCO, not VNKCO, narrows the Z rows: an orchestration must fill VNCO, VNKCO may stay blank.
        for row in self._batch_rows(reference, _narrowing(document_type, "CO", company)):
            groups.setdefault(_z_document(row), {"z": [], "gl": []})["z"].append(row)
        for row in self._ledger_rows(reference, _narrowing(document_type, "KCO", company)):
            key = (row["KCO"], row["DCT"], row["DOC"])
            groups.setdefault(key, {"z": [], "gl": []})["gl"].append(row)
        found = [_found_journal(g["z"], g["gl"]) for g in groups.values()]
        return sorted(found, key=lambda j: (str(j.document_number).zfill(15), j.company, j.document_type))

    def find_journal(self, reference) -> list[dict]:
        """F0911Z1 rows whose transaction number (VNEDTN) is ``reference``, every batch of it,
        ordered by batch and line. Keys are bare aliases (EDBT, DOC, AA...), text stripped,
        AA a Decimal. Superseded by ``find_journals``: rows the site has purged from F0911Z1
        after processing are NOT found here; kept until every caller has moved."""
        return self._batch_rows(str(reference))

    def _batch_rows(self, reference, narrowing=()):
        """F0911Z1 rows of ``reference`` (any VNEDSP), cleaned: text stripped, AA Decimal, DOC number, DGJ date."""
        columns = ["EDUS", "EDBT", "EDTN", "EDLN", "EDSP", "DCT", "DOC", "KCO", "CO", "DGJ", "ANI", "AID", "MCU", "OBJ",
                   "SUB", "AA", "CRCD", "EXA", "EXR"]
        conditions = [("EDTN", "EQUAL", reference), *narrowing]
        rows = [clean(row) for row in self.browse("F0911Z1", columns, conditions)]
        return [r for r in rows if r.get("EDTN") == reference]  # defensive: a server comparing loosely

    def _ledger_rows(self, reference, narrowing=()):
        """F0911 rows whose remark (GLEXR) is ``reference``, cleaned like ``_batch_rows``."""
        columns = ["KCO", "DCT", "DOC", "DGJ", "JELN", "LT", "AA", "CRCD", "EXR", "CO", "ICU", "POST"]
        conditions = [("EXR", "EQUAL", reference), *narrowing]
        rows = [clean(row) for row in self.browse("F0911", columns, conditions)]
        return [r for r in rows if r.get("EXR") == reference]


def _narrowing(document_type, company_column, company):
    return [(column, "EQUAL", value) for column, value in (("DCT", document_type), (company_column, company)) if value]



# -- found journals --------------------------------------------------------------------------------------------
def _z_document(row):
    """The journal a Z row belongs to: its document (company, type, number). A row without a
    document number (R09110Z assigns one when VNDOC is blank) stands for its batch instead."""
    if row.get("DOC") in (None, "", 0):
        return ("F0911Z1", row.get("EDUS"), row.get("EDBT"))
    return (row.get("KCO") or row.get("CO") or "", row.get("DCT") or "", row["DOC"])


def _found_journal(batch_rows, ledger_rows):
    # F0911 has a row per ledger type; the orchestration writes the AA (actual amounts) ledger,
    # so counts and totals come from it (other ledgers, e.g. CA, would double the lines).
    actual = [r for r in ledger_rows if r.get("LT") in ("AA", "", None)] or ledger_rows
    lines = actual or batch_rows
    first = lines[0]
    amounts = [r.get("AA") or Decimal(0) for r in lines]
    where = "+".join(name for name, rows in (("F0911Z1", batch_rows), ("F0911", ledger_rows)) if rows)
    return FoundJournal(
        document_number=first.get("DOC"), document_type=first.get("DCT") or "",
        company=first.get("KCO") or first.get("CO") or "",
        batch_number=batch_rows[0].get("EDBT", "") if batch_rows else ledger_rows[0].get("ICU", ""),
        currency=first.get("CRCD") or "", line_count=len(lines),
        debit_total=sum((a for a in amounts if a > 0), Decimal(0)), net=sum(amounts, Decimal(0)),
        gl_date=first.get("DGJ"), where=where,
        processed=bool(ledger_rows) or all(r.get("EDSP") == "1" for r in batch_rows),
    )


# -- helpers ---------------------------------------------------------------------------------------------------
def _qualify(table, column):
    column = str(column).strip()
    if "." in column:
        return column
    if column.upper().startswith(f"{table}_"):
        column = column[len(table) + 1:]
    return f"{table}.{column.upper()}"


def _order_item(table, item):
    if isinstance(item, (tuple, list)):
        column, direction = item[0], str(item[1] if len(item) > 1 else "ASC").upper()
    else:
        text = str(item)
        column, direction = (text[1:], "DESC") if text.startswith("-") else (text, "ASC")
    return {"column": _qualify(table, column), "direction": direction}


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


