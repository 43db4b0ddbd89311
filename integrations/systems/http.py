"""The shared HTTP base every system client builds on.

It owns what is the same for all six vendors: one ``requests`` session per client,
mapping transport failures onto the shared error hierarchy (and deciding whether a
failed write may have reached the server), retries with exponential backoff and
jitter that honour ``Retry-After``, the per-credential rate limiter, the per-credential
limit of calls in flight (``concurrency``), and a call count.
A client subclass adds its auth lifecycle and ``classify`` for its error shapes.
"""

import hashlib
import logging
import os
import random
from urllib.parse import urlsplit

import requests
import requests.utils
import tenacity
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from portal.scrub import scrub

from .errors import (
    AuthError,
    IntegrationError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    Unavailable,
    ValidationRejected,
)
from .limits import ConcurrencyLimiter, SlotTimeout
from .registry import NON_SECRET_KEYS, concurrency_for

log = logging.getLogger(__name__)

# Whose calls a vendor counts together, as the credential values naming that party (secret ones
# enter the key as a digest). BILL counts per devKey and organization (shared/reference/bill.md);
# Acumatica's license caps concurrent requests per instance, whoever sends them (acumatica.md).
CONCURRENCY_IDENTITY = {
    "expensify": ("partnerUserID",),
    "jde": ("username",),
    "ifs": ("client_id",),
    "acumatica": (),
    "procurify": ("client_id",),
    "bill": ("dev_key", "org_id"),
}


def parse_retry_after(value):
    """Seconds from a Retry-After header (delta-seconds form); None when absent or a date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def _never_reached_server(exc):
    """True when the request certainly never left this machine (connect refused/timed out)."""
    seen = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (NewConnectionError, ConnectTimeoutError, requests.ConnectTimeout)):
            return True
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
    return False


class _WaitRetryAfter(tenacity.wait.wait_base):
    """Wait what the server asked for, else exponential backoff with jitter."""

    def __init__(self, initial, maximum, retry_after_jitter=0.0):
        self.backoff = tenacity.wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)
        self.maximum = maximum
        self.retry_after_jitter = retry_after_jitter

    def __call__(self, retry_state):
        exc = retry_state.outcome.exception()
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            # Jitter on top of what the server asked, so workers told the same Retry-After do not return together.
            spread = float(retry_after) * random.uniform(0.0, self.retry_after_jitter) if self.retry_after_jitter else 0.0
            return min(float(retry_after) + spread, self.maximum)
        return self.backoff(retry_state)


class PoolKeyCache(HTTPAdapter):
    """requests works out a request's connection-pool key afresh for every call, and with a CA bundle
    path (``verify`` a string, as REQUESTS_CA_BUNDLE gives) that includes a ``stat`` of the path:
    a system call per request. The key depends only on the origin and the TLS settings, so it is
    worked out once per origin and settings."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._keys = {}

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        parts = urlsplit(request.url)
        key = (parts.scheme, parts.netloc, verify, cert if not isinstance(cert, list) else tuple(cert))
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params, pool_kwargs = found
        return dict(host_params), dict(pool_kwargs)  # urllib3 may keep or change what it is given


class HttpClient:
    system = "generic"
    connect_timeout = 5.0
    read_timeout = 60.0
    max_attempts = 5
    backoff_initial = 0.5
    backoff_max = 30.0
    retry_after_jitter = 0.0  # fraction of a Retry-After added at random (0: wait exactly what was asked)

    def __init__(self, connection, *, system=None):
        self.connection = connection
        self.system = system or self.system
        self.base_url = (connection.base_url or "").rstrip("/")
        self.credentials = dict(getattr(connection, "credentials", None) or {})
        self.options = dict(getattr(connection, "options", None) or {})
        self.limiter = None
        self.calls = 0  # HTTP requests actually sent, retries included
        self._retrying = None
        timeouts = self.options.get("timeouts")
        if timeouts:
            self.connect_timeout, self.read_timeout = (float(t) for t in timeouts)
        self.max_attempts = int(self.options.get("max_attempts", self.max_attempts))
        self.backoff_max = float(self.options.get("backoff_max", self.backoff_max))
        # Calls in flight at once for this credential, across every worker; a pool of senders is sized by it.
        self.concurrency = concurrency_for(self.system, self.options.get("concurrency"))
        # The lease outlasts a call that uses its connect and read timeouts in full, so in practice only a dead
        # holder's slot runs out (the read timeout bounds each wait for bytes, not a body trickling in).
        self.slots = ConcurrencyLimiter(self.concurrency_key(), self.concurrency,
                                        ttl=self.connect_timeout + self.read_timeout + 30)
        self._proxies = {}  # origin -> proxies, read from the environment once per client
        self.session = self._make_session()

    def concurrency_key(self):
        """The party a vendor counts calls in flight for: system, base URL and the credential's identity."""
        parts = [self.system, self.base_url]
        for name in CONCURRENCY_IDENTITY.get(self.system, ()):
            value = str(self.credentials.get(name) or "")
            if name not in NON_SECRET_KEYS:  # the key is stored in the clear; a secret goes in as a digest
                value = hashlib.sha256(value.encode()).hexdigest()[:16]
            parts.append(value)
        return ":".join(parts)

    def _make_session(self):
        """One session for the client's life, its pool holding a connection per slot.

        With ``trust_env`` on, requests reads proxies, the CA bundle and ~/.netrc from the
        environment again for every call; a worker's environment does not change while it runs,
        so read the proxy and CA settings once here and turn that off (~/.netrc is not used)."""
        session = requests.Session()
        session.headers["User-Agent"] = "ml-connector/1.0"
        session.trust_env = False
        session.proxies = self._environ_proxies(self.base_url)
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        # Without room for every slot, urllib3 would drop the connections past its pool size after each call.
        adapter = PoolKeyCache(pool_maxsize=max(DEFAULT_POOLSIZE, self.concurrency))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def _environ_proxies(self, url):
        """HTTP(S)_PROXY / ALL_PROXY for ``url``, none when NO_PROXY names its host; cached per origin."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        if origin not in self._proxies:
            found = requests.utils.get_environ_proxies(url)
            self._proxies[origin] = {k: v for k, v in found.items() if k != "no"}
        return self._proxies[origin]

    def _request_proxies(self, url):
        """Proxies for a URL off the base URL's origin (a download link...): they replace the session's."""
        base, other = urlsplit(self.base_url), urlsplit(url)
        if (base.scheme, base.netloc) == (other.scheme, other.netloc):
            return None
        # requests merges these over the session's; a None value removes a session entry.
        return {scheme: None for scheme in self.session.proxies} | self._environ_proxies(url)

    def scrub(self, text):
        """``text`` with every secret credential value masked: for vendor messages that echo them."""
        secrets = [str(v) for k, v in self.credentials.items() if k not in NON_SECRET_KEYS and v]
        return scrub(text or "", secrets)

    # -- hooks for subclasses -------------------------------------------------
    def classify(self, response, *, idempotent):
        """Map a vendor response onto an error, or None when it succeeded."""
        return self.default_classify(response, idempotent=idempotent)

    def default_classify(self, response, *, idempotent):
        status = response.status_code
        if status < 400:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        where = f"{self.system} answered HTTP {status}"
        if status == 429:
            return RateLimited(f"{where}: rate limited", retry_after=retry_after, status=status)
        if status in (401, 403):
            return AuthError(f"{where}: credentials were refused", status=status)
        if status == 404:
            return NotFound(f"{where}: not found", status=status)
        if status < 500:
            return ValidationRejected(f"{where}: request rejected", status=status)
        # A write's 5xx is uncertain, 503 too: a gateway may answer it after the backend wrote (RFC 9110 does not
        # say a 503'd request was not processed); reconcile finds out, a blind retry could write twice.
        if idempotent:
            return Unavailable(f"{where}: service unavailable", retry_after=retry_after, status=status)
        return OutcomeUnknown(f"{where} after the request was sent", status=status)

    # -- plumbing ---------------------------------------------------------------
    def url(self, path):
        if path.startswith("http://") or path.startswith("https://"):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method, path, *, idempotent, **kwargs):
        if self._retrying is None:
            self._retrying = tenacity.Retrying(
                stop=tenacity.stop_after_attempt(self.max_attempts),
                wait=_WaitRetryAfter(self.backoff_initial, self.backoff_max, self.retry_after_jitter),
                retry=tenacity.retry_if_exception(lambda e: isinstance(e, IntegrationError) and e.retryable),
                before_sleep=self._log_retry,
                reraise=True,
            )
        return self._retrying.copy()(self.send_once, method, path, idempotent=idempotent, **kwargs)

    def send_once(self, method, path, *, idempotent, **kwargs):
        """One attempt: concurrency slot, rate limiter, transport, classification. No retry here."""
        url = self.url(path)
        kwargs.setdefault("timeout", (self.connect_timeout, self.read_timeout))
        proxies = self._request_proxies(url)
        if proxies is not None:
            kwargs.setdefault("proxies", proxies)
        # The slot first: a rate stamp taken before a wait for a slot would date the call too early.
        lease = self._take_slot()
        try:
            stamp = self.limiter.acquire() if self.limiter is not None else None
            self.calls += 1
            late = 0.0
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                if not _never_reached_server(exc):
                    # Given up on, the request may still be on its way: the vendor can count it after we stopped
                    # waiting (a slow proxy or server). Count it as arriving up to one more read timeout later.
                    late = self.read_timeout
                raise self._transport_error(exc, url, idempotent) from None
            finally:
                if stamp is not None:
                    self.limiter.settle(stamp, late=late)
        finally:
            self.slots.release(lease)
        error = self.classify(response, idempotent=idempotent)
        if error is not None:
            raise error
        return response

    def _take_slot(self):
        try:
            return self.slots.acquire()
        except SlotTimeout as exc:  # nothing was sent: safe to retry
            raise RateLimited(
                f"{self.system}: every one of this connection's {self.concurrency} slots for calls in flight "
                f"stayed taken for {self.slots.wait:g}s ({exc})",
                code="CONCURRENCY-WAIT",
                help="Other workers kept this connection busy; the portal retries by itself. If it lasts, run fewer "
                "workers against it, or raise the connection's concurrency option if the vendor allows more.",
            ) from None

    def _transport_error(self, exc, url, idempotent):
        host = urlsplit(url).netloc
        kind = type(exc).__name__
        if _never_reached_server(exc):
            return Unavailable(
                f"{self.system} at {host} could not be reached ({kind})",
                code="NETWORK-UNREACHABLE",
                help="Check the connection's base URL and that the server is up.",
            )
        if idempotent:
            return Unavailable(f"{self.system} at {host} dropped the request ({kind})", code="NETWORK-DROPPED")
        return OutcomeUnknown(
            f"{self.system} at {host} dropped the connection after the request was sent ({kind}); "
            "it may or may not have been applied",
            code="NETWORK-OUTCOME-UNKNOWN",
        )

    def _log_retry(self, retry_state):
        exc = retry_state.outcome.exception()
        log.warning(
            "%s call failed (%s: %s); retry %d in %.1fs",
            self.system,
            getattr(exc, "code", type(exc).__name__),
            exc,
            retry_state.attempt_number,
            retry_state.next_action.sleep if retry_state.next_action else 0,
        )
