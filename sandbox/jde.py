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

Data service: ``targetType: table`` ``BROWSE`` over F0901, F0101, F0401, F0911Z1 and F0911,
and the purchasing and AP tables F4301, F4311, F0111, F01151, F0115, F0411Z1 and F0411
(``sandbox.jde_schema_ap``; seeded by ``sandbox.jde_purchasing_data``; columns of every table
in ``sandbox.jde_data.TABLES``) with ``returnControlIDs``, ``maxPageSize``,
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
  * ``journal_idempotent`` (default true) and ``auto_process`` (default false): see above;
  * ``voucher_orchestration`` (default ``MLC_AddVoucherBatch``) and ``voucher_idempotent``
    (default true): the AP voucher orchestration, see ``sandbox.jde_vouchers``;
  * ``supplier_orchestration`` (default ``MLC_UpsertSupplier``): adds or changes a supplier,
    see ``sandbox.jde_suppliers``;
  * ``inactive_supplier_search_type`` (default ``VX``): F0101.AT1 of a supplier made inactive
    through control (how a site retires suppliers is site-specific);
  * ``echo_credentials_in_errors`` (default null: never): a misbehaving server or gateway that
    quotes the submitted username, password, environment and role in its Authorization
    Failure message, as a JSON array (``"json"``: quotes and backslashes escaped, non-ASCII as
    ``\\uXXXX``; ``"json-utf8"``: non-ASCII kept) or URL-encoded path segments (``"url"``).
    No AIS documentation says the server does this; it exists so tests can prove the portal
    masks credentials in every encoding wherever a vendor's message lands.

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
restart fault). ``process`` and ``purge`` also handle voucher batches: when any was in scope
the answer carries ``"vouchers": {...}`` (``sandbox.jde_vouchers``), which also documents ``GET
F0411Z1`` and ``GET F0411``. Purchase order and supplier levers: ``sandbox.jde_purchasing_control``; supplier invoices keyed
by hand (F0411 + F0911): ``sandbox.jde_invoices_control``.
"""

import datetime as dt
import re

from . import jde_data as data
from .http import Fake, NotFoundError, Response
from .jde_auth import AuthMixin
from .jde_batch_input import BatchInputMixin
from .jde_control import ControlMixin
from .jde_dataservice import DataServiceMixin
from .jde_errors import ErrorsMixin, JdeError
from .jde_invoices_control import SupplierInvoiceControlMixin
from .jde_journals import JournalMixin
from .jde_orchestrator import (
    DEFAULT_ORCHESTRATION,
    DEFAULT_SUPPLIER_ORCHESTRATION,
    DEFAULT_VOUCHER_ORCHESTRATION,
    OrchestratorMixin,
)
from .jde_processor import ProcessorMixin
from .jde_purchasing_control import PurchasingControlMixin
from .jde_query import QueryMixin
from .jde_suppliers import SupplierWriteMixin
from .jde_values import ValuesMixin
from .jde_vouchers import VoucherMixin

PATH_RE = re.compile(r"^/jderest(?:/(v2|v3))?(/.*)?$")
V3_AUTH = {"jde-login": "tokenrequest", "jde-validate-session": "tokenrequest/validate", "jde-logout": "tokenrequest/logout"}


class Route:
    def __init__(self, endpoint, version, parts=(), name=None):
        self.endpoint = endpoint
        self.version = version or "v1"
        self.parts = parts
        self.name = name



class JdeFake(AuthMixin, DataServiceMixin, QueryMixin, ValuesMixin, OrchestratorMixin, JournalMixin, VoucherMixin,
              BatchInputMixin, ProcessorMixin, ControlMixin, PurchasingControlMixin, SupplierWriteMixin,
              SupplierInvoiceControlMixin, ErrorsMixin, Fake):
    """The AIS Server fake: lifecycle, routing and dispatch; each concern lives in its mixin's module
    (``jde_auth``, ``jde_dataservice``, ``jde_query``, ``jde_values``, ``jde_orchestrator``,
    ``jde_journals``, ``jde_vouchers``, ``jde_batch_input``, ``jde_processor``, ``jde_control``,
    ``jde_purchasing_control``, ``jde_errors``), sharing this object's state (tables, tokens, clock)."""

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
        "echo_credentials_in_errors": None,
        "voucher_orchestration": DEFAULT_VOUCHER_ORCHESTRATION,
        "voucher_idempotent": True,
        "inactive_supplier_search_type": "VX",
        "supplier_orchestration": DEFAULT_SUPPLIER_ORCHESTRATION,
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
