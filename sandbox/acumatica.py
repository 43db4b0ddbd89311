"""A fake Acumatica instance: the contract-based REST API, its sign-in, and its license limits.

Routes (under ``/acumatica``), from shared/reference/acumatica.md:

    POST /identity/connect/token                       OAuth 2.0 (acumatica_auth)
    GET  /identity/.well-known/openid-configuration
    POST /entity/auth/login | /entity/auth/logout      session cookie (acumatica_auth)
    GET  /entity                                       endpoints published and the build version
    GET  /entity/swagger.json                          instance-level description (login, logout)
    GET  /entity/<Endpoint>/<Version>/swagger.json     the endpoint's description
    GET  /entity/<Endpoint>/<Version>/<Entity>         list: $filter $select $expand $top $skip
    GET  /entity/<Endpoint>/<Version>/<Entity>/<key>[/<key2>]   one record (``|`` may join keys)
    PUT  /entity/<Endpoint>/<Version>/<Entity>         upsert (If-Match / If-None-Match: *)

The version in the URL must be one the instance publishes (any other: 404, the ASP.NET "No
HTTP resource" body, UNCONFIRMED). ``GET /entity`` tells the endpoints and the running build
(shape UNCONFIRMED). Field values travel as ``{"value": ...}`` both ways; a bare value is
refused with 400 (UNCONFIRMED status). There is no idempotency key: a PUT without a key creates.

Configuration (``sandbox.config["acumatica"]``): ``requests_per_minute`` (0 = none, as on the
trial license; over it: 429), ``max_api_users`` (cookie seats, 2 as on the trial license),
``token_lifetime`` (3600 s), ``refresh_token_days`` (30), ``session_idle_seconds`` (600),
``endpoints`` (``{name: [versions]}``) and ``build_version``.
Control (``/_sandbox/acumatica/...``): ``GET <Entity>`` the raw records; ``POST expire_tokens``;
``POST employee`` ``{"EmployeeID", ...fields}`` changes (or adds) an employee as a person would
(``"deleted": true`` deletes it).
"""

import json
import re
import secrets
from collections import deque
from decimal import Decimal

from . import acumatica_data as data
from .acumatica_auth import AuthState
from .acumatica_schema import ENTITIES, Unwrapped, stamp, swagger, wrap_record
from .acumatica_store import GENERIC_ERROR, Rejected, Store
from .http import BadRequest, Fake, HttpError, NotFoundError, Response

ENTITY_PATH = re.compile(r"^/entity/(?P<endpoint>[^/]+)/(?P<version>[^/]+)(?:/(?P<rest>.*))?$")


def dumps(obj):
    """JSON with every Decimal written as a number with its exact digits (never through a float)."""
    nonce = secrets.token_hex(6)

    def default(value):
        if isinstance(value, Decimal):
            return f"@{nonce}:{format(value, 'f')}@"
        raise TypeError(type(value).__name__)

    text = json.dumps(obj, default=default)
    return re.sub(rf'"@{nonce}:(-?[0-9.]+)@"', r"\1", text).encode("utf-8")


def respond(status, obj, headers=None):
    return Response(status, dumps(obj), headers=headers, content_type="application/json")


class AcumaticaFake(Fake):
    name = "acumatica"
    default_config = {
        "requests_per_minute": 0,
        "max_api_users": 2,
        "token_lifetime": 3600,
        "refresh_token_days": 30,
        "session_idle_seconds": 600,
        "endpoints": data.ENDPOINTS,
        "build_version": data.BUILD_VERSION,
        "restart_expires_tokens": True,
    }

    def reset(self, seed, size, anchor):
        self.creds = data.credentials_for(seed)
        self.world = data.World(seed, size, anchor)
        self.store = Store(self, self.world)
        self.auth = AuthState(self)
        self.recent = deque()  # arrival times of the past minute (the license's per-minute count)
        self.refused_rate = 0  # requests refused 429 by the per-minute limit

    def credentials(self):
        return dict(self.creds)

    def limit_breaches(self):
        """Requests refused by the license's limits: per minute, and sign-ins beyond the API-user seats."""
        return {"requests_per_minute": self.refused_rate, "api_login_limit": self.auth.refused_logins}

    def restart(self):
        """An application restart signs every cookie session out; with ``restart_expires_tokens`` (this fake's
        choice, default true: where tokens live across a restart is not documented) access tokens end too, and
        a client must use its refresh token."""
        self.auth.sessions.clear()
        if self.settings.get("restart_expires_tokens", True):
            self.auth.expire_tokens()

    # -- routing --------------------------------------------------------------------------------
    def endpoint(self, req):
        path = req.path.rstrip("/")
        if path == "/identity/connect/token":
            return "token" if req.method == "POST" else None
        if path == "/identity/.well-known/openid-configuration":
            return "openid"
        if path in ("/entity/auth/login", "/entity/auth/logout"):
            return path.rsplit("/", 1)[1] if req.method == "POST" else None
        if path == "/entity":
            return "endpoints"
        if path == "/entity/swagger.json":
            return "swagger"
        match = ENTITY_PATH.match(path)
        if not match:
            return None
        rest = (match["rest"] or "").split("/")[0]
        if rest == "swagger.json":
            return "swagger"
        if rest in ENTITIES:
            return f"{req.method.lower()}:{rest}"
        return "entity"

    def handle(self, req):
        limited = self._over_limit()
        if limited is not None:
            return limited
        path = req.path.rstrip("/")
        if path == "/identity/connect/token":
            return self.auth.token(req)
        if path == "/identity/.well-known/openid-configuration":
            base = self.sandbox.system_url(self.name)
            return respond(
                200,
                {
                    "issuer": f"{base}/identity",
                    "token_endpoint": f"{base}/identity/connect/token",
                    "grant_types_supported": ["authorization_code", "implicit", "password", "hybrid", "refresh_token"],
                    "scopes_supported": ["api", "offline_access", "api:concurrent_access"],
                },
            )
        if path == "/entity/auth/login":
            return self.auth.login(req)
        if path == "/entity/auth/logout":
            return self.auth.logout(req)
        if path == "/entity":
            return respond(200, self._endpoints())
        if path == "/entity/swagger.json":
            return respond(
                200,
                {
                    "swagger": "2.0",
                    "info": {"title": "Acumatica", "version": self.settings["build_version"]},
                    "paths": {"/auth/login": {"post": {}}, "/auth/logout": {"post": {}}},
                },
            )
        match = ENTITY_PATH.match(path)
        if match is None:
            raise NotFoundError(f"no resource {path}")
        endpoint, version = match["endpoint"], match["version"]
        if version not in (self.settings["endpoints"] or {}).get(endpoint, []):
            uri = f"{self.sandbox.system_url(self.name)}{req.path}"
            return respond(404, {"message": f"No HTTP resource was found that matches the request URI '{uri}'."})
        denied = self.auth.check(req)
        if denied is not None:
            return denied
        parts = [p for p in (match["rest"] or "").split("/") if p]
        if parts == ["swagger.json"]:
            return respond(200, swagger(endpoint, version, self.sandbox.system_url(self.name)))
        if not parts or parts[0] not in ENTITIES:
            raise NotFoundError(f"no entity {parts[0] if parts else ''!r} in {endpoint}/{version}")
        entity, keys = parts[0], parts[1:]
        if len(keys) == 1 and "|" in keys[0]:
            keys = keys[0].split("|")
        base = f"{self.sandbox.system_url(self.name)}/entity/{endpoint}/{version}/{entity}"
        if req.method == "GET":
            return self._get(req, entity, keys, base)
        if req.method == "PUT" and not keys:
            return self._put(req, entity, base)
        if req.method == "POST" and not keys:
            return respond(406, {"message": "Use PUT to create or update a record."})
        raise HttpError("method not allowed", 405, {"message": f"The requested resource does not support {req.method}."})

    def _endpoints(self):
        base = self.sandbox.system_url(self.name)
        return {
            "version": {"acumaticaBuildVersion": self.settings["build_version"]},
            "endpoints": [
                {"name": name, "version": version, "href": f"{base}/entity/{name}/{version}/"}
                for name, versions in (self.settings["endpoints"] or {}).items()
                for version in versions
            ],
        }

    def _over_limit(self):
        limit = int(self.settings.get("requests_per_minute") or 0)
        now = self.sandbox.clock()
        while self.recent and self.recent[0] <= now - 60:
            self.recent.popleft()
        if limit and len(self.recent) >= limit:
            self.refused_rate += 1
            return respond(429, {"message": "The number of API requests per minute exceeds the limit of the license."})
        self.recent.append(now)
        return None

    # -- entities --------------------------------------------------------------------------------
    def _view_args(self, req):
        select = req.arg("$select")
        expand = req.arg("$expand")
        return {
            "select": {s.strip() for s in select.split(",")} if select else None,
            "expand": {e.strip() for e in expand.split(",")} if expand else set(),
        }

    def _get(self, req, entity, keys, base):
        view = self._view_args(req)
        if keys:
            record = self.store.by_keys(entity, keys)
            if record is None:
                raise HttpError("not found", 404, {"message": "No entity satisfies the condition."})
            return respond(200, wrap_record(entity, record, links_base=base, **view))
        try:
            top = int(req.arg("$top")) if req.arg("$top") not in (None, "") else None
            skip = int(req.arg("$skip") or 0)
        except ValueError:
            raise BadRequest("$top and $skip must be integers") from None
        rows = self.store.select(entity, filter_text=req.arg("$filter", ""), top=top, skip=skip)
        return respond(200, [wrap_record(entity, r, links_base=base, **view) for r in rows])

    def _put(self, req, entity, base):
        try:
            body = json.loads(req.body or b"null", parse_float=Decimal)
        except ValueError:
            raise BadRequest("the body is not JSON", body={"message": "The request is invalid."}) from None
        if not isinstance(body, dict):
            raise BadRequest("a record is a JSON object", body={"message": "The request is invalid."})
        try:
            record, _ = self.store.put(
                entity, body, if_match=req.headers.get("if-match") == "*", if_none_match=req.headers.get("if-none-match") == "*"
            )
        except Unwrapped as exc:
            return respond(400, {"message": "The request is invalid.", "modelState": {"entity": [str(exc)]}})
        except (ValueError, ArithmeticError) as exc:
            return respond(400, {"message": "The request is invalid.", "modelState": {"entity": [str(exc)]}})
        except Rejected as exc:
            return respond(422, self._rejected_body(entity, body, exc))
        view = self._view_args(req)
        view["expand"] = view["expand"] | set(ENTITIES[entity]["details"])
        return respond(200, wrap_record(entity, record, links_base=base, **view))

    def _rejected_body(self, entity, body, exc):
        out = json.loads(dumps(body))
        out["error"] = GENERIC_ERROR
        for field, message in exc.errors.items():
            cell = out.get(field) if isinstance(out.get(field), dict) else {}
            out[field] = {**cell, "error": message}
        for index, problems in exc.line_errors.items():
            details = out.get("Details") or []
            if index < len(details):
                for field, message in problems.items():
                    cell = details[index].get(field) if isinstance(details[index].get(field), dict) else {}
                    details[index][field] = {**cell, "error": message}
        return out

    def fault_body(self, status, req):
        if status == 401:
            return {"message": "You are not logged in."}
        if status == 429:
            return {"message": "The number of API requests per minute exceeds the limit of the license."}
        if status >= 500:
            return {
                "message": "An error has occurred.",
                "exceptionMessage": "injected fault",
                "exceptionType": "System.Exception",
                "stackTrace": "",
            }
        return {"message": f"HTTP {status}"}

    # -- control ---------------------------------------------------------------------------------
    def control(self, req, subpath):
        parts = [p for p in subpath.split("/") if p]
        if parts == ["expire_tokens"] and req.method == "POST":
            return respond(200, {"expired": self.auth.expire_tokens()})
        if parts == ["employee"] and req.method == "POST":
            return respond(200, self._control_employee(req.json()))
        if len(parts) == 1 and parts[0] in ENTITIES and req.method == "GET":
            return respond(200, self.world.records[parts[0]])
        raise NotFoundError(f"acumatica has no control endpoint {req.method} {subpath!r}")

    def _control_employee(self, body):
        if not isinstance(body, dict) or not body.get("EmployeeID"):
            raise BadRequest('employee expects {"EmployeeID": ..., fields...}')
        record = self.store.by_keys("Employee", [body["EmployeeID"]])
        if body.get("deleted") and record is not None:  # deleted outright, as a person can in the Employees form
            self.world.records["Employee"].remove(record)
            return {"deleted": body["EmployeeID"]}
        if record is None:
            record = {
                "id": self.world.new_id(),
                "EmployeeID": body["EmployeeID"],
                "Status": "Active",
                "ContactInfo": {},
                "EmployeeSettings": {},
            }
            self.world.records["Employee"].append(record)
        for key, value in body.items():
            if isinstance(value, dict):
                record[key] = {**(record.get(key) or {}), **value}
            else:
                record[key] = value
        record["LastModifiedDateTime"] = stamp(self.sandbox.clock())
        self.store.changes += 1  # edited in place: the store's indexes are built again
        return record
