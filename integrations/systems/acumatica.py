"""Acumatica's contract-based REST API: sign-in, the pinned endpoint version, value objects.

Facts (shared/reference/acumatica.md): records live at ``/entity/<Endpoint>/<Version>/<Entity>``
and a version the instance does not publish answers 404, so the version is pinned per
connection (credentials ``endpoint_name`` / ``endpoint_version``) and a 404 is checked against
``GET /entity`` (the endpoints published and the running build) to tell a version mismatch
from a missing record. OAuth 2.0 password grant at ``/identity/connect/token`` with a
``<GUID>@<Tenant>`` client id and ``offline_access`` for a refresh token; on a 401 the token is
refreshed with the refresh token, and if that fails too, signed in again. Every field travels
as ``{"value": ...}``: ``wrap``/``unwrap`` below are the only places that know it. There is no
idempotency key (a PUT without the record's key creates one): callers search before creating.

Options: ``requests_per_minute`` (the license's limit, shared by every worker on the instance;
none by default), plus HttpClient's.
"""

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .errors import (
    AuthError,
    IntegrationError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Unavailable,
    ValidationRejected,
    VersionMismatch,
)
from .http import HttpClient, parse_retry_after
from .limits import RateLimiter

AUTH_HELP = ("Check the connection's client id (<GUID>@<Tenant> from the Connected Applications form), client secret, "
             "user name and password, then run 'Check connection'.")
VERSION_HELP = ("Set the connection's endpoint_version to a version the instance publishes (Web Service Endpoints "
                "form, SM207060), then retry.")
REFRESH_FRACTION = 0.9  # renew an access token after 90 % of its lifetime
META = ("id", "rowNumber", "delete", "_links", "custom", "note")


# -- value objects: the one place that knows them ---------------------------------------------------------
def wrap(record):
    """A plain record (values, nested dicts for linked entities, lists for details) as Acumatica wants it."""
    out = {}
    for name, value in record.items():
        if name in ("id", "delete"):
            out[name] = value
        elif isinstance(value, list):
            out[name] = [wrap(item) for item in value]
        elif isinstance(value, dict):
            out[name] = wrap(value)
        else:
            out[name] = {"value": value.isoformat() if isinstance(value, (date, datetime)) else value}
    return out


def unwrap(record):
    """An Acumatica record as plain values: ``{"value": v}`` -> v, ``{}`` -> None; details and linked
    entities unwrapped in turn; field errors of a refused record kept under ``_errors``."""
    out, errors = {}, {}
    for name, value in (record or {}).items():
        if name in ("_links", "custom", "rowNumber", "note"):
            continue
        if name == "id" or not isinstance(value, (dict, list)):
            out[name] = value
        elif isinstance(value, list):
            out[name] = [unwrap(item) for item in value]
        elif "value" in value or not value or "error" in value:
            out[name] = value.get("value")
            if value.get("error"):
                errors[name] = value["error"]
        else:
            out[name] = unwrap(value)
    if errors:
        out["_errors"] = errors
    return out


def dumps(obj):
    """JSON with Decimals as numbers carrying their exact digits (never through a float)."""
    nonce = secrets.token_hex(6)

    def default(value):
        if isinstance(value, Decimal):
            return f"@{nonce}:{format(value, 'f')}@"
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return re.sub(rf'"@{nonce}:(-?[0-9.]+)@"', r"\1", json.dumps(obj, default=default)).encode("utf-8")


def literal(value):
    """An OData string literal ('O''Brien')."""
    return "'" + str(value).replace("'", "''") + "'"


# -- tokens shared by the clients of one process -----------------------------------------------------------
@dataclass
class _Token:
    access: str
    refresh: str
    renew_at: float


_tokens: dict[tuple, _Token] = {}
_lock = threading.Lock()
_signing_in: dict[tuple, threading.Lock] = {}  # one sign-in at a time per credential


def _sign_in_lock(key):
    with _lock:
        return _signing_in.setdefault(key, threading.Lock())


def clear_token_cache():
    with _lock:
        _tokens.clear()


class _Unauthorized(AuthError):
    """A 401 on an entity call: the token expired or was revoked (the client refreshes it)."""


class AcumaticaClient(HttpClient):
    system = "acumatica"
    clock = staticmethod(time.monotonic)

    def __init__(self, connection):
        super().__init__(connection, system="acumatica")
        creds = self.credentials
        self.client_id = str(creds.get("client_id") or "").strip()
        self.username = str(creds.get("username") or "").strip()
        self._secret = str(creds.get("client_secret") or "")
        self._password = str(creds.get("password") or "")
        self.endpoint_name = str(creds.get("endpoint_name") or "Default").strip()
        self.endpoint_version = str(creds.get("endpoint_version") or "").strip()
        missing = [k for k, v in (("client_id", self.client_id), ("username", self.username),
                                  ("endpoint_version", self.endpoint_version)) if not v]
        if missing:
            raise AuthError(f"The Acumatica connection has no {', '.join(missing)}.", code="ACU-AUTH-MISSING",
                            help=AUTH_HELP)
        per_minute = self.options.get("requests_per_minute")
        if per_minute:
            self.limiter = RateLimiter(f"acumatica:{self.base_url}", [[int(per_minute), 60]])
        digest = hashlib.sha256(f"{self._secret}\x00{self._password}".encode()).hexdigest()
        self._key = (self.base_url, self.client_id, self.username, digest)
        self.token_requests = 0
        self._versions_checked = False

    def __repr__(self):
        return f"<AcumaticaClient {self.base_url} {self.endpoint_name}/{self.endpoint_version} user={self.username!r}>"

    # -- sign-in --------------------------------------------------------------------------------------
    def ensure_token(self):
        """The cached access token while fresh, else a new one. Posting threads that find it expired together
        wait for one sign-in and share its token: a refresh token is single-use, so a second refresh with the
        same one would fail and fall back to a password sign-in per thread."""
        token = self._fresh()
        if token is not None:
            return token.access
        with _sign_in_lock(self._key):
            token = self._fresh()  # another thread signed in while this one waited
            if token is not None:
                return token.access
            with _lock:
                stale = _tokens.get(self._key)
            return self._sign_in(refresh=stale.refresh if stale else "")

    def _fresh(self):
        with _lock:
            token = _tokens.get(self._key)
            return token if token is not None and self.clock() < token.renew_at else None

    def _sign_in(self, *, refresh=""):
        """A new access token: from the refresh token when there is one, else by the password grant."""
        if refresh:
            try:
                return self._token_request({"grant_type": "refresh_token", "refresh_token": refresh})
            except AuthError:
                pass  # the refresh chain ended or was revoked: sign in again
        return self._token_request({"grant_type": "password", "username": self.username, "password": self._password,
                                    "scope": "api offline_access"})

    def _token_request(self, form):
        self.token_requests += 1
        form = {**form, "client_id": self.client_id, "client_secret": self._secret}
        response = self.request("POST", "/identity/connect/token", idempotent=True, data=form)
        body = self._json(response)
        lifetime = float(body.get("expires_in") or 3600)
        token = _Token(body["access_token"], body.get("refresh_token") or "", self.clock() + lifetime * REFRESH_FRACTION)
        with _lock:
            _tokens[self._key] = token
        return token.access

    def _forget(self, access):
        with _lock:
            token = _tokens.get(self._key)
            if token is not None and token.access == access:
                token.renew_at = 0  # keep the refresh token for the next sign-in

    # -- calls -----------------------------------------------------------------------------------------
    def entity_url(self, entity, *keys):
        path = f"/entity/{self.endpoint_name}/{self.endpoint_version}/{entity}"
        return path + "".join(f"/{k}" for k in keys)

    def call(self, method, path, *, idempotent, params=None, body=None, headers=None):
        """One authenticated call: on a 401 the token is refreshed (refresh token, then a new sign-in) and the
        call sent again; a 404 is checked against the endpoints the instance publishes."""
        kwargs = {"params": params or None, "headers": dict(headers or {})}
        if body is not None:
            kwargs["data"] = dumps(body)
            kwargs["headers"]["Content-Type"] = "application/json"
        for attempt in (1, 2, 3):
            access = self.ensure_token()
            kwargs["headers"]["Authorization"] = f"Bearer {access}"
            try:
                return self.request(method, path, idempotent=idempotent, **kwargs)
            except _Unauthorized:
                self._forget(access)
                if attempt == 2:  # a refreshed token refused too: drop the refresh token, sign in afresh
                    with _lock:
                        _tokens.pop(self._key, None)
                if attempt == 3:
                    raise AuthError("Acumatica refused a freshly issued token (HTTP 401 after signing in again)",
                                    code="ACU-401", help=AUTH_HELP, status=401) from None
            except NotFound:
                self.check_version()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def check_version(self):
        """Raise VersionMismatch when the instance does not publish the pinned endpoint version."""
        if self._versions_checked:
            return
        response = self.request("GET", "/entity", idempotent=True)
        body = self._json(response)
        published = {(e.get("name"), e.get("version")) for e in body.get("endpoints") or [] if isinstance(e, dict)}
        if (self.endpoint_name, self.endpoint_version) in published:
            self._versions_checked = True
            return
        build = (body.get("version") or {}).get("acumaticaBuildVersion") or ""
        same_name = sorted(v for n, v in published if n == self.endpoint_name)
        running = f" It runs build {build}" if build else " It"
        raise VersionMismatch(
            f"Acumatica does not publish the endpoint {self.endpoint_name}/{self.endpoint_version} pinned on this "
            f"connection.{running} and publishes {self.endpoint_name} "
            f"{', '.join(same_name) if same_name else '(none)'}.",
            code="ACU-VERSION-MISMATCH", help=VERSION_HELP, status=404)

    # -- entities ---------------------------------------------------------------------------------------
    def list(self, entity, *, filter=None, select=None, expand=None, page_size=500):  # noqa: A002 - OData's word
        """Every record matching ``filter``, paged with $top/$skip, as plain dicts."""
        skip = 0
        while True:
            params = {"$top": page_size, "$skip": skip}
            if filter:
                params["$filter"] = filter
            if select:
                params["$select"] = ",".join(select)
            if expand:
                params["$expand"] = ",".join(expand)
            rows = self._json(self.call("GET", self.entity_url(entity), idempotent=True, params=params))
            yield from (unwrap(r) for r in rows)
            if len(rows) < page_size:
                return
            skip += page_size

    def get(self, entity, *keys, expand=None):
        params = {"$expand": ",".join(expand)} if expand else None
        try:
            response = self.call("GET", self.entity_url(entity, *keys), idempotent=True, params=params)
        except VersionMismatch:
            raise
        except NotFound:
            return None
        return unwrap(self._json(response))

    def put(self, entity, record, *, create_only=False, update_only=False, expand=None):
        """Upsert ``record`` (plain values); returns the record as Acumatica stored it."""
        headers = {"If-None-Match": "*"} if create_only else {"If-Match": "*"} if update_only else {}
        params = {"$expand": ",".join(expand)} if expand else None
        response = self.call("PUT", self.entity_url(entity), idempotent=False, params=params, body=wrap(record),
                             headers=headers)
        return unwrap(self._json(response))

    # -- errors -----------------------------------------------------------------------------------------
    def classify(self, response, *, idempotent):
        status = response.status_code
        if status < 400:
            return None
        body = self._error_body(response)
        said = self.scrub(_message(body))
        suffix = f": {said}" if said else ""
        signing_in = "/identity/connect/token" in str(getattr(response, "url", "") or "")
        if signing_in and status in (400, 401):
            code = body.get("error") if isinstance(body, dict) else ""
            return AuthError(f"Acumatica refused the sign-in of {self.username} with client {self.client_id} "
                             f"({code or f'HTTP {status}'})", code="ACU-AUTH", help=AUTH_HELP, status=status)
        if status == 401:
            return _Unauthorized(f"Acumatica answered HTTP 401{suffix}", code="ACU-401", help=AUTH_HELP, status=status)
        if status == 403:
            return AuthError(f"Acumatica user {self.username} may not do this (HTTP 403){suffix}", code="ACU-403",
                             status=status, help="Give the connector's user the roles for the entities it uses.")
        if status == 429:
            return RateLimited(f"Acumatica's license limit was reached (HTTP 429){suffix}", code="ACU-429", status=status,
                               retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status == 404:
            return NotFound(f"Acumatica: not found (HTTP 404){suffix}", code="ACU-404", status=status)
        if status == 412:
            return ValidationRejected(f"Acumatica refused the write's precondition (HTTP 412){suffix}", code="ACU-412",
                                      status=status)
        if status == 422:
            return ValidationRejected(f"Acumatica rejected the record: {_field_errors(body) or said}", code="ACU-422",
                                      status=status, help="Correct what Acumatica names (mapping, vendor, account, "
                                      "subaccount or amounts), then retry the batch.")
        if status < 500:
            return ValidationRejected(f"Acumatica refused the request (HTTP {status}){suffix}", code=f"ACU-{status}",
                                      status=status)
        if idempotent:  # a write's 503 is uncertain too (systems.http.default_classify)
            return Unavailable(f"Acumatica answered HTTP {status}{suffix}", code=f"ACU-{status}", status=status,
                               retry_after=parse_retry_after(response.headers.get("Retry-After")))
        return OutcomeUnknown(f"Acumatica answered HTTP {status} after the record was sent{suffix}; it may or may not "
                              "have been written", code="ACU-OUTCOME-UNKNOWN", status=status)

    @staticmethod
    def _error_body(response):
        try:
            return json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError:
            return {}

    def _json(self, response):
        try:
            return json.loads(response.content or b"null", parse_float=Decimal)
        except ValueError:
            raise IntegrationError(f"Acumatica answered something that is not JSON (HTTP {response.status_code})",
                                   code="ACU-BAD-RESPONSE") from None


def _message(body):
    if not isinstance(body, dict):
        return ""
    return str(body.get("exceptionMessage") or body.get("message") or body.get("error_description")
               or body.get("error") or "")[:300]


def _field_errors(body):
    """'Vendor: ...; Details[1].Account: ...' from a 422 record."""
    if not isinstance(body, dict):
        return ""
    found = []

    def walk(node, where):
        if isinstance(node, list):
            for index, item in enumerate(node, start=1):
                walk(item, f"{where}[{index}]")
        elif isinstance(node, dict):
            for name, value in node.items():
                if isinstance(value, dict) and value.get("error"):
                    found.append(f"{where}{name}: {value['error']}")
                elif isinstance(value, (dict, list)):
                    walk(value, f"{where}{name}" + ("." if isinstance(value, dict) else ""))

    walk(body, "")
    return "; ".join(found)[:1000]
