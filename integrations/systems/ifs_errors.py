"""How the IFS client reads IFS answers: OData error bodies and Keycloak's, onto the shared error hierarchy.

See ``integrations.systems.ifs`` for the codes shown on held batches.
"""

import json

from .errors import AuthError, NotFound, OutcomeUnknown, RateLimited, Unavailable, ValidationRejected
from .http import parse_retry_after

AUTH_HELP = (
    "Check the IFS connection's client_id, client_secret and realm (an IAM client with service accounts "
    "enabled), run 'Check connection', then the flow resumes by itself."
)


class TokenRejected(AuthError):
    """HTTP 401 on an API call: the bearer token expired or was revoked; the call was not processed."""


class EtagStale(ValidationRejected):
    """HTTP 412: the If-Match ETag no longer matches; nothing was written."""


def classify(client, response, *, idempotent):
    """The shared error hierarchy for an IFS answer (IAM or OData), or None when it succeeded."""
    status = response.status_code
    if status < 400:
        return None
    code, said = _error(response)
    said = client.scrub(said)
    suffix = f": {said}" if said else ""
    at_iam = "/protocol/openid-connect/" in str(getattr(response, "url", "") or "")
    if at_iam and status in (400, 401, 404):
        if status == 404:
            return AuthError(
                f"IFS IAM has no realm {client.realm}{suffix}",
                code="IFS-REALM-UNKNOWN",
                status=status,
                help="Set the connection's realm to the tenant's IAM namespace, then run 'Check connection'.",
            )
        return AuthError(
            f"IFS IAM refused client {client.client_id} in realm {client.realm} (HTTP {status}){suffix}",
            code="IFS-AUTH",
            status=status,
            help=AUTH_HELP,
        )
    if status == 401:
        return TokenRejected(f"IFS answered HTTP 401 (access token expired or revoked){suffix}", code="IFS-401", status=status)
    if status == 403:
        return AuthError(
            f"IFS client {client.client_id} may not make this call (HTTP 403){suffix}",
            code="IFS-403-FORBIDDEN",
            status=status,
            help="Grant the IAM client's service user the permission sets for the projections used "
            "(code part values, vouchers), then retry.",
        )
    if status == 429:
        return RateLimited(
            f"IFS asked the connector to slow down (HTTP 429){suffix}",
            code="IFS-429",
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status == 412:
        return EtagStale(f"IFS: the record changed since it was read (HTTP 412){suffix}", code="IFS-412", status=status)
    if code == "DATABASE_ERROR":
        return ValidationRejected(
            f"IFS rejected it: {said}",
            code="IFS-REJECTED",
            status=status,
            help="Correct what IFS names (mapping, code part value, amounts or date), then retry the batch.",
        )
    if code == "ODP_MISSING_PRECONDITION":
        return ValidationRejected(
            f"IFS requires an If-Match header for this call{suffix}",
            code="IFS-MISSING-PRECONDITION",
            status=status,
            help="This is a defect in the connector; report it to support.",
        )
    if status == 404:
        return NotFound(
            f"IFS: not found (HTTP 404){suffix}",
            code="IFS-404",
            status=status,
            help="Check the connection's base URL and the projection options (voucher_projection, "
            "code_part_projection, voucher_template).",
        )
    if status < 500:
        return ValidationRejected(f"IFS refused the request (HTTP {status}){suffix}", code=f"IFS-{status}", status=status)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if idempotent or code == "MI_MODIFIED_ERROR":  # metadata cache refreshed: nothing done, retry [3P]
        return Unavailable(f"IFS answered HTTP {status}{suffix}", code=f"IFS-{status}", status=status, retry_after=retry_after)
    return OutcomeUnknown(
        f"IFS answered HTTP {status} after the voucher was sent{suffix}; it may or may not have been written",
        code="IFS-OUTCOME-UNKNOWN",
        status=status,
    )


def _error(response):
    """(code, message) from an OData error body or Keycloak's ``error``/``error_description``."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")[:500]
    if isinstance(error, str):
        return error, str(body.get("error_description") or error)[:500]
    return "", ""
