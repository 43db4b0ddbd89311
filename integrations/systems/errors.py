"""One small error hierarchy shared by every external system.

Errors are data: each carries a stable ``code`` (shown on held batches and in alerts),
a ``message`` a finance user can act on and a ``help`` text saying how to fix it.
Whether a failed call may already have changed the remote system is encoded in the
class, because that decides between retrying and reconciling.

A message never carries a secret: it is scrubbed (``portal.scrub``) when the error is made,
so every place it lands later (batches, cycles, audit, alerts) gets the masked text.
"""

from portal.scrub import scrub


class IntegrationError(Exception):
    """Base class. ``definite`` is True when the remote system certainly did not apply
    the request (safe to retry); False when it may have (reconcile before any re-post)."""

    default_code = "INTEGRATION-ERROR"
    default_help = "Read the message, fix the cause in the portal or in the other system, then retry the batch."
    definite = True
    retryable = False

    def __init__(self, message, *, code=None, help="", retry_after=None, status=None):
        message = scrub(message)
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.help = help or self.default_help
        self.retry_after = retry_after
        self.status = status

    def as_dict(self):
        return {"code": self.code, "message": self.message, "help": self.help}


class AuthError(IntegrationError):
    default_code = "AUTH-FAILED"
    default_help = "Check the connection's credentials (Integrations > Connections), run Check connection, then retry."


class RateLimited(IntegrationError):
    default_code = "RATE-LIMITED"
    default_help = "The system asked us to slow down; the portal retries by itself."
    retryable = True


class NotFound(IntegrationError):
    default_code = "NOT-FOUND"


class VersionMismatch(IntegrationError):
    default_code = "VERSION-MISMATCH"


class HostNotAllowed(IntegrationError):
    default_code = "HOST-NOT-ALLOWED"
    default_help = "Allow the connector's egress IP address in the system's allowed hosts, then retry."


class ValidationRejected(IntegrationError):
    """The target refused the document for a reason in its content: hold it."""

    default_code = "REJECTED"


class Unavailable(IntegrationError):
    """The request did not take effect (connection refused, a 5xx on a read...): retry later."""

    default_code = "UNAVAILABLE"
    default_help = "The system could not be reached or was busy; the portal retries by itself."
    retryable = True


class OutcomeUnknown(IntegrationError):
    """The request may have been applied (timeout or reset after sending, 5xx on a write)."""

    default_code = "OUTCOME-UNKNOWN"
    default_help = "The portal searches the target for the document before any new attempt."
    definite = False
