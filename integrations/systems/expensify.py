"""Expensify Integration Server client (the "Classic" API).

Facts from shared/reference/expensify.md (sources: integrations.expensify.com
Integration-Server docs and the Expensify-API help article; third-party clients where
marked there). Every call is one form-encoded POST of a ``requestJobDescription`` JSON
carrying the credentials; errors come back as ``{"responseCode", "responseMessage"}``
(usually with HTTP 200: the body code is the one that counts), except that a ``file``
job answers a file name as plain text and ``download`` answers the raw file.

Exports use this client's own FreeMarker template, which emits a JSON array with all
money as integer cents (``?c``), strings through ``?json_string`` (control characters,
NUL included, come out as JSON escapes), booleans through ``?string("true","false")``
and every optional value guarded with ``??``; ids are emitted as strings whether
Expensify holds them as numbers or strings. Every value is emitted by its own type
(``?is_number``/``?is_string``/``?is_boolean``; anything else as the string
``NON_SCALAR``), because one template error fails the whole export: a report with an
odd value must still arrive, so the client can hold that one report and pass the rest.

Bad content in one report never fails an export. Each normalized report carries
``problems``, a list of plain sentences (empty when the report is sound), e.g.
``"total 'abc' is not integer cents"``, ``"currency is missing"``,
``"expense 123: amount true is not integer cents"``, ``"expense #2: transactionID is
missing"``. The value that was wrong is kept as it came (missing numbers are None,
missing strings ""), turned into a string only where JSON cannot carry it (NaN,
integers beyond 2^53 - 1). Control characters are kept: what to do with them is the
caller's decision. A report without a ``reportID`` cannot be tracked at all: it is
logged, skipped and counted in ``client.skipped_without_id``. An export that is not a
JSON array still fails as a whole (``EXPENSIFY-BAD-EXPORT``).

Timing and order are not promised by Expensify (shared/reference/expensify.md): reports
come back in the order the file holds them, which callers must not take for approval
order; a ``markAsExported`` lands at the end of the export, possibly well after the file
name came back, so an export sent right after may offer the same reports again; and the
file may not be downloadable at once: ``download`` polls it for up to
``options["download_wait_seconds"]`` (default 150, Expensify's own script polls 30 times
at 5 s) with pauses starting at ``options["download_poll_seconds"]`` (default 1.0),
growing 1.5 times up to 10 s, then gives up with ``Unavailable``
``EXPENSIFY-FILE-NOT-READY``. A not-ready file answers like an unknown one (a 404 or an
empty body), so an unknown file also ends that way.

Robust to the UNCONFIRMED points: rate limiting is recognised from an HTTP 429 and from
a body ``responseCode`` 429 (no Retry-After is documented, so 10 s is assumed when the
header is absent, as third-party clients back off); bad credentials from a body 401/403,
an HTTP 401/403, or a 500 "Not authorized to authenticate" message; policy tags in
either the flat or the "levels" shape (flat tags become one level named "Tag").
The per-credential limiter (``options["rate_limit"]``, default 5 per 10 s and 20 per
60 s, the strictest published figures) keeps every worker of a connection under the limit.
"""

import datetime as dt
import json
import logging
import math
import re
import time

from .errors import AuthError, IntegrationError, NotFound, OutcomeUnknown, RateLimited, Unavailable, ValidationRejected
from .http import HttpClient, parse_retry_after
from .limits import RateLimiter

log = logging.getLogger(__name__)

JOB_PATH = "Integration-Server/ExpensifyIntegrations"
DEFAULT_RATE_LIMIT = [[5, 10], [20, 60]]
ALL_STATES = ("OPEN", "SUBMITTED", "APPROVED", "REIMBURSED", "ARCHIVED")
RATE_LIMIT_BACKOFF = 10.0  # seconds, when Expensify sends no Retry-After
MARK_CHUNK = 1000  # report ids per markAsExported job
DOWNLOAD_WAIT_SECONDS = 150.0  # Expensify's own export script polls the download 30 times at 5 s
DOWNLOAD_POLL_SECONDS = 1.0
DOWNLOAD_POLL_GROWTH = 1.5
DOWNLOAD_POLL_MAX_SECONDS = 10.0
MAX_SAFE_INTEGER = 2**53 - 1  # beyond it a JSON number is not exact everywhere (doubles)
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
NON_SCALAR = "(not a scalar value)"  # what the template emits for a list or hash where a value belongs
CREDENTIALS_HELP = ("Check the partnerUserID and partnerUserSecret on this connection. They are issued at "
                    "expensify.com/tools/integrations; generating a new pair there revokes the old secret, so "
                    "paste the new pair into the connection and run 'Check connection'.")


def _value(expr, number=None):
    """``expr`` as JSON of its own type. A number is emitted with ``number`` (default ``?c``);
    ``?c`` on a string or ``?json_string`` on a number would be a template error, and one
    template error fails the whole export, so every type gets its own branch."""
    number = number or f"${{{expr}?c}}"
    return (f"<#if {expr}??><#if {expr}?is_number>{number}"
            f'<#elseif {expr}?is_string>"${{{expr}?json_string}}"'
            f'<#elseif {expr}?is_boolean>${{{expr}?string("true","false")}}'
            f'<#else>"{NON_SCALAR}"</#if><#else>null</#if>')


def _ident(expr):
    """Ids as strings, whether Expensify holds them as numbers or strings."""
    return _value(expr, number=f'"${{{expr}?c}}"')


REPORT_FIELDS = [
    ("reportID", _ident), ("reportName", _value), ("status", _value), ("currency", _value), ("total", _value),
    ("created", _value), ("submitted", _value), ("approved", _value), ("policyID", _ident), ("policyName", _value),
    ("accountEmail", _value), ("managerEmail", _value),
]
EXPENSE_FIELDS = [
    ("transactionID", _ident), ("merchant", _value), ("amount", _value), ("convertedAmount", _value),
    ("currency", _value), ("category", _value), ("categoryGlCode", _value), ("tag", _value), ("comment", _value),
    ("created", _value), ("reimbursable", _value), ("cardID", _ident), ("bank", _value), ("cardNumber", _value),
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

REPORT_TEXT_FIELDS = ("reportName", "status", "policyID", "policyName", "accountEmail", "managerEmail")
REPORT_DATE_FIELDS = ("created", "submitted", "approved")
STRING_EXPENSE_FIELDS = ("merchant", "category", "categoryGlCode", "tag", "comment", "cardID", "bank", "cardNumber",
                         "mcc")


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
        self.download_wait_seconds = float(self.options.get("download_wait_seconds", DOWNLOAD_WAIT_SECONDS))
        self.download_poll_seconds = float(self.options.get("download_poll_seconds", DOWNLOAD_POLL_SECONDS))
        self.skipped_without_id = 0  # reports the last export_reports dropped for having no reportID

    def __repr__(self):
        return f"<ExpensifyClient {self.base_url} partnerUserID={self.partner_user_id!r}>"

    # -- public API ----------------------------------------------------------------------
    def export_reports(self, *, states=("APPROVED", "REIMBURSED"), approved_after=None, start_date=None,
                       exclude_label=None, report_ids=None, policy_ids=None, limit=500):
        """One ``file`` job plus one ``download`` (polled until the file is ready); returns
        normalized report dicts, each with its ``problems``, in the order the file holds
        them. Expensify promises no order, so do not assume approval order.
        ``states=None``: every state."""
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
        reports = [self._normalize_report(row) for row in rows]
        self.skipped_without_id = reports.count(None)
        if self.skipped_without_id:
            log.warning("Expensify export %s: skipped %d report(s) without a reportID", file_name,
                        self.skipped_without_id)
        return [r for r in reports if r is not None]

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
        rows = self._parse_export(file_name, self._download(file_name).content)
        if not isinstance(rows, list):
            raise IntegrationError(f"Expensify's export file {file_name} is not a JSON array", code="EXPENSIFY-BAD-EXPORT")
        return rows

    def _download(self, file_name):
        """The file's response once it has content. Expensify answers a file that is not
        written yet like an unknown one, so both are polled until download_wait_seconds."""
        job = {"type": "download", "fileName": file_name, "fileSystem": "integrationServer"}
        deadline = time.monotonic() + self.download_wait_seconds
        pause = self.download_poll_seconds
        while True:
            try:
                response = self._job(job)
            except NotFound:
                response = None
            if response is not None and response.content.strip():
                return response
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unavailable(f"Expensify's export file {file_name} was not ready after "
                                  f"{self.download_wait_seconds:g} s", code="EXPENSIFY-FILE-NOT-READY",
                                  help="Expensify was slow to write the export; the next run asks again.")
            time.sleep(min(pause, remaining))
            pause = min(pause * DOWNLOAD_POLL_GROWTH, DOWNLOAD_POLL_MAX_SECONDS)

    @staticmethod
    def _parse_export(file_name, content):
        try:
            return json.loads(content)
        except (ValueError, RecursionError) as exc:
            raise IntegrationError(f"Expensify's export file {file_name} is not valid JSON ({exc})",
                                   code="EXPENSIFY-BAD-EXPORT")

    # -- normalization -------------------------------------------------------------------------
    def _normalize_report(self, row):
        """One export row -> a report dict with ``problems``; None when it has no reportID."""
        report_id = _string(row.get("reportID")) if isinstance(row, dict) else ""
        if not report_id or report_id == NON_SCALAR:
            return None
        problems = []
        report = {"reportID": report_id}
        report.update({key: _string(row.get(key)) for key in REPORT_TEXT_FIELDS})
        report["currency"] = _currency(row.get("currency"), "currency", problems)
        report["total"] = _cents(row.get("total"), "total", problems)
        for key in REPORT_DATE_FIELDS:
            report[key] = _date(row.get(key), key, problems, iso=True)
        transactions = row.get("transactions")
        if not isinstance(transactions, list):
            problems.append(f"transactions {_show(transactions)} is not a list")
            transactions = []
        expenses = [_normalize_expense(txn, position, problems) for position, txn in enumerate(transactions, start=1)]
        report["transactions"] = [e for e in expenses if e is not None]
        report["problems"] = problems
        return report


def _normalize_expense(txn, position, problems):
    if not isinstance(txn, dict):
        problems.append(f"expense #{position} is not an object")
        return None
    expense = {key: _string(txn.get(key)) for key in STRING_EXPENSE_FIELDS}
    expense["transactionID"] = _string(txn.get("transactionID"))
    where = f"expense {expense['transactionID']}: " if expense["transactionID"] else f"expense #{position}: "
    if not expense["transactionID"]:
        problems.append(f"{where}transactionID is missing")
    expense["amount"] = _cents(txn.get("amount"), "amount", problems, where)
    expense["convertedAmount"] = _cents(txn.get("convertedAmount"), "convertedAmount", problems, where)
    expense["currency"] = _currency(txn.get("currency"), "currency", problems, where)
    expense["created"] = _date(txn.get("created"), "created", problems, where=where) or ""
    reimbursable = txn.get("reimbursable")
    if not isinstance(reimbursable, bool):
        # It picks the credit account (employee payable or card clearing): never guess it.
        problems.append(f"{where}reimbursable {_show(reimbursable)} is not true or false")
    expense["reimbursable"] = _json_safe(reimbursable)
    return expense


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


def _string(value):
    """A text field as a string: missing is "", numbers and booleans as JSON writes them."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_json_safe(value)) if isinstance(value, (int, float)) else json.dumps(_json_safe(value))


def _show(value):
    """A value for a problem sentence: short, and with control characters escaped."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else _string(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_safe(value):
    """``value`` unchanged where JSON carries it exactly; NaN, infinities and integers
    beyond 2^53 - 1 become strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def _cents(value, field, problems, where=""):
    """Integer cents, else the raw value with a problem noted."""
    if value is None:
        problems.append(f"{where}{field} is missing")
        return None
    whole = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value == int(value))
    if isinstance(value, bool) or not whole:
        problems.append(f"{where}{field} {_show(value)} is not integer cents")
        return _json_safe(value)
    if abs(value) > MAX_SAFE_INTEGER:
        problems.append(f"{where}{field} {_show(value)} is out of range (more than 2^53 - 1 cents)")
        return _json_safe(value)
    return int(value)


def _currency(value, field, problems, where=""):
    if value is None or value == "":
        problems.append(f"{where}{field} is missing")
        return ""
    if not isinstance(value, str) or not CURRENCY_RE.match(value):
        problems.append(f"{where}{field} {_show(value)} is not a 3-letter currency code")
        return _json_safe(value)
    return value


def _date(value, field, problems, where="", iso=False):
    """'2026-10-03 14:22:01' -> '2026-10-03T14:22:01' with ``iso`` (else unchanged); empty -> None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if DATE_RE.match(text) and _valid_day(text[:10]):
            return text.replace(" ", "T", 1) if iso else text
    problems.append(f"{where}{field} {_show(value)} is not a date")
    return _json_safe(value)


def _valid_day(text):
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _tag_levels(tags):
    if all(isinstance(t, dict) and isinstance(t.get("tags"), list) for t in tags):
        return tags
    flat = [t for t in tags if isinstance(t, dict) and "tags" not in t]
    levels = [t for t in tags if isinstance(t, dict) and isinstance(t.get("tags"), list)]
    return levels + ([{"name": "Tag", "tags": flat}] if flat else [])
