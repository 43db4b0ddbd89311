"""JD Edwards fake: error answers in the AIS Server's shapes, and JSON request bodies.

``ServiceErrorResponse`` (message, exception, exceptionId, errorText, status, timeStamp,
type, userDefinedErrorText) and the 444 "Invalid Token" body are documented
(shared/reference/jde.md, "Auth"); ``Rejected`` is an orchestration's business refusal.
"""

import secrets

from .http import BadRequest, Response, json_response

JAVA_EXCEPTION = "java.lang.Exception"
ALLOWED_HOSTS_MESSAGE = "Allowed Hosts on the HTML server is not configured to accept requests from this AIS Server"


class JdeError(Exception):
    """An answer in the AIS Server's own shape."""

    def __init__(self, status, body, content_type=None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.content_type = content_type

    def response(self):
        if isinstance(self.body, (dict, list)):
            return json_response(self.body, self.status)
        return Response(self.status, self.body, content_type=self.content_type)


class Rejected(Exception):
    """A definite business rejection by an orchestration (nothing written)."""


def truthy(value):
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


class ErrorsMixin:
    """Error bodies and request parsing shared by every JDE endpoint (needs ``_stamp``, ``settings``)."""

    # -- error bodies ---------------------------------------------------------------------------------
    def _service_error(self, message, *, user_text=None, exception=JAVA_EXCEPTION, error_type=None):
        """The documented ServiceErrorResponse shape."""
        body = {"message": message, "exception": exception, "exceptionId": secrets.token_hex(6),
                "errorText": message, "status": "ERROR", "timeStamp": self._stamp()}
        if error_type:
            body["type"] = error_type
        if user_text is not None:
            body["userDefinedErrorText"] = user_text
        return body

    def _invalid_token_body(self):
        return {"message": "Invalid Token", "exception": JAVA_EXCEPTION, "timeStamp": self._stamp()}

    def _allowed_hosts_body(self):
        return {"message": ALLOWED_HOSTS_MESSAGE, "exception": JAVA_EXCEPTION, "status": "ERROR",
                "timeStamp": self._stamp()}

    def _fail(self, status, message, **kwargs):
        return JdeError(status, self._service_error(message, **kwargs))

    def _check_host(self, req):
        allowed = self.settings.get("allowed_hosts")
        if allowed and req.client_ip not in allowed:
            raise JdeError(405, self._allowed_hosts_body())

    # -- request bodies -----------------------------------------------------------------------------------
    def _json_body(self, req, *, required=True):
        if not req.body:
            if required:
                raise self._fail(400, "Request body is empty: a JSON object is expected")
            return {}
        content_type = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise self._fail(415, f"Unsupported Media Type: {content_type or 'none'}; use application/json")
        try:
            body = req.json()
        except BadRequest as exc:
            raise self._fail(400, f"Invalid JSON in request: {exc.message}")
        if not isinstance(body, dict):
            raise self._fail(400, "Invalid JSON in request: an object is expected")
        return body
