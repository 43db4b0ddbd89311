"""Minimal HTTP primitives for the fakes: a parsed request, a response, errors.

``Request`` is built from a WSGI environ; ``path`` is the part after the
``/<system>`` prefix (e.g. ``/jderest/v2/tokenrequest``) and header names are
lower-cased. ``Response`` takes bytes, str, or a dict/list (serialized as JSON).

``Fake`` is an optional base class for a system's fake: it documents the interface
the server dispatches to and gives harmless defaults for the optional parts.
"""

import json
from urllib.parse import parse_qs

STATUS_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 207: "Multi-Status",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 412: "Precondition Failed", 413: "Payload Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 429: "Too Many Requests", 444: "No Response",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


class HttpError(Exception):
    """Raised by a fake or the server to answer ``status`` with a JSON ``{"error": message}`` body."""

    status = 500

    def __init__(self, message, status=None, body=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.body = body

    def response(self):
        return Response(self.status, self.body if self.body is not None else {"error": self.message})


class BadRequest(HttpError):
    status = 400


class NotFoundError(HttpError):
    status = 404


class DropConnection(Exception):  # noqa: N818 - a signal, not an error
    """Raised to close the client's socket without writing any response."""


class Request:
    def __init__(self, method, path, query=None, headers=None, body=b"", client_ip="127.0.0.1"):
        self.method = method.upper()
        self.path = path
        self.query = query or {}
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body or b""
        self.client_ip = client_ip
        self._form = None

    @classmethod
    def from_environ(cls, environ, path=None):
        headers = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = value
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        raw_path = environ.get("PATH_INFO", "/")
        # PEP 3333 hands PATH_INFO over as latin-1 decoded bytes: recover the UTF-8 text.
        try:
            raw_path = raw_path.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        return cls(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path if path is not None else raw_path,
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=headers,
            body=body,
            client_ip=environ.get("REMOTE_ADDR", ""),
        )

    def arg(self, name, default=None):
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        if not self.body:
            raise BadRequest("request body is empty; JSON expected")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}")

    def form(self):
        """The body as application/x-www-form-urlencoded fields (first value of each)."""
        if self._form is None:
            try:
                text = self.body.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("form body is not UTF-8")
            self._form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        return self._form

    def __repr__(self):
        return f"<Request {self.method} {self.path}>"


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type=None):
        self.status = int(status)
        self.headers = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            body = body.encode("utf-8")
            content_type = content_type or "text/plain; charset=utf-8"
        elif body is None:
            body = b""
        self.body = bytes(body)
        if content_type and not any(k.lower() == "content-type" for k in self.headers):
            self.headers["Content-Type"] = content_type
        self.drop_after = False  # set by the server when a drop_after fault fired

    @property
    def status_line(self):
        return f"{self.status} {STATUS_REASONS.get(self.status, 'Unknown')}"

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {len(self.body)} bytes>"


def json_response(obj, status=200, headers=None):
    return Response(status, json.dumps(obj).encode("utf-8"), headers=headers, content_type="application/json")


class Fake:
    """Base class for a system's fake (subclassing it is optional; the server duck-types).

    Required: ``name`` (the URL prefix), ``reset``, ``endpoint``, ``handle``.
    Optional hooks the server looks for: ``credentials()``, ``control(req, subpath)``,
    ``fault_body(status, req)`` (the vendor's own error body for an injected status),
    ``restart()`` (what a server restart does, e.g. invalidate tokens) and
    ``default_config`` (merged into ``sandbox.config[name]``).
    """

    name = "fake"
    default_config = {}

    def __init__(self, sandbox):
        self.sandbox = sandbox

    @property
    def settings(self):
        """This fake's live configuration: ``sandbox.config[name]``."""
        return self.sandbox.config.setdefault(self.name, {})

    def reset(self, seed, size, anchor):
        pass

    def endpoint(self, req):
        return None

    def handle(self, req):
        return json_response({"error": "not implemented"}, 501)

    def credentials(self):
        return {}

    def control(self, req, subpath):
        raise NotFoundError(f"{self.name} has no control endpoint {subpath!r}")

    def fault_body(self, status, req):
        return None

    def restart(self):
        pass
