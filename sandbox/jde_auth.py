"""JD Edwards fake: AIS tokens (tokenrequest, validate, logout; v3 jde-login and friends).

Per shared/reference/jde.md "Auth": a token is bound to its device name, else to the
caller's IP; an unknown, expired or logged-out token answers HTTP 444 "Invalid Token".
"""

import base64
import json
import secrets
from urllib.parse import quote

from .http import json_response
from .jde_errors import JdeError, truthy


class AuthMixin:
    """Token issue and checks over the fake's ``tokens`` and ``_creds``."""

    # -- tokens ---------------------------------------------------------------------------------------
    def _lifetime(self):
        return float(self.settings.get("token_lifetime") or 1800)

    def _check_credentials(self, username, password, environment, role):
        expected = self._creds
        environment = environment or expected["environment"]
        role = role or expected["role"]
        ok = (str(username or "").upper() == expected["username"].upper() and password == expected["password"]
              and str(environment).upper() == expected["environment"].upper()
              and str(role).upper() in ("*ALL", expected["role"].upper()))
        if not ok:
            raise JdeError(403, self._service_error(
                "Authorization Failure: the user, password, environment or role is not valid"
                + self._echo([username, password, environment, role])))
        return expected["username"], expected["environment"], str(role).upper()

    def _echo(self, values):
        """The submitted credentials as a careless server would quote them (``echo_credentials_in_errors``)."""
        mode = self.settings.get("echo_credentials_in_errors")
        values = [str(v or "") for v in values]
        if mode in ("json", "json-utf8"):
            return f"; request was {json.dumps(values, ensure_ascii=mode == 'json')}"
        if mode == "url":
            return "; request was /" + "/".join(quote(v, safe="") for v in values)
        return ""

    def _tokenrequest(self, req, route):
        header_auth = req.headers.get("authorization", "")
        if header_auth.lower().startswith("basic "):
            try:
                username, _, password = base64.b64decode(header_auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise self._fail(400, "Invalid Authorization header")
            body = self._json_body(req, required=False) if req.body else {}
            environment = body.get("environment") or req.headers.get("jde-ais-auth-environment")
            role = body.get("role") or req.headers.get("jde-ais-auth-role")
            device = body.get("deviceName") or req.headers.get("jde-ais-auth-device")
        else:
            if route.endpoint == "tokenrequest" and req.method == "GET":
                raise JdeError(403, self._service_error("Authorization Failure: credentials are required"))
            body = self._json_body(req)
            username, password = body.get("username"), body.get("password")
            environment, role, device = body.get("environment"), body.get("role"), body.get("deviceName")
        user, environment, role = self._check_credentials(username, password, environment, role)
        token = "044" + base64.b64encode(secrets.token_bytes(60)).decode("ascii")
        issued = self.sandbox.clock()
        self.tokens[token] = {"user": user, "environment": environment, "role": role, "device": device or None,
                              "ip": req.client_ip, "issued": issued, "expires": issued + self._lifetime()}
        host = req.headers.get("host", "localhost")
        return json_response({
            "username": user, "environment": environment, "role": role, "jasserver": f"http://{host}/jde",
            "userInfo": {"token": token, "langPref": "E", "locale": "en", "dateFormat": "MDE",
                         "simpleDateFormat": "MM/dd/yyyy", "decimalFormat": ".", "addressNumber": 7001,
                         "alphaName": "ML Connector Service", "appsRelease": "E920", "country": " ", "username": user},
            "userAuthorized": False, "version": None, "poStringJSON": None, "altPoStringJSON": None,
            "aisSessionCookie": f"{secrets.token_urlsafe(24)}!{int(issued * 1000)}", "adminAuthorized": False,
            "passwordAboutToExpire": -1, "envColor": None, "machineName": host.split(":")[0],
        })

    def _token_from(self, req, body):
        return req.headers.get("jde-ais-auth") or (body.get("token") if isinstance(body, dict) else None)

    def _session(self, req, body, token=None):
        """The live token's session, or 444. Also takes Basic auth as a temporary session."""
        token = token or self._token_from(req, body)
        if not token:
            header_auth = req.headers.get("authorization", "")
            if header_auth.lower().startswith("basic "):
                try:
                    username, _, password = base64.b64decode(header_auth[6:].strip()).decode("utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    raise JdeError(444, self._invalid_token_body())
                user, environment, role = self._check_credentials(
                    username, password, req.headers.get("jde-ais-auth-environment"), req.headers.get("jde-ais-auth-role"))
                return {"user": user, "environment": environment, "role": role, "temporary": True}
            raise JdeError(444, self._invalid_token_body())
        session = self.tokens.get(token)
        if session is None:
            raise JdeError(444, self._invalid_token_body())
        if self.sandbox.clock() >= session["expires"]:
            del self.tokens[token]
            raise JdeError(444, self._invalid_token_body())
        device = req.headers.get("jde-ais-auth-device") or (body.get("deviceName") if isinstance(body, dict) else None)
        if session["device"]:
            if device and device != session["device"]:
                raise JdeError(444, self._invalid_token_body())
        elif session["ip"] != req.client_ip:
            raise JdeError(444, self._invalid_token_body())
        return session

    def _validate(self, req, route):
        body = self._json_body(req, required=False)
        token = body.get("token") or req.headers.get("jde-ais-auth")
        session = self._session(req, body, token=token)
        if truthy(body.get("touch")):
            session["expires"] = self.sandbox.clock() + self._lifetime()
        return json_response({"isValidSession": True})

    def _logout(self, req, route):
        body = self._json_body(req, required=False)
        token = body.get("token") or req.headers.get("jde-ais-auth")
        self._session(req, body, token=token)
        self.tokens.pop(token, None)
        return json_response({"status": "Success"})

    def live_tokens(self):
        now = self.sandbox.clock()
        return sum(1 for s in self.tokens.values() if s["expires"] > now)
