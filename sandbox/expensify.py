"""Fake Expensify Integration Server (the "Classic" API), per shared/reference/expensify.md.

One endpoint: ``POST /expensify/Integration-Server/ExpensifyIntegrations``, form-encoded,
with ``requestJobDescription`` (a JSON string holding ``type``, ``credentials``,
``inputSettings``...) plus ``template`` (FreeMarker, for ``file`` jobs) or ``data``
(the employee feed). Responses are ``{"responseCode": N, "responseMessage": ...}`` with
HTTP 200 (the body code is what counts), except that a ``file`` job answers its file
name as plain text and ``download`` answers the raw file.

Endpoint names (for call counts and faults): ``"<type>:<inputSettings.type>"`` when the
job has an inputSettings type, else ``"<type>"``; e.g. ``file:combinedReportData``,
``download``, ``get:policy``, ``get:policyList``, ``update:employees``,
``update:policy``, ``update:reportStatus``, ``create:expenses``; a request whose job
cannot be read is ``invalid``.

Documented choices where the vendor's behaviour is UNCONFIRMED (settings live in
``sandbox.config["expensify"]``):
  * bad or missing credentials: body ``{"responseCode": 401, "responseMessage":
    "Authentication error"}`` with HTTP ``auth_error_http_status`` (default 200);
  * rate limit per partnerUserID, sliding windows ``rate_limit`` (default
    ``[[5, 10], [20, 60]]``: the strictest published figures); over it: HTTP 429
    (``rate_limit_http_status``) with body code 429, the documented message and a
    ``Retry-After`` header in whole seconds; refused requests do not count;
  * ``policyIDList`` and ``reportIDList`` accept a comma string or a JSON array;
    ``limit`` accepts a string or a number;
  * ``onReceive.immediateResponse`` missing: a bare HTTP 500 at once (the live API
    hangs first);
  * a template error: body code 500 with the template's error message;
  * ``download`` of an unknown file: body code 404 ``File not found``;
  * the policy getter returns ``glCode`` on categories and tags in the "levels" shape
    ``[{"name": "Cost Center", "tags": [{"name", "glCode", "enabled"}]}]``; asking for a
    policy that does not exist answers 404 for the whole job;
  * the advanced employee updater accepts ``{"Employees": [...]}`` and a bare array;
    it is all-or-nothing (any invalid record: 410, nothing applied) and answers
    ``{"responseCode": 200, "added", "updated", "removed", "dryRun"}``;
  * the policy tag updater takes JSON levels (``tags: {"action", "data": [levels]}``);
    a level named in ``data`` is replaced whole even with ``merge`` ([3P]);
  * ``addHeader`` for the template comes from ``outputSettings.addHeader`` (default false);
  * only text formats (csv, txt, json, xml) are rendered; pdf/xls/xlsx answer 410;
  * the world's "now" starts at the anchor date 00:00 and runs with the sandbox clock:
    every generated date lies before it.

Timing and order, which the vendor does not promise (settings, read on every request):
  * ``export_order``: the order of reports in an export file (``limit`` applies after
    it). ``"approved"`` (default): approval time, then report id; ``"report_id"``:
    ascending report id; ``"random"``: a shuffle drawn from a generator seeded with the
    sandbox seed at reset, so the same seed and the same calls give the same orders.
  * ``mark_delay_seconds`` (default 0): an ``onFinish`` ``markAsExported`` lands that many
    seconds (sandbox clock: wall-clock seconds, floats allowed, moved on by ``POST
    /_sandbox/clock``) after the ``file`` job answered, as a late end-of-export would;
    until then a ``markedAsExported`` export still offers those reports. Pending marks
    are applied at the start of the next request or control call, no thread involved.
    A mark lands even if the report was unapproved and approved again meanwhile, since
    the export that carries it saw the report approved. Email and SFTP actions stay
    immediate.
  * ``file_ready_delay_seconds`` (default 0): a ``download`` of a file made less than
    that many seconds ago answers as for an unknown file, body code 404 ``File not
    found: <name>``. Which answer the live API gives before the file is ready is
    UNCONFIRMED: Expensify's own script retries any answer that is not a 200 or one of
    the errors it knows, 30 times at 5 s; the sandbox reuses the unknown-file answer.
  * the file's content is rendered when the ``file`` job arrives (the live export runs
    afterwards and may see a later state).

Control (``/_sandbox/expensify/...``): ``GET reports[?state=APPROVED,REIMBURSED]``,
``GET reports/<id>``, ``POST reports/<id>`` (see below), ``DELETE reports/<id>`` (the report is
deleted: no export returns it), ``GET files`` (with ``ready``),
``GET files/<name>``, ``GET policies``, ``GET actions`` (onFinish emails/uploads),
``GET marks`` (pending markAsExported: ``label``, ``reportIDs``, ``dueInSeconds``),
``GET unreported`` (created expenses not on a report), ``GET rate_limited`` (requests refused 429).

``POST reports/<id>`` takes any of these keys in one object, applied in this order:
  * ``{"remove_transactions": true}``: the report loses every expense;
  * ``{"add_transaction": {...}}`` (or a list): appended exactly as given; a fresh
    ``transactionID`` is added only when the key is absent (``null`` leaves it out);
  * ``{"set_amount": {"transactionID", "amount"}}`` (or a list): a real edit that
    recomputes ``convertedAmount`` and ``total``;
  * ``{"set_transaction": {"transactionID": "...", field: value, ...}}`` (or a list);
  * ``{"set_report": {field: value, ...}}``;
  * ``{"action": "unapprove" | "approve" | "reimburse"}``.
``set_report``/``set_transaction`` corrupt what exports and ``GET reports`` show, for
bad-record tests: any JSON value (strings with control characters such as NUL, huge
numbers, objects), ``null`` removes the field. They recompute nothing (so lines need not
add up to the total), they do not move the report's real state (filters, ordering and
actions use the real values; ``state``, ``labels`` and ``transactionList`` cannot be set
this way), and they stay until reset. ``add_transaction`` and ``remove_transactions``
change the real expense list, again without touching ``total``. NaN and infinite
numbers are refused (400): they are not JSON values.
Re-approval (approve after unapprove) clears the report's export labels and stamps a
new approved time, so a ``markedAsExported`` export offers the report again.
"""

import datetime as dt
import json
import math
import random
import re
import uuid
from collections import deque

from . import expensify_data as data
from .freemarker import Template, TemplateError
from .http import BadRequest, Fake, HttpError, NotFoundError, Response, json_response

PATH = "/Integration-Server/ExpensifyIntegrations"
RATE_LIMIT_MESSAGE = ("You have been rate-limited. Please try again later or contact help@expensify.com for "
                      "assistance.")
TEXT_FORMATS = ("csv", "txt", "json", "xml")
ALL_FORMATS = ("csv", "xls", "xlsx", "txt", "pdf", "json", "xml")
POLICY_FIELDS = ("categories", "reportFields", "tags", "tax", "employees")
EMPLOYEE_REQUIRED = ("employeeEmail", "managerEmail", "employeeID", "policyID")
INTERNAL_REPORT_KEYS = ("state", "labels")
UNPATCHABLE_REPORT_KEYS = INTERNAL_REPORT_KEYS + ("transactionList",)
EXPORT_ORDERS = ("approved", "report_id", "random")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class JobError(Exception):
    """An error answered in Expensify's own shape."""

    def __init__(self, code, message, http_status=200, retry_after=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after

    def response(self):
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return json_response({"responseCode": self.code, "responseMessage": self.message}, self.http_status, headers)


def _truthy(value):
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _id_list(value, name):
    """A comma string or a JSON array -> list of stripped strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise JobError(410, f"Invalid parameter '{name}': expected a comma-separated list")
    return [str(v).strip() for v in items if str(v).strip()]


def _parse_date(value, name):
    if value is None or value == "":
        return None
    text = str(value)
    if not DATE_RE.match(text):
        raise JobError(410, f"Malformed date '{text}'. Expected format is yyyy-MM-dd")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise JobError(410, f"Malformed date '{text}'. Expected format is yyyy-MM-dd")


def _one_year_before(day):
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _day(stamp):
    return dt.date.fromisoformat(stamp[:10]) if stamp else None


class ExpensifyFake(Fake):
    name = "expensify"
    default_config = {
        "rate_limit": [[5, 10], [20, 60]],
        "auth_error_http_status": 200,
        "rate_limit_http_status": 429,
        "export_order": "approved",
        "mark_delay_seconds": 0,
        "file_ready_delay_seconds": 0,
    }

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.policies = {}
        self.reports = {}
        self.files = {}
        self.actions = []
        self.unreported = []
        self.pending_marks = []
        self.patches = {}
        self._hits = {}
        self.rate_limited = 0  # requests answered 429 (the control API reads it)
        self._creds = {}
        self._epoch = 0.0
        self.anchor = None

    # -- lifecycle ------------------------------------------------------------------
    def reset(self, seed, size, anchor):
        self.policies, self.reports = data.generate(seed, size, anchor)
        self.anchor = anchor
        self.files = {}
        self.actions = []
        self.unreported = []
        self.pending_marks = []  # [{"due", "label", "reportIDs"}]: markAsExported not applied yet
        self.patches = {}  # reportID -> {"report": {...}, "transactions": {transactionID: {...}}}
        self._hits = {}
        self.rate_limited = 0  # requests answered 429 (the control API reads it)
        self._creds = data.credentials_for(seed)
        self._epoch = self.sandbox.clock()
        self._next_txn = 9 * 10**17
        self._order_rng = random.Random(f"expensify-export-order:{seed}")

    def credentials(self):
        return dict(self._creds)

    def limit_breaches(self):
        return {"rate_limit": self.rate_limited}

    def now(self):
        """The world's current time: the anchor's midnight plus the time since reset."""
        elapsed = max(0.0, self.sandbox.clock() - self._epoch)
        return dt.datetime.combine(self.anchor, dt.time()) + dt.timedelta(seconds=elapsed)

    # -- request parsing ------------------------------------------------------------------
    def _job(self, req):
        cached = getattr(req, "_expensify_job", None)
        if cached is not None:
            return cached
        job, error = None, None
        try:
            raw = req.form().get("requestJobDescription")
        except BadRequest as exc:
            raw, error = None, JobError(410, exc.message)
        if error is None:
            if raw is None or not raw.strip():
                error = JobError(410, "Required parameter 'requestJobDescription' is missing")
            else:
                try:
                    job = json.loads(raw)
                except ValueError:
                    error = JobError(410, "Parameter 'requestJobDescription' is not valid JSON")
                else:
                    if not isinstance(job, dict):
                        job, error = None, JobError(410, "Parameter 'requestJobDescription' must be a JSON object")
        req._expensify_job = (job, error)
        return req._expensify_job

    def endpoint(self, req):
        if req.path.rstrip("/") != PATH:
            return None
        job, error = self._job(req)
        if error is not None or not isinstance(job.get("type"), str) or not job["type"]:
            return "invalid"
        kind = job["type"][:40]
        settings = job.get("inputSettings")
        inner = settings.get("type") if isinstance(settings, dict) else None
        if kind != "download" and isinstance(inner, str) and inner:
            return f"{kind}:{inner[:40]}"
        return kind

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, req):
        if req.method != "POST":
            return json_response({"responseCode": 405, "responseMessage": "Use POST"}, 405)
        self.apply_due_marks()
        job, error = self._job(req)
        try:
            if error is not None:
                raise error
            credentials = job.get("credentials") if isinstance(job.get("credentials"), dict) else {}
            self._check_rate(str(credentials.get("partnerUserID") or f"ip:{req.client_ip}"))
            self._authenticate(credentials)
            kind = job.get("type")
            handler = {
                "file": self._file, "download": self._download, "get": self._get,
                "update": self._update, "create": self._create,
            }.get(kind)
            if handler is None:
                if kind is None:
                    raise JobError(410, "Required parameter 'type' is missing")
                raise JobError(410, f"Unsupported job type '{kind}'")
            return handler(job, req, credentials)
        except JobError as exc:
            return exc.response()

    def fault_body(self, status, req):
        if status == 429:
            return {"responseCode": 429, "responseMessage": RATE_LIMIT_MESSAGE}
        if status >= 500:
            return {"responseCode": status, "responseMessage": "Internal error, please try again later"}
        return {"responseCode": status, "responseMessage": f"Error {status}"}

    # -- auth and limits ----------------------------------------------------------------------
    def _authenticate(self, credentials):
        expected = self._creds
        if (credentials.get("partnerUserID") != expected["partnerUserID"]
                or credentials.get("partnerUserSecret") != expected["partnerUserSecret"]):
            raise JobError(401, "Authentication error", int(self.settings.get("auth_error_http_status", 200)))

    def _check_rate(self, key):
        windows = [(int(n), float(s)) for n, s in (self.settings.get("rate_limit") or [])]
        if not windows:
            return
        now = self.sandbox.clock()
        horizon = max(s for _, s in windows)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - horizon:
            hits.popleft()
        wait = 0.0
        for n, seconds in windows:
            recent = [t for t in hits if t > now - seconds]
            if len(recent) >= n:
                wait = max(wait, recent[len(recent) - n] + seconds - now)
        if wait > 0:
            self.rate_limited += 1
            raise JobError(429, RATE_LIMIT_MESSAGE, int(self.settings.get("rate_limit_http_status", 429)),
                           retry_after=max(1, math.ceil(wait)))
        hits.append(now)

    # -- file (export) -----------------------------------------------------------------------------
    def _file(self, job, req, credentials):
        on_receive = job.get("onReceive")
        immediate = on_receive.get("immediateResponse") if isinstance(on_receive, dict) else None
        if not isinstance(immediate, list) or "returnRandomFileName" not in immediate:
            return Response(500, b"", content_type="text/html")
        settings = job.get("inputSettings")
        if not isinstance(settings, dict):
            raise JobError(410, "Required parameter 'inputSettings' is missing")
        if settings.get("type") != "combinedReportData":
            raise JobError(410, f"Unsupported inputSettings type '{settings.get('type')}'")
        output = job.get("outputSettings") if isinstance(job.get("outputSettings"), dict) else {}
        extension = str(output.get("fileExtension") or "").lower()
        if not extension:
            raise JobError(410, "Required parameter 'fileExtension' is missing")
        if extension not in ALL_FORMATS:
            raise JobError(410, f"Invalid fileExtension '{extension}'")
        if extension not in TEXT_FORMATS:
            raise JobError(410, f"fileExtension '{extension}' is not supported by the sandbox (use csv, txt, json or xml)")
        source = req.form().get("template")
        if not source:
            raise JobError(410, "Required parameter 'template' is missing")
        finish = self._parse_on_finish(job.get("onFinish"))
        reports = self._select(settings)
        try:
            rendered = Template(source).render({
                "reports": [self._template_view(r) for r in reports],
                "addHeader": _truthy(output.get("addHeader")),
            })
        except TemplateError as exc:
            raise JobError(500, f"Template error: {exc}")
        basename = str(output.get("fileBasename") or "export")
        name = f"{basename}{uuid.uuid4()}.{extension}"
        # A lone surrogate (possible in a corrupted value) becomes "?", as Java's UTF-8 encoder writes it.
        self.files[name] = {"content": rendered.encode("utf-8", "replace"), "owner": credentials.get("partnerUserID"),
                            "created": self.now().strftime(data.DATETIME_FORMAT), "made_at": self.sandbox.clock(),
                            "reports": len(reports)}
        if not _truthy(job.get("test")):
            self._run_on_finish(finish, reports, name)
        return Response(200, name, content_type="text/plain; charset=utf-8")

    def _select(self, settings):
        states = settings.get("reportState")
        if states in (None, ""):
            wanted = set(data.STATES)
        else:
            wanted = {s.strip().upper() for s in str(states).split(",") if s.strip()}
            bad = sorted(wanted - set(data.STATES))
            if bad:
                raise JobError(410, f"Invalid reportState '{bad[0]}'")
        limit = settings.get("limit")
        if limit not in (None, ""):
            try:
                limit = int(str(limit).strip())
                if limit < 0:
                    raise ValueError
            except ValueError:
                raise JobError(410, f"Invalid limit '{settings.get('limit')}'")
        else:
            limit = None
        filters = settings.get("filters") if isinstance(settings.get("filters"), dict) else {}
        report_ids = _id_list(filters.get("reportIDList"), "reportIDList")
        policy_ids = _id_list(filters.get("policyIDList"), "policyIDList")
        start = _parse_date(filters.get("startDate"), "startDate")
        end = _parse_date(filters.get("endDate"), "endDate")
        approved_after = _parse_date(filters.get("approvedAfter"), "approvedAfter")
        label = filters.get("markedAsExported") or None
        employee = filters.get("employeeEmail") or None
        if not report_ids and start is None and approved_after is None:
            raise JobError(410, "Required parameter 'startDate' is missing (give reportIDList, startDate or approvedAfter)")
        if start is not None:
            today = self.now().date()
            if end is None and start < _one_year_before(today):
                raise JobError(410, "Required parameter 'endDate' is missing: startDate is more than one year ago")
            if end is not None and end > start and (end - start).days > 366:
                raise JobError(410, "The period between startDate and endDate cannot exceed one year")
        if employee:
            wanted.discard("OPEN")
        id_set = set(report_ids) if report_ids else None
        policy_set = set(policy_ids) if policy_ids else None
        out = []
        candidates = (self.reports[i] for i in report_ids if i in self.reports) if report_ids else self.reports.values()
        seen = set()
        for report in candidates:
            if report["reportID"] in seen:
                continue
            seen.add(report["reportID"])
            if report["state"] not in wanted:
                continue
            if id_set is not None and report["reportID"] not in id_set:
                continue
            if policy_set is not None and report["policyID"] not in policy_set:
                continue
            if employee and report["accountEmail"] != employee:
                continue
            if label and label in report["labels"]:
                continue
            if start is not None or end is not None:
                day = max(d for d in (_day(report["created"]), _day(report["submitted"])) if d)
                if (start is not None and day < start) or (end is not None and day > end):
                    continue
            if approved_after is not None:
                approved = _day(report["approved"])
                if approved is None or approved <= approved_after:
                    continue
            out.append(report)
        out = self._ordered(out)
        return out[:limit] if limit is not None else out

    def _ordered(self, reports):
        order = self.settings.get("export_order") or "approved"
        if order not in EXPORT_ORDERS:
            raise HttpError(f"sandbox config expensify.export_order={order!r}: use one of {', '.join(EXPORT_ORDERS)}")
        if order == "report_id":
            return sorted(reports, key=lambda r: int(r["reportID"]))
        reports = sorted(reports, key=lambda r: (r["approved"] or "", int(r["reportID"])))
        if order == "random":
            self._order_rng.shuffle(reports)
        return reports

    def _template_view(self, report):
        """The report as exports see it: real values, then the control patches on top."""
        gl_codes = {c["name"]: c.get("glCode") or "" for c in self.policies.get(report["policyID"], {}).get("categories", [])}
        patch = self.patches.get(report["reportID"], {})
        txn_patches = patch.get("transactions", {})
        view = {k: v for k, v in report.items() if k not in UNPATCHABLE_REPORT_KEYS}
        view["transactionList"] = []
        for txn in report["transactionList"]:
            category = txn.get("category")
            # Added expenses may carry any value as their category: only a string can name a GL code.
            shown = dict(txn, categoryGlCode=gl_codes.get(category, "") if isinstance(category, str) else "")
            txn_id = txn.get("transactionID")
            view["transactionList"].append(_patched(shown, txn_patches.get(str(txn_id)) if txn_id is not None else None))
        return _patched(view, patch.get("report"))

    def _parse_on_finish(self, on_finish):
        if on_finish in (None, ""):
            return []
        if isinstance(on_finish, dict):
            on_finish = [on_finish]
        if not isinstance(on_finish, list):
            raise JobError(410, "Invalid parameter 'onFinish': expected a list of actions")
        actions = []
        for action in on_finish:
            name = action.get("actionName") if isinstance(action, dict) else None
            if name == "markAsExported":
                if not action.get("label"):
                    raise JobError(410, "Required parameter 'label' is missing")
            elif name == "email":
                if not action.get("recipients"):
                    raise JobError(410, "Required parameter 'recipients' is missing")
            elif name == "sftpUpload":
                if not isinstance(action.get("sftpData"), dict):
                    raise JobError(410, "Required parameter 'sftpData' is missing")
            else:
                raise JobError(410, f"Unsupported actionName '{name}'")
            actions.append(action)
        return actions

    def _run_on_finish(self, actions, reports, file_name):
        delay = float(self.settings.get("mark_delay_seconds") or 0)
        for action in actions:
            if action["actionName"] == "markAsExported":
                mark = {"due": self.sandbox.clock() + delay, "label": str(action["label"]),
                        "reportIDs": [r["reportID"] for r in reports]}
                if delay > 0:
                    self.pending_marks.append(mark)
                else:
                    self._apply_mark(mark)
            else:
                entry = {"actionName": action["actionName"], "fileName": file_name,
                         "reportIDs": [r["reportID"] for r in reports]}
                if action["actionName"] == "email":
                    entry["recipients"] = action.get("recipients")
                else:
                    entry["host"] = action["sftpData"].get("host")
                self.actions.append(entry)

    def apply_due_marks(self):
        """Apply every pending markAsExported whose time has come (called before each request)."""
        if not self.pending_marks:
            return
        now = self.sandbox.clock()
        due = [m for m in self.pending_marks if m["due"] <= now]
        self.pending_marks = [m for m in self.pending_marks if m["due"] > now]
        for mark in due:
            self._apply_mark(mark)

    def _apply_mark(self, mark):
        for report_id in mark["reportIDs"]:
            report = self.reports.get(report_id)
            if report is not None and mark["label"] not in report["labels"]:
                report["labels"].append(mark["label"])

    def _file_ready(self, stored):
        delay = float(self.settings.get("file_ready_delay_seconds") or 0)
        return self.sandbox.clock() - stored["made_at"] >= delay

    def _download(self, job, req, credentials):
        if "inputSettings" in job:
            raise JobError(410, "Unexpected parameter 'inputSettings' for a download job")
        name = job.get("fileName")
        if not name:
            raise JobError(410, "Required parameter 'fileName' is missing")
        system = job.get("fileSystem")
        if system != "integrationServer":
            raise JobError(410, f"Invalid fileSystem '{system}'" if system else "Required parameter 'fileSystem' is missing")
        stored = self.files.get(str(name))
        # A file still being written answers as an unknown one (see the module docstring).
        if stored is None or stored["owner"] != credentials.get("partnerUserID") or not self._file_ready(stored):
            raise JobError(404, f"File not found: {name}")
        extension = str(name).rsplit(".", 1)[-1]
        content_type = {"json": "application/json", "csv": "text/csv", "xml": "application/xml"}.get(extension, "text/plain")
        return Response(200, stored["content"], content_type=content_type)

    # -- get ---------------------------------------------------------------------------------------
    def _get(self, job, req, credentials):
        settings = job.get("inputSettings")
        if not isinstance(settings, dict) or not settings.get("type"):
            raise JobError(410, "Required parameter 'inputSettings.type' is missing")
        kind = settings["type"]
        if kind == "policyList":
            return json_response({"responseCode": 200, "policyList": [
                {k: p[k] for k in ("id", "name", "type", "owner", "role", "outputCurrency")} for p in self.policies.values()
            ]})
        if kind == "policy":
            ids = _id_list(settings.get("policyIDList"), "policyIDList")
            if not ids:
                raise JobError(410, "Required parameter 'policyIDList' is missing")
            fields = settings.get("fields")
            if isinstance(fields, str):
                fields = [f.strip() for f in fields.split(",") if f.strip()]
            if not fields:
                raise JobError(410, "Required parameter 'fields' is missing")
            for field in fields:
                if field not in POLICY_FIELDS:
                    raise JobError(410, f"Invalid field '{field}'")
            info = {}
            for policy_id in ids:
                policy = self.policies.get(policy_id)
                if policy is None:
                    raise JobError(404, f"Policy not found: {policy_id}")
                entry = {}
                for field in fields:
                    if field == "employees":
                        entry["employees"] = [
                            {"email": e["email"], "role": e["role"], "submitsTo": e.get("submitsTo", ""),
                             "employeeID": e.get("employeeID", ""), "firstName": e.get("firstName", ""),
                             "lastName": e.get("lastName", "")} for e in policy["employees"]]
                    else:
                        entry[field] = json.loads(json.dumps(policy[field]))
                info[policy_id] = entry
            return json_response({"responseCode": 200, "policyInfo": info})
        raise JobError(410, f"Unsupported inputSettings type '{kind}'")

    # -- update ----------------------------------------------------------------------------------------
    def _update(self, job, req, credentials):
        settings = job.get("inputSettings")
        if not isinstance(settings, dict) or not settings.get("type"):
            raise JobError(410, "Required parameter 'inputSettings.type' is missing")
        kind = settings["type"]
        if kind == "employees":
            return self._update_employees(job, req, settings)
        if kind == "policy":
            return self._update_policy(job, settings)
        if kind == "reportStatus":
            return self._update_report_status(settings)
        raise JobError(410, f"Unsupported inputSettings type '{kind}'")

    def _update_employees(self, job, req, settings):
        if settings.get("policyID") or settings.get("fileType"):
            raise JobError(410, "The legacy CSV employee updater is not supported by the sandbox; "
                                "use dataSource 'request' with entity 'generic'")
        if job.get("dataSource") != "request":
            raise JobError(410, "Required parameter 'dataSource' is missing" if not job.get("dataSource")
                           else f"Unsupported dataSource '{job.get('dataSource')}'")
        raw = req.form().get("data")
        if not raw:
            raise JobError(410, "Required parameter 'data' is missing")
        try:
            payload = json.loads(raw)
        except ValueError:
            raise JobError(410, "Parameter 'data' is not valid JSON")
        records = payload.get("Employees") if isinstance(payload, dict) else payload
        if not isinstance(records, list):
            raise JobError(410, "Parameter 'data' must hold an 'Employees' list")
        problems = []
        for index, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                problems.append(f"record {index} is not an object")
                continue
            for key in EMPLOYEE_REQUIRED:
                if not str(record.get(key) or "").strip():
                    problems.append(f"record {index}: missing '{key}'")
            for policy_id in [record.get("policyID")] + list(_id_list(record.get("additionalPolicyIDs"), "x") or []):
                if policy_id and policy_id not in self.policies:
                    problems.append(f"record {index}: policy '{policy_id}' not found")
        if problems:
            raise JobError(410, "Invalid employee data: " + "; ".join(problems[:10]))
        dry_run = _truthy(job.get("dry-run")) or _truthy(job.get("dryRun"))
        added = updated = removed = 0
        for record in records:
            policy_ids = [record["policyID"]] + list(_id_list(record.get("additionalPolicyIDs"), "x") or [])
            for policy_id in policy_ids:
                employees = self.policies[policy_id]["employees"]
                existing = next((e for e in employees if e["email"].lower() == record["employeeEmail"].lower()), None)
                if _truthy(record.get("isTerminated")):
                    if existing is not None:
                        removed += 1
                        if not dry_run:
                            employees.remove(existing)
                    continue
                if existing is None:
                    added += 1
                    if dry_run:
                        continue
                    existing = {"email": record["employeeEmail"], "role": "user"}
                    employees.append(existing)
                else:
                    updated += 1
                    if dry_run:
                        continue
                existing.update(submitsTo=record["managerEmail"], employeeID=str(record["employeeID"]))
                for key in ("firstName", "lastName", "approvalLimit", "overLimitApprover", "customField1",
                            "customField2", "workerStatus", "defaultTags"):
                    if key in record:
                        existing[key] = record[key]
        return json_response({"responseCode": 200, "responseMessage": "OK", "added": added, "updated": updated,
                              "removed": removed, "dryRun": dry_run})

    def _update_policy(self, job, settings):
        policy_id = settings.get("policyID")
        if not policy_id:
            raise JobError(410, "Required parameter 'policyID' is missing")
        policy = self.policies.get(policy_id)
        if policy is None:
            raise JobError(404, f"Policy not found: {policy_id}")
        # Sections are siblings of inputSettings; nested ones are ignored (200, nothing happens) [3P].
        changes = {}
        for section in ("categories", "tags", "reportFields"):
            spec = job.get(section)
            if spec is None:
                continue
            if not isinstance(spec, dict) or spec.get("action") not in ("merge", "replace"):
                raise JobError(410, f"Invalid parameter '{section}.action': expected 'merge' or 'replace'")
            items = spec.get("data")
            if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("name") for i in items):
                raise JobError(410, f"Invalid parameter '{section}.data': expected a list of objects with a name")
            changes[section] = (spec["action"], items)
        for section, (action, items) in changes.items():
            if section == "categories":
                defaults = {"enabled": True, "glCode": "", "areCommentsRequired": False}
                policy[section] = _merge_named(policy[section], items, action, defaults, whole=False)
            elif section == "tags":
                levels = [{"name": lvl["name"], "tags": [dict({"glCode": "", "enabled": True}, **t)
                                                         for t in lvl.get("tags") or [] if isinstance(t, dict)]}
                          for lvl in items]
                policy[section] = _merge_named(policy[section], levels, action, {}, whole=True)
            else:
                policy[section] = _merge_named(policy[section], items, action, {"type": "text", "values": []}, whole=False)
        return json_response({"responseCode": 200})

    def _update_report_status(self, settings):
        status = str(settings.get("status") or "")
        if status != "REIMBURSED":
            raise JobError(410, f"Invalid status '{status}': only REIMBURSED is supported" if status
                           else "Required parameter 'status' is missing")
        filters = settings.get("filters") if isinstance(settings.get("filters"), dict) else {}
        ids = _id_list(filters.get("reportIDList"), "reportIDList")
        if not ids:
            raise JobError(410, "Required parameter 'reportIDList' is missing")
        done, skipped, failed = [], [], []
        stamp = self.now().strftime(data.DATETIME_FORMAT)
        for report_id in ids:
            report = self.reports.get(report_id)
            if report is None:
                failed.append({"reportID": report_id, "reason": "Report not found"})
            elif report["state"] != "APPROVED":
                skipped.append({"reportID": report_id, "reason": f"Report is {report['status']}, not Approved"})
            else:
                report.update(state="REIMBURSED", status=data.STATUS_NAMES["REIMBURSED"], reimbursed=stamp)
                done.append(report_id)
        if skipped or failed:
            return json_response({"responseCode": 207, "reportIDs": done, "skippedReports": skipped,
                                  "failedReports": failed})
        return json_response({"responseCode": 200, "reportIDs": done})

    # -- create -------------------------------------------------------------------------------------
    def _create(self, job, req, credentials):
        settings = job.get("inputSettings")
        if not isinstance(settings, dict) or settings.get("type") != "expenses":
            raise JobError(410, f"Unsupported inputSettings type '{(settings or {}).get('type')}'"
                           if isinstance(settings, dict) else "Required parameter 'inputSettings' is missing")
        email = settings.get("employeeEmail")
        if not email:
            raise JobError(410, "Required parameter 'employeeEmail' is missing")
        items = settings.get("transactionList")
        if not isinstance(items, list) or not items:
            raise JobError(410, "Required parameter 'transactionList' is missing")
        prepared = []
        for index, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise JobError(410, f"Transaction {index} is not an object")
            for key in ("merchant", "created", "amount", "currency"):
                if item.get(key) in (None, ""):
                    raise JobError(410, f"Required parameter '{key}' is missing (transaction {index})")
            _parse_date(item["created"], "created")
            if not isinstance(item["amount"], int) or isinstance(item["amount"], bool):
                raise JobError(410, f"Invalid amount '{item['amount']}' (transaction {index}): integer cents expected")
            if item["currency"] not in data.USD_VALUE:
                raise JobError(410, f"Invalid currency '{item['currency']}' (transaction {index})")
            report = self.reports.get(str(item.get("reportID") or ""))
            if item.get("reportID") and (report is None or report["state"] != "OPEN"):
                raise JobError(410, f"Report '{item['reportID']}' is not an open report (transaction {index})")
            prepared.append((item, report))
        created = []
        for item, report in prepared:
            self._next_txn += 1
            txn = {"transactionID": str(self._next_txn), "merchant": item["merchant"], "created": item["created"],
                   "amount": item["amount"], "currency": item["currency"], "externalID": item.get("externalID", ""),
                   "comment": item.get("comment", ""), "category": item.get("category", ""), "tag": item.get("tag", ""),
                   "reimbursable": True, "employeeEmail": email}
            if report is not None:
                rate = data.conversion_rate(txn["currency"], report["currency"])
                txn.update(reportID=report["reportID"], currencyConversionRate=float(rate),
                           convertedAmount=data.convert(txn["amount"], txn["currency"], report["currency"], rate),
                           cardID="", bank="", cardNumber="", mcc="", billable=False)
                report["transactionList"].append(txn)
                report["total"] = _real_total(report)
            else:
                self.unreported.append(txn)
            created.append(dict(txn))
        return json_response({"responseCode": 200, "transactionList": created})

    # -- control ----------------------------------------------------------------------------------------
    def control(self, req, subpath):
        self.apply_due_marks()
        parts = [p for p in subpath.split("/") if p]
        head = parts[0] if parts else ""
        if head == "reports" and len(parts) == 1 and req.method == "GET":
            state = req.arg("state")
            wanted = {s.strip().upper() for s in state.split(",")} if state else None
            return json_response([self._report_view(r) for r in self.reports.values()
                                  if wanted is None or r["state"] in wanted])
        if head == "reports" and len(parts) == 2:
            report = self.reports.get(parts[1])
            if report is None:
                raise NotFoundError(f"no report {parts[1]}")
            if req.method == "POST":
                self._control_report(report, req.json())
            elif req.method == "DELETE":  # the report is deleted in Expensify: no export returns it any more
                del self.reports[parts[1]]
                return json_response({"deleted": parts[1]})
            elif req.method != "GET":
                raise NotFoundError(f"no control endpoint {req.method} reports/<id>")
            return json_response(self._report_view(report))
        if head == "files" and req.method == "GET":
            if len(parts) == 1:
                return json_response([{"name": name, "size": len(f["content"]), "created": f["created"],
                                       "reports": f["reports"], "ready": self._file_ready(f)}
                                      for name, f in self.files.items()])
            stored = self.files.get(parts[1])
            if stored is None:
                raise NotFoundError(f"no file {parts[1]}")
            return Response(200, stored["content"], content_type="application/octet-stream")
        if head == "policies" and req.method == "GET":
            return json_response(list(self.policies.values()))
        if head == "rate_limited" and req.method == "GET":  # requests refused by the rate limit since the reset
            return json_response({"rate_limited": self.rate_limited})
        if head == "actions" and req.method == "GET":
            return json_response(self.actions)
        if head == "marks" and req.method == "GET":
            now = self.sandbox.clock()
            return json_response([{"label": m["label"], "reportIDs": m["reportIDs"], "dueInSeconds": m["due"] - now}
                                  for m in self.pending_marks])
        if head == "unreported" and req.method == "GET":
            return json_response(self.unreported)
        raise NotFoundError(f"no expensify control endpoint {req.method} {subpath}")

    def _report_view(self, report):
        view = self._template_view(report)
        view["state"] = report["state"]
        view["labels"] = list(report["labels"])
        view["transactions"] = view.pop("transactionList")
        return view

    def _control_report(self, report, body):
        if not isinstance(body, dict) or not any(body.get(k) is not None for k in CONTROL_KEYS):
            raise BadRequest(f"expected an object with any of: {', '.join(CONTROL_KEYS)}")
        unknown = sorted(set(body) - set(CONTROL_KEYS))
        if unknown:
            raise BadRequest(f"unknown key(s) {', '.join(unknown)}; use {', '.join(CONTROL_KEYS)}")
        if not _finite(body):
            raise BadRequest("NaN and infinite numbers are not JSON values")
        if body.get("remove_transactions") is True:
            report["transactionList"] = []
            self.patches.get(report["reportID"], {}).pop("transactions", None)
        if body.get("add_transaction") is not None:
            self._add_transactions(report, _one_or_many(body["add_transaction"], "add_transaction"))
        if body.get("set_amount") is not None:
            self._set_amounts(report, _one_or_many(body["set_amount"], "set_amount"))
        if body.get("set_transaction") is not None:
            self._patch_transactions(report, _one_or_many(body["set_transaction"], "set_transaction"))
        if body.get("set_report") is not None:
            self._patch_report(report, body["set_report"])
        if body.get("action") is not None:
            self._act(report, body["action"])

    def _add_transactions(self, report, items):
        for item in items:
            txn = {k: v for k, v in item.items() if v is not None}
            if "transactionID" not in item:  # so that set_transaction can reach it
                self._next_txn += 1
                txn["transactionID"] = str(self._next_txn)
            report["transactionList"].append(txn)

    def _set_amounts(self, report, changes):
        for change in changes:
            txn = self._transaction(report, change)
            amount = change.get("amount")
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise BadRequest("set_amount.amount must be integer minor units")
            txn["amount"] = txn["modifiedAmount"] = amount
            txn["modified"] = True
            txn["convertedAmount"] = data.convert(amount, txn["currency"], report["currency"],
                                                  txn.get("currencyConversionRate", 1))
        report["total"] = _real_total(report)

    def _patch_transactions(self, report, changes):
        patches = self.patches.setdefault(report["reportID"], {}).setdefault("transactions", {})
        for change in changes:
            txn = self._transaction(report, change)
            fields = {k: v for k, v in change.items() if k != "transactionID"}
            if not fields:
                raise BadRequest("set_transaction needs a field to set besides transactionID")
            patches.setdefault(str(txn["transactionID"]), {}).update(fields)

    def _patch_report(self, report, fields):
        if not isinstance(fields, dict) or not fields:
            raise BadRequest('set_report expects {"field": value, ...}')
        refused = sorted(set(fields) & set(UNPATCHABLE_REPORT_KEYS))
        if refused:
            raise BadRequest(f"set_report cannot set {', '.join(refused)}: use action, add_transaction, "
                             "set_transaction or remove_transactions")
        self.patches.setdefault(report["reportID"], {}).setdefault("report", {}).update(fields)

    def _transaction(self, report, change):
        wanted = change.get("transactionID")
        txn = next((t for t in report["transactionList"]
                    if wanted is not None and t.get("transactionID") is not None
                    and str(t["transactionID"]) == str(wanted)), None)
        if txn is None:
            raise NotFoundError(f"no transaction {wanted} on report {report['reportID']}")
        return txn

    def _act(self, report, action):
        stamp = self.now().strftime(data.DATETIME_FORMAT)
        state = report["state"]
        if action == "unapprove":
            if state not in ("APPROVED", "REIMBURSED"):
                raise BadRequest(f"report {report['reportID']} is {state}; only approved or reimbursed reports can be unapproved")
            # The sandbox lets a reimbursed report be unapproved in one step (the product needs two).
            report.update(state="SUBMITTED", status=data.STATUS_NAMES["SUBMITTED"], approved=None, reimbursed=None,
                          isACHReimbursed=False)
            report["submitted"] = report["submitted"] or stamp
        elif action == "approve":
            if state not in ("OPEN", "SUBMITTED"):
                raise BadRequest(f"report {report['reportID']} is already {state}")
            approver = self.policies.get(report["policyID"], {}).get("approver") or report["managerEmail"]
            report.update(state="APPROVED", status=data.STATUS_NAMES["APPROVED"], approved=stamp, managerEmail=approver,
                          submitted=report["submitted"] or stamp, labels=[])
            report["approvers"] = list(report.get("approvers") or []) + [{"email": approver, "date": stamp}]
        elif action == "reimburse":
            if state != "APPROVED":
                raise BadRequest(f"report {report['reportID']} is {state}; only approved reports can be reimbursed")
            report.update(state="REIMBURSED", status=data.STATUS_NAMES["REIMBURSED"], reimbursed=stamp)
        else:
            raise BadRequest(f"unknown action {action!r}: approve, unapprove or reimburse")


CONTROL_KEYS = ("remove_transactions", "add_transaction", "set_amount", "set_transaction", "set_report", "action")


def _one_or_many(value, name):
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, dict) for i in items):
        raise BadRequest(f"{name} expects an object or a list of objects")
    return items


def _finite(value):
    """False when a NaN or infinity hides anywhere in a parsed JSON body (Python's json accepts them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _patched(view, patch):
    """``view`` with a control patch applied: a None value removes the field."""
    for key, value in (patch or {}).items():
        if value is None:
            view.pop(key, None)
        else:
            view[key] = value
    return view


def _real_total(report):
    """Sum of the expenses' convertedAmount, skipping values a control call left non-integer."""
    return sum(t["convertedAmount"] for t in report["transactionList"]
               if isinstance(t.get("convertedAmount"), int) and not isinstance(t["convertedAmount"], bool))


def _merge_named(current, items, action, defaults, *, whole):
    """Merge or replace a list of ``{"name": ...}`` objects. ``whole``: a named item in
    ``items`` replaces its counterpart entirely (Expensify's tag groups)."""
    if action == "replace":
        return [dict(defaults, **item) for item in items]
    out = [dict(item) for item in current]
    index = {item["name"]: i for i, item in enumerate(out)}
    for item in items:
        if item["name"] in index:
            i = index[item["name"]]
            out[i] = dict(defaults, **item) if whole else dict(out[i], **item)
        else:
            index[item["name"]] = len(out)
            out.append(dict(defaults, **item))
    return out


Fake = ExpensifyFake
