"""Sign-in for the Acumatica fake: the OAuth 2.0 token endpoint and the legacy session cookie.

Facts (shared/reference/acumatica.md, "Auth A" and "Auth B"):
* ``POST /identity/connect/token`` (form): ``grant_type=password`` with ``client_id`` =
  ``<GUID>@<Tenant>``, ``client_secret``, ``username``, ``password``, ``scope=api offline_access``
  -> ``{"access_token", "expires_in": 3600, "token_type": "Bearer", "scope", "refresh_token"}``;
  a refresh token only with ``offline_access``; the refresh chain ends after 30 days. Supported
  grants are authorization code, implicit, password and hybrid: there is no client_credentials
  grant (answered with OAuth's ``unsupported_grant_type``).
* ``POST /entity/auth/login`` ``{"name","password","tenant"|"company","branch","locale"}`` -> 204 with
  a cookie; ``/entity/auth/logout`` -> 204; an idle session closes after 10 minutes and holds an
  API-user seat until then; past the license's seat count sign-in fails ("API Login Limit").
UNCONFIRMED, chosen here: OAuth error bodies follow RFC 6749 (400 ``invalid_grant`` /
``invalid_client``); a refresh token is single use (a refresh answers a new one); the 401 body.
"""

import secrets

from .http import BadRequest, HttpError, Response, json_response

DAY = 86400


class AuthState:
    def __init__(self, fake):
        self.fake = fake
        self.tokens = {}  # access token -> expiry (sandbox clock)
        self.refresh = {}  # refresh token -> chain expiry
        self.sessions = {}  # cookie value -> last use
        self.refused_logins = 0  # sign-ins refused "API Login Limit" (every seat taken)

    @property
    def settings(self):
        return self.fake.settings

    def now(self):
        return self.fake.sandbox.clock()

    # -- OAuth --------------------------------------------------------------------------------
    def token(self, req):
        form = req.form()
        grant = form.get("grant_type", "")
        if grant not in ("password", "refresh_token", "authorization_code", "implicit", "hybrid"):
            return _oauth_error("unsupported_grant_type")
        creds = self.fake.creds
        if form.get("client_id") != creds["client_id"] or form.get("client_secret") != creds["client_secret"]:
            return _oauth_error("invalid_client")
        if grant == "password":
            if form.get("username") != creds["username"] or form.get("password") != creds["password"]:
                return _oauth_error("invalid_grant", "invalid_username_or_password")
            scopes = form.get("scope", "").split()
            if "api" not in scopes:
                return _oauth_error("invalid_scope")
            chain_end = self.now() + float(self.settings["refresh_token_days"]) * DAY
            return self._issue(scopes, chain_end if "offline_access" in scopes else None)
        if grant == "refresh_token":
            chain_end = self.refresh.pop(form.get("refresh_token", ""), None)
            if chain_end is None or chain_end <= self.now():
                return _oauth_error("invalid_grant")
            return self._issue(["api", "offline_access"], chain_end)
        return _oauth_error("unsupported_grant_type")  # the interactive grants need a browser

    def _issue(self, scopes, chain_end):
        lifetime = int(self.settings["token_lifetime"])
        access = secrets.token_urlsafe(24)
        self.tokens[access] = self.now() + lifetime
        body = {"access_token": access, "expires_in": lifetime, "token_type": "Bearer", "scope": " ".join(scopes)}
        if chain_end is not None:
            refresh = secrets.token_urlsafe(24)
            self.refresh[refresh] = chain_end
            body["refresh_token"] = refresh
        return json_response(body)

    def expire_tokens(self):
        """Every access token expires now (refresh tokens stay valid): the clock/expire control."""
        for token in self.tokens:
            self.tokens[token] = 0
        return len(self.tokens)

    # -- cookie session -------------------------------------------------------------------------
    def login(self, req):
        body = req.json()
        if not isinstance(body, dict):
            raise BadRequest("login expects a JSON object")
        creds = self.fake.creds
        tenant = body.get("tenant") or body.get("company")
        if body.get("name") != creds["username"] or body.get("password") != creds["password"] or tenant != creds["company"]:
            raise HttpError("Invalid credentials. Please try again.", 400, {"message": "Invalid credentials. Please try again."})
        self._expire_idle()
        if len(self.sessions) >= int(self.settings["max_api_users"]):
            self.refused_logins += 1
            raise HttpError("API Login Limit", 429, {"message": "API Login Limit"})
        cookie = secrets.token_hex(16)
        self.sessions[cookie] = self.now()
        return Response(204, b"", headers={"Set-Cookie": f".ASPXAUTH={cookie}; path=/; HttpOnly"})

    def logout(self, req):
        self.sessions.pop(_cookie(req), None)
        return Response(204, b"")

    def _expire_idle(self):
        idle = float(self.settings["session_idle_seconds"])
        for cookie, used in list(self.sessions.items()):
            if used + idle <= self.now():
                del self.sessions[cookie]

    # -- every entity call ----------------------------------------------------------------------
    def check(self, req):
        """None when the request is signed in, else the 401 response."""
        header = req.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            expiry = self.tokens.get(header[7:].strip())
            if expiry is not None and expiry > self.now():
                return None
            return json_response({"message": "Authorization has been denied for this request."}, 401)
        cookie = _cookie(req)
        self._expire_idle()
        if cookie in self.sessions:
            self.sessions[cookie] = self.now()
            return None
        return json_response({"message": "You are not logged in."}, 401)


def _cookie(req):
    for part in req.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == ".ASPXAUTH":
            return value
    return ""


def _oauth_error(code, description=""):
    body = {"error": code}
    if description:
        body["error_description"] = description
    return json_response(body, 400)
