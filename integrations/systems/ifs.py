"""IFS Cloud client: IAM client-credentials tokens and OData v4 projections.

Facts from shared/reference/ifs.md (IFS techdocs: client credential flow, access tokens,
OData provider; third-party notes where marked there). What the reference marks UNCONFIRMED
is a connection option here, with the sandbox's documented choice as the default.

Connection: ``base_url`` is the tenant's host (``https://<tenant>.ifs.cloud``; the sandbox's
``<url>/ifs``). ``credentials``: ``client_id``, ``client_secret``, ``realm`` (the IAM namespace).
``options``: ``company`` ("10"), ``voucher_projection`` ("VoucherEntryHandling": the reference
finds no confirmed projection for posting vouchers over REST; see ``sandbox/ifs_data.py``),
``voucher_template`` ("MLC-ACCRUAL"), ``code_part_projection`` ("CodePartValuesHandling"),
``page_size`` (1000, at most 5000: the product page warns of 500s above), ``rate_limit``
([900, 60]: calls per window seconds for the whole tenant, under the product page's ~1000 per
minute), ``rate_limit_burst``, plus the shared base's ``timeouts``, ``max_attempts``, ``backoff_max``.

Auth: ``POST /auth/realms/<realm>/protocol/openid-connect/token`` (client credentials). The
token is kept per process for every client of the same tenant and client, renewed once it is
older than 5/6 of its ``expires_in`` (180 s in 24R2 per IFS; 3600 s per the product page), and
once more when a call answers 401 (expired or revoked early): a 401 means the call was not
processed, so sending it again cannot duplicate anything.

Rate: one token bucket per tenant (base URL and realm), shared by every worker through the
cache (``limits.TokenBucket``); a 429 is retried after its ``Retry-After`` plus up to 25 %
jitter (tenacity), a missing header falls back to exponential backoff with jitter.

Posting a voucher (``create_voucher``): read the voucher template, keep its ETag (for the client's
life: one cycle), and call the bound action ``VoucherTemplate_CreateVoucher`` with ``If-Match``. A 412 (someone edited the
template between the read and the write) wrote nothing: the template is read again and the
call sent once more; a second 412 is ``IFS-412-TEMPLATE-CHANGED`` (retried later). The voucher
and every row keep the external reference in ``ReferenceNumber``; ``find_vouchers`` searches it.

Errors (codes shown on held batches): 401 at the token endpoint or twice in a row ``IFS-AUTH``;
403 ``IFS-403-FORBIDDEN``; an unknown realm ``IFS-REALM-UNKNOWN``; 429 ``IFS-429``; a
``DATABASE_ERROR`` body (IFS refused the content) ``IFS-REJECTED`` whatever the status;
``ODP_MISSING_PRECONDITION`` ``IFS-MISSING-PRECONDITION``; other 4xx ``IFS-<status>``; 5xx and
dropped connections ``Unavailable`` for reads and ``OutcomeUnknown`` for the voucher action.
"""

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import AuthError, IntegrationError, Unavailable
from .http import HttpClient
from .ifs_errors import AUTH_HELP, EtagStale, TokenRejected, classify
from .limits import TokenBucket

REFRESH_FRACTION = 5 / 6
MAX_PAGE_SIZE = 5000
MAX_PAGES = 10_000  # a guard against a server that never stops offering a next link
LOOKUP_CHUNK = 20  # code part values per $filter when checking a few
CODE_PART_FIELDS = {"B": "CodeB", "C": "CodeC"}
JSON_TYPE = "application/json;IEEE754Compatible=true"


@dataclass
class VoucherRow:
    account: str
    amount: Decimal  # signed: debit positive, credit negative
    codes: dict = field(default_factory=dict)  # code part letter -> value, e.g. {"B": "CC10", "C": "PRJ-ALPHA"}
    text: str = ""


@dataclass
class VoucherDocument:
    reference: str
    voucher_date: str  # ISO date
    currency: str
    text: str
    rows: list[VoucherRow]


@dataclass
class Voucher:
    company: str
    year: int
    voucher_type: str
    number: int
    currency: str = ""
    reference: str = ""
    debit_total: Decimal = Decimal(0)
    credit_total: Decimal = Decimal(0)
    line_count: int = 0

    @property
    def document_id(self):
        return f"{self.voucher_type} {self.year}-{self.number}"

    def key_text(self):
        return (
            f"Company='{_quote(self.company)}',AccountingYear={self.year},VoucherType='{_quote(self.voucher_type)}',"
            f"VoucherNo={self.number}"
        )


_tokens: dict[tuple, tuple] = {}  # key -> (access token, issued at, expires_in)
_locks: dict[tuple, threading.Lock] = {}
_store_lock = threading.Lock()


def clear_token_cache():
    """Forget every cached IFS token of this process (tests; after rotating credentials)."""
    with _store_lock:
        _tokens.clear()


def _lock_for(key):
    with _store_lock:
        return _locks.setdefault(key, threading.Lock())


def _quote(text):
    return str(text).replace("'", "''")


class IfsClient(HttpClient):
    system = "ifs"
    clock = staticmethod(time.monotonic)
    retry_after_jitter = 0.25

    def __init__(self, connection):
        super().__init__(connection, system="ifs")
        self.client_id = str(self.credentials.get("client_id") or "").strip()
        self._secret = str(self.credentials.get("client_secret") or "")
        self.realm = str(self.credentials.get("realm") or "").strip()
        missing = [k for k, v in (("client_id", self.client_id), ("client_secret", self._secret), ("realm", self.realm)) if not v]
        if missing:
            raise AuthError(f"The IFS connection has no {', '.join(missing)}.", code="IFS-AUTH-MISSING", help=AUTH_HELP)
        self.company = str(self.options.get("company") or "10")
        self.voucher_projection = str(self.options.get("voucher_projection") or "VoucherEntryHandling")
        self.code_part_projection = str(self.options.get("code_part_projection") or "CodePartValuesHandling")
        self.template = str(self.options.get("voucher_template") or "MLC-ACCRUAL")
        self.page_size = max(1, min(MAX_PAGE_SIZE, int(self.options.get("page_size") or 1000)))
        per_window, window = self.options.get("rate_limit") or (900, 60)
        burst = self.options.get("rate_limit_burst")
        self.limiter = TokenBucket(f"ifs:{self.base_url}:{self.realm}", per_window, window, burst=int(burst) if burst else None)
        fingerprint = hashlib.sha256(self._secret.encode()).hexdigest()
        self._key = (self.base_url, self.realm, self.client_id, fingerprint)
        self.token_requests = 0
        self._template_etag = None  # the voucher template's ETag as last read
        self._template_lock = threading.Lock()  # posting threads share one read of it

    def __repr__(self):
        return f"<IfsClient {self.base_url} realm={self.realm!r} client={self.client_id!r}>"

    # -- auth ---------------------------------------------------------------------------------------------------
    @property
    def token_url(self):
        return f"{self.base_url}/auth/realms/{self.realm}/protocol/openid-connect/token"

    def ensure_token(self):
        """A live access token: the cached one while younger than 5/6 of its expires_in, else a new one."""
        with _lock_for(self._key):
            cached = _tokens.get(self._key)
            if cached is not None and self.clock() - cached[1] < cached[2] * REFRESH_FRACTION:
                return cached[0]
            value, lifetime = self._request_token()
            _tokens[self._key] = (value, self.clock(), lifetime)
            return value

    def _forget_token(self, value):
        with _lock_for(self._key):
            if _tokens.get(self._key, (None,))[0] == value:
                del _tokens[self._key]

    def _request_token(self):
        self.token_requests += 1
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
            "scope": "openid microprofile-jwt",
        }
        response = self.request("POST", self.token_url, idempotent=True, data=form)
        body = _json(response)
        token = body.get("access_token")
        if not token:
            raise IntegrationError("IFS IAM answered without an access token", code="IFS-BAD-ANSWER")
        _remember(token)
        return str(token), float(body.get("expires_in") or 180)

    def call(self, method, url, *, idempotent, headers=None, **kwargs):
        """One authenticated call; on 401 a new token and the same call once more (a 401 processed nothing)."""
        for attempt in (1, 2):
            token = self.ensure_token()
            sent = {"Authorization": f"Bearer {token}", "Accept": JSON_TYPE, **(headers or {})}
            try:
                return self.request(method, url, idempotent=idempotent, headers=sent, **kwargs)
            except TokenRejected as exc:
                self._forget_token(token)
                if attempt == 2:
                    raise AuthError(
                        "IFS refused a freshly issued access token (HTTP 401 twice in a row)",
                        code="IFS-AUTH",
                        status=exc.status,
                        help=AUTH_HELP,
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- errors -------------------------------------------------------------------------------------------------
    def classify(self, response, *, idempotent):
        return classify(self, response, idempotent=idempotent)

    # -- reads ---------------------------------------------------------------------------------------------------
    def projection_url(self, projection, path=""):
        return f"{self.base_url}/main/ifsapplications/projection/v1/{projection}.svc/{path}"

    def rows(self, projection, entity_set, *, filter=None, select=None, orderby) -> Iterator[dict]:
        """Every entity of a query, in bounded pages: ``$top``/``$skip`` with a stable ``$orderby``, following
        any ``@odata.nextLink`` the server adds inside a page."""
        skip = 0
        for _ in range(MAX_PAGES):
            params = {"$orderby": orderby, "$top": str(self.page_size), "$skip": str(skip)}
            if filter:
                params["$filter"] = filter
            if select:
                params["$select"] = ",".join(select)
            url, got = self.projection_url(projection, entity_set), 0
            for _ in range(MAX_PAGES):
                body = _json(self.call("GET", url, idempotent=True, params=params))
                for row in body.get("value") or []:
                    got += 1
                    yield row
                url, params = body.get("@odata.nextLink"), None
                if not url:
                    break
            if got < self.page_size:
                return
            skip += got
        raise IntegrationError(f"IFS kept offering pages of {entity_set}", code="IFS-BAD-ANSWER")

    def code_part_values(self, parts=("A", "B", "C")) -> Iterator[dict]:
        """Code part values of the company: CodePart, CodeValue, Description, ValidFrom, ValidUntil, Objstate."""
        which = " or ".join(f"CodePart eq '{_quote(p)}'" for p in parts)
        return self.rows(
            self.code_part_projection,
            "CodePartValueSet",
            filter=f"Company eq '{_quote(self.company)}' and ({which})",
            select=("CodePart", "CodeValue", "Description", "ValidFrom", "ValidUntil", "Objstate"),
            orderby="CodePart,CodeValue",
        )

    def lookup_code_parts(self, pairs) -> dict:
        """(part, value) -> row for those of ``pairs`` that exist (a few values asked live, in chunks)."""
        pairs, found = sorted(set(pairs)), {}
        for start in range(0, len(pairs), LOOKUP_CHUNK):
            chunk = pairs[start : start + LOOKUP_CHUNK]
            which = " or ".join(f"(CodePart eq '{_quote(p)}' and CodeValue eq '{_quote(v)}')" for p, v in chunk)
            for row in self.rows(
                self.code_part_projection,
                "CodePartValueSet",
                filter=f"Company eq '{_quote(self.company)}' and ({which})",
                orderby="CodePart,CodeValue",
            ):
                found[(row["CodePart"], row["CodeValue"])] = row
        return found

    def read_template(self):
        """The voucher template and its ETag."""
        url = self.projection_url(self.voucher_projection, f"VoucherTemplateSet({self._template_key()})")
        response = self.call("GET", url, idempotent=True)
        body = _json(response)
        etag = body.get("@odata.etag") or response.headers.get("ETag")
        if not etag:
            raise IntegrationError("IFS answered the voucher template without an ETag", code="IFS-BAD-ANSWER")
        self._template_etag = etag
        return body, etag

    def template_etag(self, stale=None):
        """The template's ETag to send: the one already read unless it is ``stale`` (answered 412). Threads
        posting at once wait for one read and share it, instead of each reading the template."""
        with self._template_lock:
            if self._template_etag and self._template_etag != stale:
                return self._template_etag
            return self.read_template()[1]

    def _template_key(self):
        return f"Company='{_quote(self.company)}',Template='{_quote(self.template)}'"

    # -- the voucher ----------------------------------------------------------------------------------------------
    def voucher_payload(self, doc: VoucherDocument) -> dict:
        rows = []
        for row in doc.rows:
            item = {"Account": row.account, "Text": row.text or None}
            for part, value in row.codes.items():
                if value and part in CODE_PART_FIELDS:
                    item[CODE_PART_FIELDS[part]] = value
            side = "CurrencyDebitAmount" if row.amount > 0 else "CurrencyCreditAmount"
            item[side] = format(abs(row.amount), "f")  # a string: IEEE754Compatible keeps decimals exact
            rows.append(item)
        return {
            "VoucherDate": doc.voucher_date,
            "VoucherText": doc.text,
            "ReferenceNumber": doc.reference,
            "CurrencyCode": doc.currency,
            "Rows": rows,
        }

    def create_voucher(self, doc: VoucherDocument) -> Voucher:
        """Create the voucher with If-Match: the template's ETag (read once per client); on a 412 read it again and
        try once more."""
        payload = json.dumps(self.voucher_payload(doc))
        action = self.projection_url(
            self.voucher_projection,
            f"VoucherTemplateSet({self._template_key()})/IfsApp.{self.voucher_projection}.VoucherTemplate_CreateVoucher",
        )
        stale = None
        for attempt in (1, 2):
            # The ETag read for an earlier voucher of this client serves until IFS answers 412: one read per
            # cycle instead of one per voucher, which matters under the tenant's call limit.
            etag = self.template_etag(stale)
            try:
                response = self.call(
                    "POST", action, idempotent=False, data=payload, headers={"If-Match": etag, "Content-Type": JSON_TYPE}
                )
            except EtagStale:
                stale = etag
                if attempt == 2:
                    raise Unavailable(
                        "The IFS voucher template changed twice while the voucher was being sent; nothing was written",
                        code="IFS-412-TEMPLATE-CHANGED",
                    ) from None
                continue
            return _voucher(_json(response))
        raise AssertionError("unreachable")  # pragma: no cover

    def find_vouchers(self, reference) -> list[Voucher]:
        """Every voucher of the company whose ReferenceNumber is ``reference``, with its row totals."""
        found = []
        for head in self.rows(
            self.voucher_projection,
            "VoucherSet",
            filter=f"Company eq '{_quote(self.company)}' and ReferenceNumber eq '{_quote(reference)}'",
            orderby="AccountingYear,VoucherType,VoucherNo",
        ):
            voucher = _voucher(head)
            rows = self.rows(self.voucher_projection, f"VoucherSet({voucher.key_text()})/VoucherRowArray", orderby="RowNo")
            for row in rows:
                voucher.line_count += 1
                voucher.debit_total += _decimal(row.get("CurrencyDebitAmount"))
                voucher.credit_total += _decimal(row.get("CurrencyCreditAmount"))
            found.append(voucher)
        return found


def _voucher(body):
    return Voucher(
        company=str(body.get("Company")),
        year=int(body.get("AccountingYear")),
        voucher_type=str(body.get("VoucherType")),
        number=int(body.get("VoucherNo")),
        currency=str(body.get("CurrencyCode") or ""),
        reference=str(body.get("ReferenceNumber") or ""),
    )


def _decimal(value):
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _json(response):
    try:
        body = json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError:
        raise IntegrationError(
            f"IFS answered something that is not JSON (HTTP {response.status_code})",
            code="IFS-BAD-ANSWER",
            status=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise IntegrationError("IFS answered an unexpected JSON shape", code="IFS-BAD-ANSWER")
    return body


def _remember(secret):
    try:
        from portal.logging import remember_secret
    except ImportError:  # pragma: no cover - the client used outside the portal
        return
    remember_secret(secret)
