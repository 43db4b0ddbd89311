"""Fake Oracle JD Edwards EnterpriseOne AIS Server, per shared/reference/jde.md.

Served under ``/jde``; every AIS path starts ``/jderest/`` followed by an optional
version (none = v1, ``v2/``, ``v3/``). Endpoint names (for call counts and faults):

    tokenrequest           POST /jderest[/v2]/tokenrequest; v3: GET|POST /jderest/v3/orchestrator/jde-login
    tokenrequest/validate  POST .../tokenrequest/validate; v3: .../orchestrator/jde-validate-session
    tokenrequest/logout    POST .../tokenrequest/logout;   v3: .../orchestrator/jde-logout
    dataservice            POST /jderest/v2/dataservice (table BROWSE)
    dataservice/next       GET|POST /jderest/v2/dataservice/next?stackId=&stateId=&rid=&fullGridId=
    dataservice/table      GET /jderest/v2/dataservice/table/<T>?$field=&$filter=&$limit=&$sort=
    orchestrator           POST /jderest[/v2|/v3]/orchestrator/<name>
    open-api-catalog       GET /jderest/v3/open-api-catalog3

Auth: ``POST tokenrequest`` with JSON ``username, password, environment, role,
deviceName`` (or, v3 ``jde-login``, ``Authorization: Basic`` plus ``jde-AIS-Auth-
Environment``/``-Role``/``-Device`` headers) answers the documented token response;
bad credentials 403, bad JSON 400, a non-JSON content type 415. Later calls carry
``jde-AIS-Auth: <token>`` or ``"token"`` in the JSON body. A token lives
``token_lifetime`` seconds from issue on the sandbox clock (``validate`` with
``touch: true`` renews it); an unknown, expired or logged-out token, or a call
without any, answers HTTP 444 ``{"message": "Invalid Token", ...}`` on every endpoint.
A token requested with a device name must be used with that device (when the call
names one); one without is bound to the caller's IP. ``restart()`` (the core's
"restart" fault) forgets every token and open result set.

Data service: ``targetType: table`` ``BROWSE`` over F0901, F0101, F0401, F0911Z1 and F0911
(columns in ``sandbox.jde_data.TABLES``) with ``returnControlIDs``, ``maxPageSize``,
``enableNextPageProcessing``, ``query`` (``matchType`` MATCH_ALL|MATCH_ANY; operators
EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, BETWEEN, LIST,
STR_START_WITH, STR_END_WITH, STR_CONTAIN, STR_BLANK, STR_NOT_BLANK; ``specialValueId``
LITERAL, TODAY, TODAY_MINUS_/TODAY_PLUS_DAY|MONTH|YEAR, LOGIN_USER) and
``aggregation.orderBy``. The answer is ``fs_DATABROWSE_<T>`` with rows keyed
``<T>_<ALIAS>``; while rows remain (and next-page processing is on) it carries
``links: [{"rel": "next", "href"}]``. An open result set expires ``result_set_timeout``
seconds after its last use: then ``next`` answers 500 with the JAS_MSG347 ``sysErrors``.
F0911Z1 rows are served whatever their VNEDSP; F0911 (Account Ledger, prefix GL) holds
what the simulated batch processor made of them (below).

Orchestration ``MLC_AddJournalBatch`` (the name is ``journal_orchestration``). This is
the sandbox's design of a customer-built orchestration, not an Oracle artifact: the
contract ml-connector specifies for customers to build. Its published input is::

    {"BatchReference": "EXP-12345",   # required, <= 22 chars: VNEDTN (one journal entry) AND VNEXR of every line
     "User": "MLCONN",                # optional, <= 10 chars: VNEDUS (default: the token's user)
     "DocumentType": "JE",            # optional (default JE): VNDCT
     "Company": "00001",              # optional (default 00001): VNKCO and VNCO, zero-filled to 5
     "GLDate": "2026-11-20",          # required, YYYY-MM-DD or YYYYMMDD: VNDGJ (Julian)
     "Currency": "USD",               # required: VNCRCD; decimals limited by the currency
     "Explanation": "...",            # optional: VNEXA of lines without their own
     "Lines": [{"LineNumber": 1,       # optional (default: position): VNEDLN
                "Account": "200.6110.CC10",   # BU.OBJ[.SUB]: VNANI with VNAM "2", and VNAID/MCU/OBJ/SUB
                "Amount": "123.45",     # display decimal string, signed: debit +, credit -: VNAA
                "Explanation": "...",   # VNEXA (30)
                "Remark": "..."}]}      # accepted and IGNORED: VNEXR holds the BatchReference

and its output ``{"BatchNumber": "<VNEDBT>", "DocumentNumber": <VNDOC>, "Existing": false,
"jde__status": "SUCCESS", "jde__startTimestamp", "jde__endTimestamp",
"jde__serverExecutionSeconds", "jde__simpleMessage"}``. Every row is written with VNEDSP
"0", VNEDTC "A", VNEDTR "J", VNLT "AA"; the batch number (VNEDBT) and document number
(VNDOC) come from next-number counters.

Why the reference is in VNEXR too (shared/reference/jde.md, "Where a journal lives after
it is written"): VNEDTN exists in the Z-file only. R09110Z creates the journal in F0911
and sets VNEDSP to "1"; sites later purge processed Z rows, so a reconcile searching
F0911Z1 alone stops finding a journal that is still in the ledger. The explanations
(VNEXA/VNEXR) and the document number, type and company (VNDOC/VNDCT/VNKCO) are carried
into F0911 (GLEXA, GLEXR, GLDOC, GLDCT, GLKCO; the reference marks this carry-over
UNCONFIRMED), so the reference in VNEXR survives processing and purging and is searched
as GLEXR. (Client code must therefore not rely on the line Remark for anything else.)

Idempotency (``journal_idempotent``, default true; part of the contract): when a journal
with the same BatchReference already exists, in F0911Z1 by VNEDTN in any VNEDSP state or,
after a purge, in F0911 by GLEXR, the orchestration writes nothing and answers HTTP 200
with that journal's ``BatchNumber`` and ``DocumentNumber`` (the first one written),
``"Existing": true``, ``jde__status`` "SUCCESS" and a ``jde__simpleMessage`` saying it
already exists. The reference alone decides: the other inputs are not compared, and the
check comes before any validation but the BatchReference's own (a journal written before
an account was closed is still reported as written). The server serialises the fake's calls, so the check and the
write are atomic, as the customer's orchestration must make them (e.g. one database
transaction). With ``journal_idempotent: false`` it behaves like raw Z-file writes: a
BatchReference already present is NOT rejected, posting twice makes two batches (with two
document numbers). Independently, JDE's own guard: a VNDOC value "cannot exist in the
F0911 table with the same general ledger and document type, or the transaction is
considered a duplicate and is not processed" [doc, "Optional Fields"]; the simulated
processor applies it per (KCO, DCT, DOC).

Definite rejections (nothing written) answer HTTP 500 with a ``ServiceErrorResponse``
whose ``userDefinedErrorText`` names the problem and ``status`` is ``"ERROR"``: an
account not in F0901, a non-posting (PEC N) or inactive (PEC I) account, an account of
another company, lines that do not balance to zero, more decimals than the currency
allows (``catalog.CURRENCY_EXPONENTS``), an amount with more than 15 digits including
those decimals (VNAA's size: UNCONFIRMED), an unknown currency, a bad GL date, no lines,
a missing or too long BatchReference. Texts longer than their column (VNEXA 30) are
truncated, as the form field would.

The batch processor (R09110Z) is simulated on demand (``POST /_sandbox/jde/process``) or,
with ``auto_process``, right after each write. Per unprocessed transaction (EDUS, EDBT,
EDTN with VNEDSP "0") it writes one F0911 row per Z row: GLKCO <- VNKCO (or VNCO), GLDCT,
GLDOC, GLDGJ, GLJELN <- VNEDLN, GLLT, GLAID/MCU/OBJ/SUB/ANI, GLAA, GLCRCD, GLEXA, GLEXR,
GLCO, GLICU <- VNEDBT with GLICUT "G", GLPOST blank (unposted), GLUPMJ/UPMT now; then
sets VNEDSP "1". A transaction whose (KCO, DCT, DOC) is already in F0911 stays "0" and is
reported as an error (the VNDOC duplicate rule). A real processor may assign its own
batch number (GLICU), UNCONFIRMED: clients should not match F0911 rows on it.

Documented choices where the vendor's behaviour is UNCONFIRMED (settings live in
``sandbox.config["jde"]``):
  * ``token_lifetime`` (default 1800 s): absolute from issue; ordinary calls do not extend it;
  * ``result_set_timeout`` (60 s, the documented default), ``default_page_size`` (100,
    used without ``maxPageSize``; ``"No Max"`` returns everything);
  * ``grid_date_format``: how date columns come back in GRID_DATA: ``"YYYYMMDD"``
    (default, as the reference infers), ``"julian"`` (CYYDDD integer) or ``"user"``
    (MM/dd/yyyy); condition values accept all of these and ISO dates;
  * numbers (AN8, DOC, EDLN) and amounts come back as JSON numbers, text trimmed, business
    units right-justified to 12; MCU conditions compare the trimmed value;
  * a call without any token: 444; an unknown table, column, operator or orchestration:
    400/404 with a ``ServiceErrorResponse``;
  * ``allowed_hosts``: a list of client IPs; when set, anyone else gets the 405 Allowed
    Hosts answer on every endpoint (an injected 405 fault gives the same body);
  * the next-page href carries ``stackId, stateId, rid, fullGridId`` (never the token);
  * v3 login/validate/logout answer the same bodies as the v2 token endpoints;
  * ``journal_idempotent`` (default true) and ``auto_process`` (default false): see above.

Control (``/_sandbox/jde/...``): ``GET F0911Z1[?reference=EXP-1&batch=]`` (rows with
their VN-prefixed column names; VNAA as a decimal string, VNDGJ Julian), ``GET
F0911[?reference=EXP-1&batch=&document=]`` (ledger rows, GL-prefixed; ``reference``
matches GLEXR, ``batch`` GLICU), ``POST process`` (optional body ``{"reference": "EXP-1"}``
and/or ``{"batch": "10001"}``: run the simulated R09110Z; answers ``{"journals": n,
"lines": n, "processed": [...], "errors": [...]}``), ``POST purge`` (same optional body:
delete processed, VNEDSP "1", Z rows; answers ``{"journals": n, "lines": n}``), ``GET
batches`` (per Z batch: user, batch, reference, document, lines, net, currency,
processed), ``GET accounts``, ``POST accounts`` ``{"account": "900.6110.CC10", "PEC": "I",
"DL01": ..., "LDA": ..., "CO": ...}`` (alters the row, or adds it with a new AID), ``GET
suppliers``, ``GET tokens`` (``{"live": n, "result_sets": n}``), ``POST restart`` (as the
restart fault).
"""

import base64
import datetime as dt
import re
import secrets
import time
from decimal import Decimal, InvalidOperation

from . import catalog
from . import jde_data as data
from .http import BadRequest, Fake, NotFoundError, Response, json_response

PATH_RE = re.compile(r"^/jderest(?:/(v2|v3))?(/.*)?$")
DEFAULT_ORCHESTRATION = "MLC_AddJournalBatch"
JAVA_EXCEPTION = "java.lang.Exception"
ALLOWED_HOSTS_MESSAGE = "Allowed Hosts on the HTML server is not configured to accept requests from this AIS Server"
RESULT_SET_EXPIRED = ("JAS_MSG347: The query results expired. The results of this query are no longer available "
                      "on the server; run the query again.")
OPERATORS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "BETWEEN", "LIST",
             "STR_START_WITH", "STR_END_WITH", "STR_CONTAIN", "STR_BLANK", "STR_NOT_BLANK")
SIMPLE_OPERATORS = {"EQ": "EQUAL", "NE": "NOT_EQUAL", "LT": "LESS", "LE": "LESS_EQUAL", "GT": "GREATER",
                    "GE": "GREATER_EQUAL", "STARTSWITH": "STR_START_WITH", "ENDSWITH": "STR_END_WITH",
                    "CONTAINS": "STR_CONTAIN"}
V3_AUTH = {"jde-login": "tokenrequest", "jde-validate-session": "tokenrequest/validate", "jde-logout": "tokenrequest/logout"}
TEXT_LENGTHS = {"EXA": 30, "EXR": 30}
AMOUNT_DIGITS = 15  # VNAA/GLAA: digits including the currency's decimals (UNCONFIRMED: not in the reference)


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


class Route:
    def __init__(self, endpoint, version, parts=(), name=None):
        self.endpoint = endpoint
        self.version = version or "v1"
        self.parts = parts
        self.name = name


def _truthy(value):
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


class JdeFake(Fake):
    name = "jde"
    default_config = {
        "token_lifetime": 1800,
        "result_set_timeout": 60,
        "default_page_size": 100,
        "grid_date_format": "YYYYMMDD",
        "journal_orchestration": DEFAULT_ORCHESTRATION,
        "allowed_hosts": None,
        "journal_idempotent": True,
        "auto_process": False,
    }

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.tables = {}
        self.tokens = {}
        self.result_sets = {}
        self._creds = {}
        self.anchor = None
        self._epoch = 0.0
        self._next_batch = 0
        self._next_doc = 0
        self._next_aid = 0
        self._stack = 0

    # -- lifecycle ------------------------------------------------------------------------
    def reset(self, seed, size, anchor):
        self.tables = data.generate(seed, size, anchor)
        self.anchor = anchor
        self._epoch = self.sandbox.clock()
        self._creds = data.credentials_for(seed)
        self.tokens = {}
        self.result_sets = {}
        self._next_batch = 10001
        self._next_doc = 5000001
        self._next_aid = max(int(r["AID"]) for r in self.tables["F0901"]) + 1
        self._stack = 0

    def restart(self):
        """An AIS Server restart: every token and every open result set is gone."""
        self.tokens.clear()
        self.result_sets.clear()

    def credentials(self):
        return dict(self._creds)

    def now(self):
        """The world's current time: the anchor's midnight plus the time since reset."""
        elapsed = max(0.0, self.sandbox.clock() - self._epoch)
        return dt.datetime.combine(self.anchor, dt.time()) + dt.timedelta(seconds=elapsed)

    def _stamp(self):
        return self.now().strftime("%Y-%m-%d:%H.%M.%S")

    # -- routing ------------------------------------------------------------------------------
    def _route(self, req):
        cached = getattr(req, "_jde_route", None)
        if cached is not None:
            return cached or None
        route = self._resolve(req)
        req._jde_route = route or False
        return route

    def _resolve(self, req):
        match = PATH_RE.match(req.path)
        if not match:
            return None
        version = match.group(1)
        parts = [p for p in (match.group(2) or "").split("/") if p]
        method = req.method
        if not parts:
            return None
        head = parts[0]
        if head == "tokenrequest" and method == "POST":
            if len(parts) == 1:
                return Route("tokenrequest", version)
            if len(parts) == 2 and parts[1] in ("validate", "logout"):
                return Route(f"tokenrequest/{parts[1]}", version)
            return None
        if head == "dataservice":
            if len(parts) == 1 and method == "POST":
                return Route("dataservice", version)
            if len(parts) == 2 and parts[1] == "next" and method in ("GET", "POST"):
                return Route("dataservice/next", version)
            if len(parts) == 3 and parts[1] == "table" and method == "GET":
                return Route("dataservice/table", version, name=parts[2].upper())
            return None
        if head == "orchestrator" and len(parts) == 2:
            name = parts[1]
            if version == "v3" and name in V3_AUTH:
                if method == "POST" or (name == "jde-login" and method == "GET"):
                    return Route(V3_AUTH[name], version, name=name)
                return None
            if method == "POST":
                return Route("orchestrator", version, name=name)
            return None
        if head in ("open-api-catalog3", "open-api-catalog") and len(parts) == 1 and method == "GET":
            return Route("open-api-catalog", version)
        return None

    def endpoint(self, req):
        route = self._route(req)
        return route.endpoint if route else None

    # -- dispatch -------------------------------------------------------------------------------
    def handle(self, req):
        route = self._route(req)
        if route is None:
            raise NotFoundError(f"jde: no endpoint {req.method} {req.path}")
        handlers = {
            "tokenrequest": self._tokenrequest,
            "tokenrequest/validate": self._validate,
            "tokenrequest/logout": self._logout,
            "dataservice": self._dataservice,
            "dataservice/next": self._next_page,
            "dataservice/table": self._table_get,
            "orchestrator": self._orchestrator,
            "open-api-catalog": self._catalog,
        }
        try:
            self._check_host(req)
            return handlers[route.endpoint](req, route)
        except JdeError as exc:
            return exc.response()

    def fault_body(self, status, req):
        if status == 444:
            return self._invalid_token_body()
        if status == 405:
            return self._allowed_hosts_body()
        if status == 503:
            return Response(503, "<html><head><title>503 Service Unavailable</title></head><body><h1>Service "
                                 "Unavailable</h1><p>The server is temporarily unable to service your request.</p>"
                                 "</body></html>", content_type="text/html")
        if status == 403:
            return self._service_error("Authorization Failure")
        if status >= 500:
            return self._service_error("Internal Server Error")
        return self._service_error(f"HTTP {status}")

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
                "Authorization Failure: the user, password, environment or role is not valid"))
        return expected["username"], expected["environment"], str(role).upper()

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
        if _truthy(body.get("touch")):
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

    # -- values ---------------------------------------------------------------------------------------
    def today(self):
        return self.now().date()

    def _parse_date(self, value):
        """A condition literal as a date: Julian CYYDDD, YYYYMMDD, YYYY-MM-DD or MM/DD/YYYY."""
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if text.isdigit() and len(text) <= 7:
            return data.from_julian(int(text))
        for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y"):
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise ValueError(f"{value!r} is not a date")

    def _comparable(self, kind, value):
        """A stored value or a condition literal, as something comparable for the column kind."""
        if kind in ("str", "mcu"):
            return "" if value is None else str(value).strip()
        if kind in ("num", "amount", "time"):
            if value is None or (isinstance(value, str) and not value.strip()):
                return Decimal(0)
            return Decimal(str(value).strip())
        if kind == "date":
            if value in (None, "", 0, "0"):
                return dt.date.min
            if isinstance(value, dt.date):
                return value
            day = self._parse_date(value)
            return day or dt.date.min
        return value

    def _out(self, kind, value):
        """A stored value as the data service returns it."""
        if kind == "mcu":
            return data.pad_mcu(value)
        if kind == "str":
            return "" if value is None else str(value).rstrip()
        if kind in ("num", "time"):
            return int(value or 0)
        if kind == "amount":
            return float(Decimal(value))
        if kind == "date":
            day = data.from_julian(value) if value else None
            style = str(self.settings.get("grid_date_format") or "YYYYMMDD").lower()
            if style == "julian":
                return int(value or 0)
            if day is None:
                return ""
            return day.strftime("%m/%d/%Y") if style == "user" else day.strftime("%Y%m%d")
        return value

    # -- data service -----------------------------------------------------------------------------------
    def _table(self, name):
        table = data.TABLES.get(str(name or "").upper())
        if table is None:
            raise self._fail(400, f"Table {name} is not available on this server (sandbox tables: "
                                  f"{', '.join(data.TABLES)})")
        return str(name).upper(), table

    def _column(self, table_name, table, control_id):
        text = str(control_id or "").strip()
        if "." in text:
            owner, _, alias = text.partition(".")
            if owner.upper() != table_name:
                raise self._fail(400, f"Column {text} does not belong to {table_name}")
        else:
            alias = text
        alias = alias.upper()
        if alias not in table["columns"]:
            raise self._fail(400, f"Column {text} is not in {table_name}")
        return alias

    def _columns(self, table_name, table, value):
        if not value:
            return list(table["columns"])
        items = value if isinstance(value, list) else str(value).split("|")
        return [self._column(table_name, table, item) for item in items if str(item).strip()]

    def _literal(self, item, session):
        if not isinstance(item, dict):
            return item
        special = str(item.get("specialValueId") or "LITERAL").upper()
        content = item.get("content")
        if special == "LITERAL":
            return content
        if special == "LOGIN_USER":
            return session["user"]
        if special == "TODAY":
            return self.today()
        match = re.fullmatch(r"TODAY_(MINUS|PLUS)_(DAY|MONTH|YEAR)", special)
        if not match:
            raise self._fail(400, f"specialValueId {special} is not supported")
        try:
            amount = int(content or 0)
        except (TypeError, ValueError):
            raise self._fail(400, f"{special} needs a whole number content, not {content!r}")
        amount = -amount if match.group(1) == "MINUS" else amount
        today = self.today()
        if match.group(2) == "DAY":
            return today + dt.timedelta(days=amount)
        months = today.year * 12 + today.month - 1 + (amount if match.group(2) == "MONTH" else amount * 12)
        year, month = divmod(months, 12)
        day = min(today.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                              31, 31, 30, 31, 30, 31][month])
        return dt.date(year, month + 1, day)

    def _predicate(self, table_name, table, condition, session):
        if not isinstance(condition, dict):
            raise self._fail(400, "A query condition must be an object")
        alias = self._column(table_name, table, condition.get("controlId"))
        kind = table["columns"][alias][0]
        operator = str(condition.get("operator") or "").upper()
        if operator not in OPERATORS:
            raise self._fail(400, f"Operator {operator or '(none)'} is not supported")
        raw = condition.get("value")
        raw = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        literals = [self._literal(item, session) for item in raw]
        needed = {"BETWEEN": 2, "STR_BLANK": 0, "STR_NOT_BLANK": 0}.get(operator)
        if needed is not None and len(literals) < needed:
            raise self._fail(400, f"Operator {operator} needs {needed} values")
        if needed is None and not literals:
            raise self._fail(400, f"Operator {operator} needs a value")
        try:
            if operator.startswith("STR_"):
                text = str(literals[0]) if literals else ""
                tests = {
                    "STR_START_WITH": lambda v: v.startswith(text),
                    "STR_END_WITH": lambda v: v.endswith(text),
                    "STR_CONTAIN": lambda v: text in v,
                    "STR_BLANK": lambda v: v == "",
                    "STR_NOT_BLANK": lambda v: v != "",
                }[operator]
                return lambda row: tests(str(row.get(alias) if row.get(alias) is not None else "").strip())
            values = [self._comparable(kind, v) for v in literals]
        except (ValueError, InvalidOperation, ArithmeticError):
            raise self._fail(400, f"Value {literals!r} does not fit column {table_name}.{alias}")

        def value_of(row):
            return self._comparable(kind, row.get(alias))

        first = values[0]
        return {
            "EQUAL": lambda row: value_of(row) == first,
            "NOT_EQUAL": lambda row: value_of(row) != first,
            "LESS": lambda row: value_of(row) < first,
            "LESS_EQUAL": lambda row: value_of(row) <= first,
            "GREATER": lambda row: value_of(row) > first,
            "GREATER_EQUAL": lambda row: value_of(row) >= first,
            "BETWEEN": lambda row: first <= value_of(row) <= values[1],
            "LIST": lambda row: value_of(row) in values,
        }[operator]

    def _select(self, table_name, table, query, session):
        rows = self.tables[table_name]
        if not query:
            return list(rows)
        if not isinstance(query, dict):
            raise self._fail(400, "query must be an object")
        conditions = query.get("condition") or []
        if not isinstance(conditions, list):
            raise self._fail(400, "query.condition must be a list")
        predicates = [self._predicate(table_name, table, c, session) for c in conditions]
        if not predicates:
            return list(rows)
        combine = any if str(query.get("matchType") or "MATCH_ALL").upper() == "MATCH_ANY" else all
        return [row for row in rows if combine(p(row) for p in predicates)]

    def _order(self, table_name, table, rows, order_by):
        if not order_by:
            return rows
        if not isinstance(order_by, list):
            raise self._fail(400, "aggregation.orderBy must be a list")
        for item in reversed(order_by):
            if not isinstance(item, dict):
                raise self._fail(400, "an orderBy entry must be an object")
            alias = self._column(table_name, table, item.get("column"))
            kind = table["columns"][alias][0]
            descending = str(item.get("direction") or "ASC").upper() == "DESC"
            rows = sorted(rows, key=lambda r, a=alias, k=kind: self._comparable(k, r.get(a)), reverse=descending)
        return rows

    def _page_size(self, value):
        if value is None or value == "":
            return int(self.settings.get("default_page_size") or 100)
        if isinstance(value, str) and value.strip().lower() == "no max":
            return None
        try:
            size = int(value)
        except (TypeError, ValueError):
            raise self._fail(400, f"maxPageSize {value!r} is not a number")
        if size < 1:
            raise self._fail(400, "maxPageSize must be at least 1")
        return size

    def _grid(self, table_name, table, columns, rows, more, *, grid_id=1):
        records = [{f"{table_name}_{a}": self._out(table["columns"][a][0], row.get(a)) for a in columns} for row in rows]
        return {
            "title": f"Data Browser - {table_name} [{table['title']}]",
            "data": {"gridData": {
                "id": grid_id, "fullGridId": str(grid_id),
                "columns": {f"{table_name}_{a}": table["columns"][a][1] for a in columns},
                "rowset": records,
                "summary": {"records": len(records), "moreRecords": bool(more)},
            }},
            "errors": [], "warnings": [],
        }

    def _envelope(self, table_name, grid, links=None):
        body = {f"fs_DATABROWSE_{table_name}": grid, "currentApp": f"DATABROWSE_{table_name}",
                "timeStamp": self._stamp(), "sysErrors": []}
        if links:
            body["links"] = links
        return body

    def _dataservice(self, req, route):
        body = self._json_body(req)
        session = self._session(req, body)
        target_type = str(body.get("targetType") or "table").lower()
        if target_type != "table":
            raise self._fail(400, f"targetType {target_type} is not supported by the sandbox (tables only)")
        kind = str(body.get("dataServiceType") or "BROWSE").upper()
        if kind != "BROWSE":
            raise self._fail(400, f"dataServiceType {kind} is not supported by the sandbox (BROWSE only)")
        table_name, table = self._table(body.get("targetName"))
        columns = self._columns(table_name, table, body.get("returnControlIDs"))
        rows = self._select(table_name, table, body.get("query"), session)
        rows = self._order(table_name, table, rows, (body.get("aggregation") or {}).get("orderBy"))
        size = self._page_size(body.get("maxPageSize"))
        page, rest = (rows, []) if size is None else (rows[:size], rows[size:])
        links = None
        if rest and _truthy(body.get("enableNextPageProcessing")):
            self._stack += 1
            rid = secrets.token_hex(8)
            self.result_sets[rid] = {
                "table": table_name, "columns": columns, "rows": [dict(r) for r in rest], "size": size,
                "stack": self._stack, "state": 1,
                "expires": self.sandbox.clock() + float(self.settings.get("result_set_timeout") or 60),
            }
            links = [self._next_link(req, route, rid)]
        return json_response(self._envelope(table_name, self._grid(table_name, table, columns, page, bool(rest)), links))

    def _next_link(self, req, route, rid):
        rs = self.result_sets[rid]
        host = req.headers.get("host", "localhost")
        version = route.version if route.version != "v1" else "v2"
        href = (f"http://{host}/{self.name}/jderest/{version}/dataservice/next?stackId={rs['stack']}"
                f"&stateId={rs['state']}&rid={rid}&fullGridId=1")
        return {"rel": "next", "href": href, "context": f"DATABROWSE_{rs['table']}"}

    def _next_page(self, req, route):
        body = self._json_body(req, required=False) if req.body else {}
        self._session(req, body)
        rid = req.arg("rid") or body.get("rid")
        rs = self.result_sets.get(rid or "")
        if rs is None or self.sandbox.clock() >= rs["expires"]:
            self.result_sets.pop(rid or "", None)
            raise JdeError(500, {"sysErrors": [{"TITLE": RESULT_SET_EXPIRED,
                                                "DESC": "The result set of this query was closed after "
                                                        "resultSetTimeout; query again from the start."}]})
        table_name = rs["table"]
        table = data.TABLES[table_name]
        page, rest = rs["rows"][:rs["size"]], rs["rows"][rs["size"]:]
        links = None
        if rest:
            rs["rows"] = rest
            rs["state"] += 1
            rs["expires"] = self.sandbox.clock() + float(self.settings.get("result_set_timeout") or 60)
            links = [self._next_link(req, route, rid)]
        else:
            del self.result_sets[rid]
        return json_response(self._envelope(table_name, self._grid(table_name, table, rs["columns"], page, bool(rest)),
                                            links))

    def _table_get(self, req, route):
        session = self._session(req, {})
        table_name, table = self._table(route.name)
        fields = [f for value in req.query.get("$field", []) for f in value.split(",") if f.strip()]
        columns = self._columns(table_name, table, fields)
        conditions = []
        for text in req.query.get("$filter", []):
            pieces = text.strip().split(None, 2)
            if len(pieces) != 3 or pieces[1].upper() not in SIMPLE_OPERATORS:
                raise self._fail(400, f"$filter {text!r}: expected '<TABLE.ALIAS> <EQ|NE|LT|LE|GT|GE|STARTSWITH|"
                                      "ENDSWITH|CONTAINS> <value>'")
            value = pieces[2].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            conditions.append({"controlId": pieces[0], "operator": SIMPLE_OPERATORS[pieces[1].upper()],
                               "value": [{"content": value, "specialValueId": "LITERAL"}]})
        rows = self._select(table_name, table, {"condition": conditions}, session)
        order = []
        for text in req.query.get("$sort", []):
            for item in text.split(","):
                pieces = item.split()
                if pieces:
                    order.append({"column": pieces[0], "direction": pieces[1].upper() if len(pieces) > 1 else "ASC"})
        rows = self._order(table_name, table, rows, order)
        limit = self._page_size(req.arg("$limit"))
        page = rows if limit is None else rows[:limit]
        return json_response(self._envelope(table_name, self._grid(table_name, table, columns, page, len(page) < len(rows))))

    # -- orchestrations ---------------------------------------------------------------------------------
    def _orchestration_names(self):
        name = self.settings.get("journal_orchestration") or DEFAULT_ORCHESTRATION
        return [name] if isinstance(name, str) else list(name)

    def _catalog(self, req, route):
        self._session(req, {})
        paths = {}
        for name in self._orchestration_names():
            paths[f"/v3/orchestrator/{name}"] = {"post": {
                "operationId": name, "summary": "Add a journal entry batch to F0911Z1 (ml-connector sandbox)",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    k: {"type": "string"} for k in ("BatchReference", "User", "DocumentType", "Company", "GLDate",
                                                    "Currency", "Explanation")} | {"Lines": {"type": "array"}}}}}},
                "responses": {"200": {"description": "BatchNumber, DocumentNumber, Existing"}},
            }}
        return json_response({"openapi": "3.0.1", "info": {"title": "JD Edwards Orchestrator", "version": "9.2"},
                              "paths": paths})

    def _orchestrator(self, req, route):
        body = self._json_body(req)
        session = self._session(req, body)
        if route.name not in self._orchestration_names():
            raise self._fail(404, f"Orchestration {route.name} was not found or the user is not authorized to it")
        started = self.now()
        clock_start = time.perf_counter()
        inputs = {k: v for k, v in body.items() if k != "token"}
        try:
            batch, document, existing, message = self._journal(inputs, session)
        except _Rejected as exc:
            raise JdeError(500, self._service_error(
                f"Orchestration {route.name} failed", user_text=str(exc), error_type="Orchestration"))
        elapsed = time.perf_counter() - clock_start
        ended = self.now()
        return json_response({
            "BatchNumber": batch, "DocumentNumber": document, "Existing": existing,
            "jde__status": "SUCCESS",
            "jde__startTimestamp": started.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "jde__endTimestamp": ended.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "jde__serverExecutionSeconds": round(elapsed, 3),
            "jde__simpleMessage": message,
        })

    def _journal(self, inputs, session):
        """``(batch, document, existing, message)``: the journal already written for the
        reference (idempotent orchestration), else the one written now."""
        reference = self._reference(inputs)
        found = self._existing_journal(reference) if self._on("journal_idempotent", True) else None
        if found is not None:
            return found["batch"], found["document"], True, (
                f"Journal {reference} already exists as batch {found['batch']}, document {found['document_type']} "
                f"{found['document']} ({found['where']}); nothing was written")
        batch, document, lines = self._add_journal(inputs, reference, session)
        if self._on("auto_process", False):
            self._process(batch=batch)
        return batch, document, False, f"Batch {batch} with {lines} lines added to F0911Z1"

    def _on(self, name, default):
        """A boolean setting; JSON true/false or their text forms."""
        value = self.settings.get(name)
        return default if value is None else _truthy(value)

    @staticmethod
    def _reference(inputs):
        reference = str(inputs.get("BatchReference") or "").strip()
        if not reference:
            raise _Rejected("BatchReference is required")
        if len(reference) > 22:
            raise _Rejected(f"BatchReference {reference} is longer than 22 characters (VNEDTN)")
        return reference

    def _existing_journal(self, reference):
        """The first journal already written for ``reference``: in F0911Z1 by VNEDTN (whatever
        VNEDSP says), else in F0911 by GLEXR (the Z rows may have been purged), else None."""
        for row in self.tables["F0911Z1"]:
            if row["EDTN"] == reference:
                return {"batch": row["EDBT"], "document": row["DOC"], "document_type": row["DCT"],
                        "where": "F0911Z1"}
        for row in self.tables["F0911"]:
            if row["EXR"] == reference:
                return {"batch": str(row["ICU"]), "document": row["DOC"], "document_type": row["DCT"],
                        "where": "F0911"}
        return None

    def _find_account(self, business_unit, obj, sub):
        for row in self.tables["F0901"]:
            if row["MCU"].strip() == business_unit and row["OBJ"] == obj and row["SUB"] == sub:
                return row
        return None

    def _add_journal(self, inputs, reference, session):
        user = str(inputs.get("User") or session["user"]).strip().upper()
        if len(user) > 10:
            raise _Rejected(f"User {user} is longer than 10 characters (VNEDUS)")
        doc_type = str(inputs.get("DocumentType") or "JE").strip().upper()
        if not re.fullmatch(r"[A-Z0-9]{2}", doc_type):
            raise _Rejected(f"Document type {doc_type} is not valid")
        company = str(inputs.get("Company") or catalog.COMPANY).strip()
        if not company.isdigit() or len(company) > 5:
            raise _Rejected(f"Company {company} is not valid")
        company = company.zfill(5)
        if not any(r["CO"] == company for r in self.tables["F0901"]):
            raise _Rejected(f"Company {company} is not set up")
        raw_date = inputs.get("GLDate")
        gl_date = None
        text = str(raw_date or "").strip()
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                gl_date = dt.datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
        if gl_date is None:
            raise _Rejected(f"GL date '{text}' is not a valid date (expected YYYY-MM-DD or YYYYMMDD)")
        currency = str(inputs.get("Currency") or "").strip().upper()
        if currency not in catalog.CURRENCY_EXPONENTS:
            raise _Rejected(f"Currency code '{currency}' is not valid")
        exponent = catalog.CURRENCY_EXPONENTS[currency]
        lines = inputs.get("Lines")
        if not isinstance(lines, list) or not lines:
            raise _Rejected(f"Journal {reference} has no lines")
        header_text = str(inputs.get("Explanation") or "")
        problems, prepared, total = [], [], Decimal(0)
        for index, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                problems.append(f"Line {index} is not an object")
                continue
            number = line.get("LineNumber", index)
            try:
                number = int(number)
            except (TypeError, ValueError):
                problems.append(f"Line {index}: LineNumber {number!r} is not a number")
                continue
            account_text = str(line.get("Account") or "").strip()
            parts = account_text.split(".")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                problems.append(f"Line {number}: account '{account_text}' is not in BU.OBJ.SUB form")
                continue
            bu, obj, sub = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
            raw_amount = line.get("Amount")
            try:
                amount = Decimal(repr(raw_amount) if isinstance(raw_amount, float) else str(raw_amount).strip())
                if not amount.is_finite():
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                problems.append(f"Line {number}: amount '{raw_amount}' is not a number")
                continue
            places = -amount.normalize().as_tuple().exponent if amount else 0
            if places > exponent:
                problems.append(f"Line {number}: amount {raw_amount} has more decimals than {currency} allows "
                                f"({exponent})")
                continue
            if amount.copy_abs().adjusted() >= AMOUNT_DIGITS - exponent:
                problems.append(f"Line {number}: amount {raw_amount} has more digits than VNAA holds ({AMOUNT_DIGITS}, "
                                f"{exponent} of them decimals for {currency})")
                continue
            account = self._find_account(bu, obj, sub)
            key = data.account_key(bu, obj, sub)
            if account is None:
                problems.append(f"Account {key} is not in F0901")
                continue
            if account["PEC"] == "N":
                problems.append(f"Account {key} is a non-posting account (posting edit code N)")
                continue
            if account["PEC"] == "I":
                problems.append(f"Account {key} is inactive (posting edit code I)")
                continue
            if account["CO"] != company:
                problems.append(f"Account {key} belongs to company {account['CO']}, not {company}")
                continue
            total += amount
            # The line's Remark input is ignored: VNEXR carries the reference (see the contract above).
            prepared.append((number, account, key, amount, str(line.get("Explanation") or header_text)))
        if problems:
            raise _Rejected("; ".join(problems))
        if total != 0:
            raise _Rejected(f"Journal {reference} is out of balance by {total} {currency}")
        batch = str(self._next_batch)
        document = self._next_doc
        self._next_batch += 1
        self._next_doc += 1
        now = self.now()
        upmj, upmt = data.to_julian(now.date()), now.hour * 10000 + now.minute * 100 + now.second
        quantum = Decimal(1).scaleb(-exponent)
        for number, account, key, amount, explanation in prepared:
            self.tables["F0911Z1"].append({
                "EDUS": user, "EDBT": batch, "EDTN": reference, "EDLN": number, "EDSP": "0", "EDTC": "A", "EDTR": "J",
                "DCT": doc_type, "DOC": document, "KCO": company, "CO": company, "DGJ": data.to_julian(gl_date),
                "ANI": key, "AM": "2", "AID": account["AID"], "MCU": account["MCU"], "OBJ": account["OBJ"],
                "SUB": account["SUB"], "LT": "AA", "AA": amount.quantize(quantum), "CRCD": currency,
                "EXA": explanation[:TEXT_LENGTHS["EXA"]], "EXR": reference[:TEXT_LENGTHS["EXR"]],
                "UPMJ": upmj, "UPMT": upmt,
            })
        return batch, document, len(prepared)

    # -- control ----------------------------------------------------------------------------------------
    def _view(self, table_name, row):
        table = data.TABLES[table_name]
        prefix = table["prefix"]
        out = {}
        for alias, (kind, _) in table["columns"].items():
            value = row.get(alias)
            if kind == "amount":
                value = str(value)
            elif kind == "mcu":
                value = data.pad_mcu(value)
            out[f"{prefix}{alias}"] = value
        return out

    def control(self, req, subpath):
        parts = [p for p in subpath.split("/") if p]
        head = parts[0] if parts else ""
        method = req.method
        if head.upper() == "F0911Z1" and method == "GET":
            reference, batch = req.arg("reference"), req.arg("batch")
            rows = [r for r in self.tables["F0911Z1"]
                    if (reference is None or r["EDTN"] == reference) and (batch is None or r["EDBT"] == batch)]
            return json_response([self._view("F0911Z1", r) for r in rows])
        if head.upper() == "F0911" and method == "GET":
            return json_response(self._ledger_view(req))
        if head == "process" and method == "POST":
            return json_response(self._process(**self._selection(req)))
        if head == "purge" and method == "POST":
            return json_response(self._purge(**self._selection(req)))
        if head == "batches" and method == "GET":
            return json_response(self._batches())
        if head == "accounts" and method == "GET":
            return json_response([self._view("F0901", r) for r in self.tables["F0901"]])
        if head == "accounts" and method == "POST":
            return json_response(self._control_account(req.json()))
        if head == "suppliers" and method == "GET":
            names = {r["AN8"]: r for r in self.tables["F0101"]}
            return json_response([{**self._view("F0401", r), **self._view("F0101", names.get(r["AN8"], {}))}
                                  for r in self.tables["F0401"]])
        if head == "tokens" and method == "GET":
            return json_response({"live": self.live_tokens(), "result_sets": len(self.result_sets)})
        if head == "restart" and method == "POST":
            self.restart()
            return json_response({"live": 0})
        raise NotFoundError(f"no jde control endpoint {method} {subpath}")

    def _batches(self):
        groups = {}
        for row in self.tables["F0911Z1"]:
            key = (row["EDUS"], row["EDBT"])
            group = groups.setdefault(key, {"user": row["EDUS"], "batch": row["EDBT"], "reference": row["EDTN"],
                                            "document_type": row["DCT"], "document": row["DOC"], "company": row["CO"],
                                            "gl_date": data.from_julian(row["DGJ"]).isoformat(),
                                            "currency": row["CRCD"], "lines": 0, "net": Decimal(0), "processed": True})
            group["lines"] += 1
            group["net"] += row["AA"]
            group["processed"] = group["processed"] and row["EDSP"] == "1"
        return [{**g, "net": str(g["net"])} for g in groups.values()]

    def _ledger_view(self, req):
        reference, batch, document = req.arg("reference"), req.arg("batch"), req.arg("document")
        rows = [r for r in self.tables["F0911"]
                if (reference is None or r["EXR"] == reference) and (batch is None or str(r["ICU"]) == batch)
                and (document is None or str(r["DOC"]) == document)]
        return [self._view("F0911", r) for r in rows]

    @staticmethod
    def _selection(req):
        """``{"reference": ..., "batch": ...}`` from a JSON body (both optional; none = every row)."""
        body = req.json() if req.body else {}
        if not isinstance(body, dict) or set(body) - {"reference", "batch"}:
            raise BadRequest('expected {"reference": "EXP-1"} and/or {"batch": "10001"}, or no body for every row')
        return {k: str(v) for k, v in body.items() if v not in (None, "")}

    def _z_transactions(self, state, reference=None, batch=None):
        """F0911Z1 rows with VNEDSP ``state``, grouped per transaction (EDUS, EDBT, EDTN) in table order."""
        groups = {}
        for row in self.tables["F0911Z1"]:
            if row["EDSP"] != state or reference not in (None, row["EDTN"]) or batch not in (None, row["EDBT"]):
                continue
            groups.setdefault((row["EDUS"], row["EDBT"], row["EDTN"]), []).append(row)
        return groups

    def _process(self, reference=None, batch=None):
        """R09110Z in miniature: each unprocessed transaction becomes F0911 rows and its Z rows VNEDSP "1".

        A transaction whose document (KCO, DCT, DOC) is already in F0911 is a duplicate under
        the VNDOC rule: it is not processed and its rows keep VNEDSP "0", as on error."""
        ledger = self.tables["F0911"]
        documents = {(r["KCO"], r["DCT"], r["DOC"]) for r in ledger}
        now = self.now()
        upmj, upmt = data.to_julian(now.date()), now.hour * 10000 + now.minute * 100 + now.second
        journals, errors, lines = [], [], 0
        for (user, batch_number, ref), rows in self._z_transactions("0", reference, batch).items():
            first = rows[0]
            document = (first.get("KCO") or first["CO"], first["DCT"], first["DOC"])
            summary = {"user": user, "batch": batch_number, "reference": ref, "company": document[0],
                       "document_type": document[1], "document": document[2]}
            if document in documents:
                errors.append({**summary, "message": f"Document {document[1]} {document[2]} of company {document[0]} "
                                                     "already exists in F0911: duplicate, not processed"})
                continue
            for row in rows:
                ledger.append(self._ledger_row(row, upmj, upmt))
                row["EDSP"] = "1"
            documents.add(document)
            journals.append({**summary, "lines": len(rows)})
            lines += len(rows)
        return {"journals": len(journals), "lines": lines, "processed": journals, "errors": errors}

    @staticmethod
    def _ledger_row(row, upmj, upmt):
        """The F0911 line for one F0911Z1 row: document, account, amount and both explanations
        carried over; batch number = VNEDBT (type G); unposted (POST blank)."""
        batch = str(row["EDBT"]).strip()
        return {"KCO": row.get("KCO") or row["CO"], "DCT": row["DCT"], "DOC": row["DOC"], "DGJ": row["DGJ"],
                "JELN": row["EDLN"], "LT": row["LT"], "AID": row["AID"], "MCU": row["MCU"], "OBJ": row["OBJ"],
                "SUB": row["SUB"], "ANI": row["ANI"], "AA": row["AA"], "CRCD": row["CRCD"], "EXA": row["EXA"],
                "EXR": row["EXR"], "CO": row["CO"], "ICU": int(batch) if batch.isdigit() else 0, "ICUT": "G",
                "POST": "", "UPMJ": upmj, "UPMT": upmt}

    def _purge(self, reference=None, batch=None):
        """Delete processed (VNEDSP "1") F0911Z1 rows, as a site's purge job does; F0911 keeps the journal."""
        transactions = self._z_transactions("1", reference, batch)
        doomed = {id(r) for rows in transactions.values() for r in rows}
        self.tables["F0911Z1"] = [r for r in self.tables["F0911Z1"] if id(r) not in doomed]
        return {"journals": len(transactions), "lines": len(doomed)}

    def _control_account(self, body):
        if not isinstance(body, dict):
            raise BadRequest('expected {"account": "BU.OBJ[.SUB]" or "AID": ..., plus fields such as "PEC"}')
        row = None
        if body.get("AID"):
            row = next((r for r in self.tables["F0901"] if r["AID"] == str(body["AID"]).zfill(8)), None)
            if row is None:
                raise NotFoundError(f"no F0901 row with AID {body['AID']}")
        else:
            parts = str(body.get("account") or "").split(".")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise BadRequest('"account" must look like BU.OBJ or BU.OBJ.SUB')
            bu, obj, sub = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
            row = self._find_account(bu, obj, sub)
            if row is None:
                row = {"AID": f"{self._next_aid:08d}", "CO": catalog.COMPANY, "MCU": data.pad_mcu(bu), "OBJ": obj,
                       "SUB": sub, "DL01": f"Account {data.account_key(bu, obj, sub)}"[:30], "LDA": "6", "PEC": "",
                       "CRCD": "", "UPMJ": 0, "UPMT": 0}
                self._next_aid += 1
                self.tables["F0901"].append(row)
        for field in ("PEC", "DL01", "LDA", "CO", "CRCD"):
            if field in body:
                row[field] = str(body[field] or "").strip()
        now = self.now()
        row["UPMJ"] = data.to_julian(now.date())
        row["UPMT"] = now.hour * 10000 + now.minute * 100 + now.second
        return self._view("F0901", row)


class _Rejected(Exception):
    """A definite business rejection by the orchestration (nothing written)."""
