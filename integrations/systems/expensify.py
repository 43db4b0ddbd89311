"""Expensify Integration Server client (the "Classic" API).

Facts from shared/reference/expensify.md (sources: integrations.expensify.com
Integration-Server docs and the Expensify-API help article; third-party clients where
marked there). Every call is one form-encoded POST of a ``requestJobDescription`` JSON
carrying the credentials; errors come back as ``{"responseCode", "responseMessage"}``
(usually with HTTP 200: the body code is the one that counts), except that a ``file``
job answers a file name as plain text and ``download`` answers the raw file.

Exports use this client's own FreeMarker template, which emits a JSON array with all
money as integer cents (``?c``), strings through ``?json_string``, booleans through
``?string("true","false")`` and every optional value guarded with ``??``; ids are
emitted as strings whether Expensify holds them as numbers or strings.

Robust to the UNCONFIRMED points: rate limiting is recognised from an HTTP 429 and from
a body ``responseCode`` 429 (no Retry-After is documented, so 10 s is assumed when the
header is absent, as third-party clients back off); bad credentials from a body 401/403,
an HTTP 401/403, or a 500 "Not authorized to authenticate" message; policy tags in
either the flat or the "levels" shape (flat tags become one level named "Tag").
The per-credential limiter (``options["rate_limit"]``, default 5 per 10 s and 20 per
60 s, the strictest published figures) keeps every worker of a connection under the limit.
"""

import json
import time

from .errors import AuthError, IntegrationError, NotFound, OutcomeUnknown, RateLimited, Unavailable, ValidationRejected
from .http import HttpClient, parse_retry_after
from .limits import RateLimiter

JOB_PATH = "Integration-Server/ExpensifyIntegrations"
DEFAULT_RATE_LIMIT = [[5, 10], [20, 60]]
ALL_STATES = ("OPEN", "SUBMITTED", "APPROVED", "REIMBURSED", "ARCHIVED")
RATE_LIMIT_BACKOFF = 10.0  # seconds, when Expensify sends no Retry-After
MARK_CHUNK = 1000  # report ids per markAsExported job
CREDENTIALS_HELP = ("Check the partnerUserID and partnerUserSecret on this connection. They are issued at "
                    "expensify.com/tools/integrations; generating a new pair there revokes the old secret, so "
                    "paste the new pair into the connection and run 'Check connection'.")


def _text(expr):
    return f'<#if {expr}??>"${{{expr}?json_string}}"<#else>null</#if>'


def _ident(expr):
    return (f'<#if {expr}??>"<#if {expr}?is_number>${{{expr}?c}}<#else>${{{expr}?json_string}}</#if>"'
            f"<#else>null</#if>")


def _number(expr):
    return f"<#if {expr}??>${{{expr}?c}}<#else>null</#if>"


def _boolean(expr):
    return f'<#if {expr}??>${{{expr}?string("true","false")}}<#else>null</#if>'


REPORT_FIELDS = [
    ("reportID", _ident), ("reportName", _text), ("status", _text), ("currency", _text), ("total", _number),
    ("created", _text), ("submitted", _text), ("approved", _text), ("policyID", _ident), ("policyName", _text),
    ("accountEmail", _text), ("managerEmail", _text),
]
EXPENSE_FIELDS = [
    ("transactionID", _ident), ("merchant", _text), ("amount", _number), ("convertedAmount", _number),
    ("currency", _text), ("category", _text), ("categoryGlCode", _text), ("tag", _text), ("comment", _text),
    ("created", _text), ("reimbursable", _boolean), ("cardID", _ident), ("bank", _text), ("cardNumber", _text),
    ("mcc", _ident),
]


def _object(var, fields, extra=""):
    parts = [f'"{name}":{render(f"{var}.{name}")}' for name, render in fields]
    return "{" + ",".join(parts) + extra + "}"


EXPORT_TEMPLATE = (
    "<#-- ml-connector export: one JSON array, money in integer cents -->\n"
    "[<#list reports as report>"
    + _object("report", REPORT_FIELDS, ',"transactions":[<#list report.transactionList as expense>'
              + _object("expense", EXPENSE_FIELDS) + "<#sep>,</#sep></#list>]")
    + "<#sep>,</#sep></#list>]"
)
MARK_TEMPLATE = "${reports?size}"

STRING_EXPENSE_FIELDS = ("merchant", "currency", "category", "categoryGlCode", "tag", "comment", "created", "cardID",
                         "bank", "cardNumber", "mcc")


class ExpensifyClient(HttpClient):
    system = "expensify"

    def __init__(self, connection):
        super().__init__(connection, system="expensify")
        self.partner_user_id = str(self.credentials.get("partnerUserID") or "")
        self._secret = str(self.credentials.get("partnerUserSecret") or "")
        if not self.partner_user_id or not self._secret:
            raise AuthError("The Expensify connection has no partnerUserID or partnerUserSecret.",
                            code="EXPENSIFY-AUTH-MISSING", help=CREDENTIALS_HELP)
        windows = self.options.get("rate_limit", DEFAULT_RATE_LIMIT)
        if windows:
            self.limiter = RateLimiter(f"expensify:{self.base_url}:{self.partner_user_id}", windows)
        self.download_polls = int(self.options.get("download_polls", 3))
        self.download_poll_seconds = float(self.options.get("download_poll_seconds", 1.0))

    def __repr__(self):
        return f"<ExpensifyClient {self.base_url} partnerUserID={self.partner_user_id!r}>"

    # -- public API ----------------------------------------------------------------------
    def export_reports(self, *, states=("APPROVED", "REIMBURSED"), approved_after=None, start_date=None,
                       exclude_label=None, report_ids=None, policy_ids=None, limit=500):
        """One ``file`` job plus one ``download``; returns normalized report dicts in
        Expensify's order (approved date, then report id). ``states=None``: every state."""
        if report_ids is not None and not list(report_ids):
            return []
        if not report_ids and start_date is None and approved_after is None:
            raise ValueError("Expensify exports need report_ids, start_date or approved_after")
        filters = {}
        if report_ids:
            filters["reportIDList"] = ",".join(str(i) for i in report_ids)
        if start_date is not None:
            filters["startDate"] = start_date.isoformat()
        if approved_after is not None:
            filters["approvedAfter"] = approved_after.isoformat()
        if exclude_label:
            filters["markedAsExported"] = exclude_label
        if policy_ids:
            filters["policyIDList"] = ",".join(str(i) for i in policy_ids)
        job = {
            "type": "file",
            "onReceive": {"immediateResponse": ["returnRandomFileName"]},
            "inputSettings": {"type": "combinedReportData", "reportState": ",".join(states or ALL_STATES),
                              "limit": str(int(limit)), "filters": filters},
            "outputSettings": {"fileExtension": "json", "fileBasename": "mlconnector"},
        }
        file_name = self._file_name(self._job(job, template=EXPORT_TEMPLATE))
        rows = self._download_json(file_name)
        return [self._normalize_report(row) for row in rows]

    def mark_exported(self, report_ids, label):
        """Add ``label`` to each report (a ``file`` job filtered by reportIDList whose
        ``onFinish`` is markAsExported); one call per 1000 reports."""
        ids = [str(i) for i in report_ids]
        if not label:
            raise ValueError("mark_exported needs a label")
        for start in range(0, len(ids), MARK_CHUNK):
            chunk = ids[start:start + MARK_CHUNK]
            job = {
                "type": "file",
                "onReceive": {"immediateResponse": ["returnRandomFileName"]},
                "inputSettings": {"type": "combinedReportData", "reportState": ",".join(ALL_STATES),
                                  "filters": {"reportIDList": ",".join(chunk)}},
                "outputSettings": {"fileExtension": "txt", "fileBasename": "mlconnectormark"},
                "onFinish": [{"actionName": "markAsExported", "label": label}],
            }
            self._file_name(self._job(job, template=MARK_TEMPLATE))

    def get_policies(self, policy_ids, fields=("categories", "tags", "employees")):
        """``{policyID: info}``; tags are always in the levels shape ``[{"name", "tags": [...]}]``."""
        ids = [str(i) for i in policy_ids]
        if not ids:
            return {}
        job = {"type": "get", "inputSettings": {"type": "policy", "policyIDList": ids, "fields": list(fields)}}
        info = self._json(self._job(job)).get("policyInfo") or {}
        for detail in info.values():
            if isinstance(detail, dict) and isinstance(detail.get("tags"), list):
                detail["tags"] = _tag_levels(detail["tags"])
        return info

    def list_policies(self):
        job = {"type": "get", "inputSettings": {"type": "policyList", "adminOnly": True}}
        return list(self._json(self._job(job)).get("policyList") or [])

    def update_employees(self, employees, *, dry_run=False):
        """The advanced employee updater; ``employees`` are records with employeeEmail,
        managerEmail, employeeID, policyID (+ optional fields). Returns Expensify's answer."""
        job = {"type": "update", "dataSource": "request", "inputSettings": {"type": "employees", "entity": "generic"}}
        if dry_run:
            job["dry-run"] = True
        # The help article's {"Employees": [...]} form (a bare array is the [3P] alternative).
        return self._json(self._job(job, data=json.dumps({"Employees": list(employees)})))

    # -- transport -----------------------------------------------------------------------------
    def _job(self, job, *, idempotent=True, **fields):
        job = dict(job, credentials={"partnerUserID": self.partner_user_id, "partnerUserSecret": self._secret})
        form = {"requestJobDescription": json.dumps(job), **fields}
        return self.request("POST", JOB_PATH, idempotent=idempotent, data=form)

    def classify(self, response, *, idempotent):
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        body = _error_body(response)
        if body is not None:
            try:
                code = int(body.get("responseCode"))
            except (TypeError, ValueError):
                code = status
            if code in (200, 207):
                if status < 400:
                    return None
                code = status
            return self._error(code, str(body.get("responseMessage") or ""), status, retry_after, idempotent)
        if status == 429:
            return self._error(429, "", status, retry_after, idempotent)
        if status in (401, 403):
            return self._error(status, "", status, retry_after, idempotent)
        return self.default_classify(response, idempotent=idempotent)

    def _error(self, code, message, status, retry_after, idempotent):
        message = self.scrub(message)
        said = f" ({message})" if message else ""
        if code == 429 or status == 429:
            return RateLimited(f"Expensify rate-limited partnerUserID {self.partner_user_id}{said}",
                               code="EXPENSIFY-RATE-LIMITED", retry_after=retry_after or RATE_LIMIT_BACKOFF,
                               status=status,
                               help="Expensify allows about 5 requests per 10 seconds per credential; the "
                                    "connector waits and retries. Lower the connection's rate_limit option "
                                    "if this keeps happening.")
        if code in (401, 403) or (code >= 500 and "not authorized to authenticate" in message.lower()):
            return AuthError(f"Expensify refused the credentials of partnerUserID {self.partner_user_id}"
                             f" (responseCode {code}{': ' + message if message else ''})",
                             code="EXPENSIFY-AUTH", help=CREDENTIALS_HELP, status=status)
        if code == 404:
            return NotFound(f"Expensify: not found (responseCode 404{': ' + message if message else ''})",
                            code="EXPENSIFY-NOT-FOUND", status=status,
                            help="Check that the policy or file exists and that this partnerUserID can see it.")
        if 400 <= code < 500:
            return ValidationRejected(f"Expensify rejected the request (responseCode {code}"
                                      f"{': ' + message if message else ''})",
                                      code=f"EXPENSIFY-{code}", status=status)
        if code >= 500 and "template" in message.lower():
            return IntegrationError(f"Expensify could not render the export template (responseCode {code}: "
                                    f"{message})", code="EXPENSIFY-TEMPLATE", status=status,
                                    help="The connector's export template was refused; report this to support.")
        if code >= 500:
            text = f"Expensify answered responseCode {code}{said}"
            if idempotent:
                return Unavailable(text, code=f"EXPENSIFY-{code}", retry_after=retry_after, status=status)
            return OutcomeUnknown(text + "; the request may have been applied", code=f"EXPENSIFY-{code}", status=status)
        return IntegrationError(f"Expensify answered responseCode {code}{said}", code=f"EXPENSIFY-{code}",
                                status=status)

    def _json(self, response):
        try:
            body = response.json()
        except ValueError:
            raise IntegrationError("Expensify answered something that is not JSON", code="EXPENSIFY-BAD-ANSWER",
                                   status=response.status_code)
        if not isinstance(body, dict):
            raise IntegrationError("Expensify answered an unexpected JSON shape", code="EXPENSIFY-BAD-ANSWER")
        return body

    def _file_name(self, response):
        name = response.text.strip()
        if not name or len(name) > 255 or any(c in name for c in "\n\r/\\{"):
            raise IntegrationError(f"Expensify did not answer a file name ({name[:80]!r})", code="EXPENSIFY-BAD-ANSWER")
        return name

    def _download_json(self, file_name):
        job = {"type": "download", "fileName": file_name, "fileSystem": "integrationServer"}
        polls = max(1, self.download_polls)
        for attempt in range(1, polls + 1):
            try:
                response = self._job(job)
            except NotFound:
                if attempt == polls:
                    raise
                time.sleep(self.download_poll_seconds)  # the file may not be ready yet
                continue
            if response.content.strip():
                break
            if attempt == polls:
                raise Unavailable(f"Expensify's export file {file_name} stayed empty", code="EXPENSIFY-FILE-NOT-READY")
            time.sleep(self.download_poll_seconds)
        try:
            rows = json.loads(response.content)
        except ValueError as exc:
            raise IntegrationError(f"Expensify's export file {file_name} is not valid JSON ({exc})",
                                   code="EXPENSIFY-BAD-EXPORT")
        if not isinstance(rows, list):
            raise IntegrationError(f"Expensify's export file {file_name} is not a JSON array", code="EXPENSIFY-BAD-EXPORT")
        return rows

    # -- normalization -------------------------------------------------------------------------
    def _normalize_report(self, row):
        report = {
            "reportID": str(row.get("reportID") or ""),
            "reportName": row.get("reportName") or "",
            "status": row.get("status") or "",
            "currency": row.get("currency") or "",
            "total": _cents(row.get("total"), "total", row),
            "created": _iso(row.get("created")),
            "submitted": _iso(row.get("submitted")),
            "approved": _iso(row.get("approved")),
            "policyID": str(row.get("policyID") or ""),
            "policyName": row.get("policyName") or "",
            "accountEmail": row.get("accountEmail") or "",
            "managerEmail": row.get("managerEmail") or "",
            "transactions": [],
        }
        if not report["reportID"] or not report["currency"]:
            raise IntegrationError("Expensify's export has a report without reportID or currency",
                                   code="EXPENSIFY-BAD-EXPORT")
        for txn in row.get("transactions") or []:
            expense = {key: str(txn.get(key)) if txn.get(key) is not None else "" for key in STRING_EXPENSE_FIELDS}
            expense["transactionID"] = str(txn.get("transactionID") or "")
            expense["amount"] = _cents(txn.get("amount"), "amount", row)
            expense["convertedAmount"] = _cents(txn.get("convertedAmount"), "convertedAmount", row)
            expense["reimbursable"] = bool(txn.get("reimbursable"))
            report["transactions"].append(expense)
        return report


def _error_body(response):
    """The ``{"responseCode", ...}`` object of a JSON answer, else None (file names, raw files)."""
    content = response.content.lstrip()[:1]
    if content != b"{":
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and "responseCode" in body else None


def _cents(value, field, row):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise IntegrationError(f"Expensify's export gives report {row.get('reportID')} a {field} of {value!r}, "
                               "not integer cents", code="EXPENSIFY-BAD-EXPORT")
    return int(value)


def _iso(value):
    """'2026-10-03 14:22:01' -> '2026-10-03T14:22:01'; empty -> None."""
    if not value:
        return None
    return str(value).strip().replace(" ", "T", 1)


def _tag_levels(tags):
    if all(isinstance(t, dict) and isinstance(t.get("tags"), list) for t in tags):
        return tags
    flat = [t for t in tags if isinstance(t, dict) and "tags" not in t]
    levels = [t for t in tags if isinstance(t, dict) and isinstance(t.get("tags"), list)]
    return levels + ([{"name": "Tag", "tags": flat}] if flat else [])
