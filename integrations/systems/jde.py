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
    ``find_journal`` before any re-post);
  * 404 -> ``NotFound`` (``JDE-ORCHESTRATION-MISSING`` for an orchestration), other 4xx
    -> ``ValidationRejected`` ``JDE-<status>``.
A journal is one orchestration POST in the normal case; the client checks it first
(lines present, balanced to zero, no more decimals than the currency has, reference at
most 22 characters) so a malformed journal is held without a call.

``browse`` yields rows keyed by the bare column alias (``F0901_AID`` -> ``AID``) with the
values as JDE sent them (text may be space-padded, e.g. business units right-justified;
JSON decimals arrive as ``Decimal``). The typed helpers (``accounts``, ``suppliers``,
``find_journal``) strip padding and convert. Dates in grid data may come back as
``YYYYMMDD`` text, a Julian CYYDDD number or in the user's format (UNCONFIRMED): all
three are read.

The orchestration ``MLC_AddJournalBatch`` is a customer-side artifact of this product,
whose input and output are documented in ``sandbox/jde.py``: ``BatchReference`` (our
external reference, stored in VNEDTN, which ``find_journal`` searches), ``GLDate``,
``Currency``, ``Company``, ``DocumentType``, ``Explanation`` and ``Lines`` of
``Account`` (``BU.OBJ.SUB``) and signed display-decimal ``Amount`` strings; it answers
``BatchNumber`` and ``DocumentNumber``.
"""

import datetime as dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

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
from .limits import RateLimiter

DEFAULT_ORCHESTRATION = "MLC_AddJournalBatch"
DEFAULT_TOKEN_LIFETIME = 1800.0
REFRESH_FRACTION = 5 / 6
MAX_REFERENCE = 22  # VNEDTN is A22
TEXT_LENGTH = 30  # VNEXA / VNEXR
LIST_CHUNK = 100  # values per LIST condition
MAX_REQUERIES = 2  # expired result sets re-run per browse
# Minor-unit digits (ISO 4217) where they are not 2; the currency table in JDE decides in the end.
CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "HUF": 2, "BHD": 3, "JOD": 3, "KWD": 3,
                      "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3}
DEFAULT_ORDER = {
    "F0901": ("AID",),
    "F0101": ("AN8",),
    "F0401": ("AN8",),
    "F0911Z1": ("EDUS", "EDBT", "EDTN", "EDLN"),
    "F0411Z1": ("EDUS", "EDBT", "EDTN", "EDLN"),
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
    remark: str = ""


@dataclass
class JournalDocument:
    reference: str  # the external reference: VNEDTN, at most 22 characters
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
        from portal.logging import remember_secret
    except ImportError:  # pragma: no cover - the client used outside the portal
        return
    remember_secret(secret)


# -- the client ----------------------------------------------------------------------------------------------
class JdeClient(HttpClient):
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
                return str(_julian(value))
            if style == "user":
                pattern = _strftime_pattern(self.user_info.get("simpleDateFormat"))
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
        columns = ["AID", "CO", "MCU", "OBJ", "SUB", "DL01", "PEC", "LDA"]
        return [Account(aid=_text(r.get("AID")), company=_text(r.get("CO")), business_unit=_text(r.get("MCU")),
                        object=_text(r.get("OBJ")), subsidiary=_text(r.get("SUB")), description=_text(r.get("DL01")),
                        posting_edit=_text(r.get("PEC")).upper(), level_of_detail=_text(r.get("LDA")))
                for r in self.browse("F0901", columns)]

    def suppliers(self, changed_since=None) -> list[dict]:
        """Suppliers from F0401 joined with their F0101 names (only suppliers updated on or
        after ``changed_since`` when given: F0401.UPMJ)."""
        conditions = [("UPMJ", "GREATER_EQUAL", changed_since)] if changed_since else []
        masters = list(self.browse("F0401", ["AN8", "MCUP", "OBAP", "AIDP", "CRRP", "TRAP", "PYIN", "HDPY", "UPMJ"],
                                   conditions))
        numbers = [_int(r.get("AN8")) for r in masters]
        names = {}
        for start in range(0, len(numbers), LIST_CHUNK):
            chunk = numbers[start:start + LIST_CHUNK]
            for row in self.browse("F0101", ["AN8", "ALPH", "AT1", "TAX"], [("AN8", "LIST", chunk)]):
                names[_int(row.get("AN8"))] = row
        out = []
        for row in masters:
            number = _int(row.get("AN8"))
            book = names.get(number, {})
            business_unit, obj = _text(row.get("MCUP")), _text(row.get("OBAP"))
            out.append({
                "address_number": number, "name": _text(book.get("ALPH")), "search_type": _text(book.get("AT1")),
                "tax_id": _text(book.get("TAX")), "business_unit": business_unit, "object": obj,
                "account_id": _text(row.get("AIDP")),
                "default_account": f"{business_unit}.{obj}" if business_unit and obj else "",
                "currency": _text(row.get("CRRP")), "payment_terms": _text(row.get("TRAP")),
                "payment_instrument": _text(row.get("PYIN")), "on_hold": _text(row.get("HDPY")).upper() == "Y",
                "updated": _date(row.get("UPMJ")),
            })
        return out

    # -- journals --------------------------------------------------------------------------------------------
    def journal_payload(self, doc: JournalDocument) -> dict:
        """The orchestration input for ``doc``, after the local checks (raises ValidationRejected)."""
        reference = str(doc.reference or "").strip()
        problems = []
        if not reference:
            problems.append("the journal has no reference")
        elif len(reference) > MAX_REFERENCE:
            problems.append(f"reference {reference} is longer than {MAX_REFERENCE} characters (VNEDTN)")
        if not doc.lines:
            problems.append("the journal has no lines")
        currency = str(doc.currency or "").strip().upper()
        exponent = CURRENCY_EXPONENTS.get(currency, 2)
        quantum = Decimal(1).scaleb(-exponent)
        lines, total = [], Decimal(0)
        for number, line in enumerate(doc.lines, start=1):
            try:
                amount = Decimal(line.amount) if not isinstance(line.amount, float) else Decimal(repr(line.amount))
            except (InvalidOperation, TypeError, ValueError):
                problems.append(f"line {number}: amount {line.amount!r} is not a number")
                continue
            if not amount.is_finite():
                problems.append(f"line {number}: amount {line.amount!r} is not a number")
                continue
            if amount != amount.quantize(quantum):
                problems.append(f"line {number}: {amount} has more decimals than {currency} allows ({exponent})")
                continue
            if not re.fullmatch(r"[^.\s]+\.[^.\s]+(\.[^.\s]+)?", str(line.account or "").strip()):
                problems.append(f"line {number}: account {line.account!r} is not in BU.OBJ[.SUB] form")
                continue
            total += amount
            lines.append({"LineNumber": number, "Account": str(line.account).strip(),
                          "Amount": format(amount.quantize(quantum), "f"),
                          "Explanation": str(line.explanation or "")[:TEXT_LENGTH],
                          "Remark": str(line.remark or "")[:TEXT_LENGTH]})
        if not problems and total != 0:
            problems.append(f"the journal is out of balance by {total} {currency}")
        if problems:
            raise ValidationRejected(f"Journal {reference or '(no reference)'} was not sent to JD Edwards: "
                                     + "; ".join(problems), code="JDE-INVALID-JOURNAL",
                                     help="The posting built from the source record cannot be a JD Edwards journal; "
                                          "correct the mapping or the source record, then retry.")
        payload = {"BatchReference": reference, "DocumentType": str(doc.document_type or "JE"),
                   "Company": str(doc.company or "00001"), "GLDate": doc.gl_date.isoformat(), "Currency": currency,
                   "Explanation": str(doc.explanation or "")[:TEXT_LENGTH], "Lines": lines}
        if self.batch_user:
            payload["User"] = str(self.batch_user)
        return payload

    def post_journal(self, doc: JournalDocument) -> JournalResult:
        """One orchestration call writing ``doc`` to F0911Z1. Raises ``OutcomeUnknown`` when
        it may have been written without an answer: reconcile with ``find_journal`` first."""
        payload = self.journal_payload(doc)
        url = self._url(f"orchestrator/{self.orchestration}", self.orchestrator_version)
        response = self.call("POST", url, idempotent=False, json_body=payload)
        try:
            body = self._json(response)
        except IntegrationError:
            raise OutcomeUnknown(f"JD Edwards answered the journal {payload['BatchReference']} with something that is "
                                 "not JSON; it may or may not have been written", code="JDE-OUTCOME-UNKNOWN",
                                 status=response.status_code) from None
        status = str(body.get("jde__status") or "SUCCESS").upper()
        batch, document = body.get("BatchNumber"), body.get("DocumentNumber")
        if batch not in (None, "") and status in ("SUCCESS", "WARNING"):
            return JournalResult(batch_number=_text(batch), document_number=_document_number(document), raw=body)
        message = self.scrub(str(body.get("jde__simpleMessage") or body.get("message") or "").strip())
        if status in ("ERROR", "FAIL", "FAILED", "FAILURE"):
            # UNCONFIRMED: an orchestration reporting its own failure with HTTP 200. Ours validates
            # before it writes, so this is a definite rejection.
            return_text = message or f"jde__status {status}"
            raise ValidationRejected(f"JD Edwards rejected it: {return_text}", code="JDE-REJECTED",
                                     status=response.status_code,
                                     help="Correct what JD Edwards names, then retry the batch.")
        raise OutcomeUnknown(f"JD Edwards answered the journal {payload['BatchReference']} without a batch number "
                             f"(jde__status {status}); it may or may not have been written", code="JDE-OUTCOME-UNKNOWN",
                             status=response.status_code)

    def find_journal(self, reference) -> list[dict]:
        """F0911Z1 rows whose transaction number (VNEDTN) is ``reference``, every batch of it,
        ordered by batch and line. Keys are bare aliases (EDBT, DOC, AA...), text stripped,
        AA a Decimal. Rows the batch processor has purged from F0911Z1 are not found."""
        columns = ["EDUS", "EDBT", "EDTN", "EDLN", "EDSP", "DCT", "DOC", "CO", "DGJ", "ANI", "AID", "MCU", "OBJ", "SUB",
                   "AA", "CRCD", "EXA", "EXR"]
        rows = []
        for row in self.browse("F0911Z1", columns, [("EDTN", "EQUAL", str(reference))]):
            clean = {k: (_text(v) if isinstance(v, str) else v) for k, v in row.items()}
            if clean.get("EDTN") != str(reference):  # defensive: a server comparing loosely
                continue
            if "AA" in clean:
                clean["AA"] = _decimal(row["AA"])
            if "DOC" in clean:
                clean["DOC"] = _document_number(row["DOC"])
            if "DGJ" in clean:
                clean["DGJ"] = _date(row["DGJ"])
            rows.append(clean)
        return rows


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


def _text(value):
    return "" if value is None else str(value).strip()


def _int(value):
    try:
        return int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return 0


def _decimal(value):
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def _document_number(value):
    text = _text(value)
    try:
        return int(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def _julian(day):
    return (day.year - 1900) * 1000 + day.timetuple().tm_yday


def _date(value):
    """A grid date: "YYYYMMDD", a Julian CYYDDD number, "MM/dd/yyyy", ISO; None when empty."""
    if value in (None, "", 0):
        return None
    text = _text(value)
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit() and len(text) <= 7:
        number = int(text)
        if number <= 0:
            return None
        return dt.date(1900 + number // 1000, 1, 1) + dt.timedelta(days=number % 1000 - 1)
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


_JAVA_DATE_PARTS = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d"}


def _strftime_pattern(java_pattern):
    """A Java SimpleDateFormat date pattern (``MM/dd/yyyy``) as strftime, or None if it has other fields."""
    if not java_pattern:
        return None
    out, rest = [], str(java_pattern)
    while rest:
        for token, code in _JAVA_DATE_PARTS.items():
            if rest.startswith(token):
                out.append(code)
                rest = rest[len(token):]
                break
        else:
            if rest[0].isalpha():
                return None
            out.append(rest[0].replace("%", "%%"))
            rest = rest[1:]
    return "".join(out)
