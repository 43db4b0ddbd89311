"""IFS IAM (Keycloak) for the fake: the per-realm token endpoint, bearer checks, the tenant's rate.

Token endpoint [doc 24r2 client_credential_flow]: ``POST /auth/realms/<realm>/protocol/
openid-connect/token``, form-encoded ``grant_type=client_credentials&client_id=&client_secret=``
(``scope`` optional), answering ``access_token, expires_in, refresh_expires_in,
refresh_token, token_type "Bearer", id_token, not-before-policy, session_state, scope``.
Access tokens live ``token_lifetime`` seconds on the sandbox clock (180 by default: "3 minutes
in 24R2" per the docs; the product page says 3600, so it is a setting). An expired or unknown
bearer token gets 401 [doc]; its body is UNCONFIRMED, so the fake answers an OData error body
``UNAUTHORIZED`` with ``WWW-Authenticate: Bearer error="invalid_token"``.

Keycloak's own answers where the reference marks them UNCONFIRMED for IFS: an unknown realm 404
``{"error": "Realm does not exist"}``; bad client credentials 401 ``{"error": "invalid_client",
"error_description": "Invalid client or Invalid client credentials"}``; another grant type 400
``unsupported_grant_type``; a body that is not a form 400 ``invalid_request``.

Rate: IFS publishes no limit (reference, [3P] survey); the product page says about 1000 requests
per minute per tenant, then 429. The fake counts API calls of the realm (the tenant) in sliding
windows ``rate_limit`` (default ``[[1000, 60]]``); over it 429 with ``Retry-After`` (whole seconds
until the window frees a call, or ``retry_after`` when set) and an OData error body
``TOO_MANY_REQUESTS``. Refused calls do not count.
"""

import math
import secrets

from .http import json_response
from .odata import ODataError


class Iam:
    def __init__(self, fake):
        self.fake = fake
        self.tokens = {}  # access token -> (realm, expires at on the sandbox clock)
        self.calls = {}  # realm -> [call times]
        self.issued = 0
        self.refused = 0  # calls answered 429 by the rate limit

    def reset(self):
        self.tokens.clear()
        self.calls.clear()
        self.issued = self.refused = 0

    def restart(self):
        """The IAM forgets every session (what a token 'restart' fault does)."""
        self.tokens.clear()

    def live(self):
        now = self.fake.sandbox.clock()
        return sum(1 for _, until in self.tokens.values() if until > now)

    # -- the token endpoint ------------------------------------------------------------------------------
    def token(self, req, realm):
        creds = self.fake.creds
        if realm != creds["realm"]:
            return json_response({"error": "Realm does not exist"}, 404)
        if "x-www-form-urlencoded" not in req.headers.get("content-type", ""):
            return json_response({"error": "invalid_request", "error_description": "Missing form parameter: grant_type"}, 400)
        form = req.form()
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            return json_response(
                {"error": "unsupported_grant_type", "error_description": f"Unsupported grant_type {grant!r}"}, 400
            )
        if form.get("client_id") != creds["client_id"] or form.get("client_secret") != creds["client_secret"]:
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}, 401
            )
        lifetime = int(self.fake.settings.get("token_lifetime", 180))
        value = secrets.token_urlsafe(32)
        self.tokens[value] = (realm, self.fake.sandbox.clock() + lifetime)
        self.issued += 1
        return json_response(
            {
                "access_token": value,
                "expires_in": lifetime,
                "refresh_expires_in": 1800,
                "refresh_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "id_token": secrets.token_urlsafe(24),
                "not-before-policy": 0,
                "session_state": secrets.token_hex(16),
                "scope": "openid audience microprofile-jwt email profile",
            }
        )

    # -- bearer checks and the tenant's rate ------------------------------------------------------------
    def realm_of(self, req):
        """The caller's realm, or 401 for a missing, unknown or expired bearer token."""
        header = req.headers.get("authorization", "")
        value = header[7:].strip() if header[:7].lower() == "bearer " else ""
        realm, until = self.tokens.get(value, (None, 0))
        if realm is None or until <= self.fake.sandbox.clock():
            self.tokens.pop(value, None)
            raise ODataError(
                401,
                "UNAUTHORIZED",
                "The access token is missing, invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return realm

    def count(self, realm):
        """Count one API call of ``realm``; 429 when a window is full."""
        windows = [(int(n), float(s)) for n, s in (self.fake.settings.get("rate_limit") or [])]
        if not windows:
            return
        now = self.fake.sandbox.clock()
        horizon = max(s for _, s in windows)
        stamps = [t for t in self.calls.get(realm, []) if t > now - horizon]
        wait = 0.0
        for n, seconds in windows:
            recent = [t for t in stamps if t > now - seconds]
            if len(recent) >= n:
                wait = max(wait, recent[-n] + seconds - now)
        self.calls[realm] = stamps
        if wait > 0:
            after = self.fake.settings.get("retry_after")
            after = max(1, math.ceil(wait)) if after is None else after
            self.refused += 1
            raise ODataError(
                429, "TOO_MANY_REQUESTS", "Too many requests for this tenant; retry later.", headers={"Retry-After": str(after)}
            )
        stamps.append(now)
