"""Fake IFS Cloud: IAM tokens per realm and OData v4 projections, per shared/reference/ifs.md.

Served under ``/ifs``. Paths (``/main/`` or ``/int/`` before ``ifsapplications``):

    token                 POST /auth/realms/<realm>/protocol/openid-connect/token   (sandbox.ifs_auth)
    service               GET  /main/ifsapplications/projection/v1/<Projection>.svc/   (the service document)
    $metadata             GET  .../<Projection>.svc/$metadata                       (OData 4.0 CSDL XML)
    read:<Set>            GET  .../<Set>, .../<Set>(<keys>), .../<Set>(<keys>)/<Navigation> (read:<target set>)
    update:<Set>          PATCH .../<Set>(<keys>)   (templates only)
    delete:<Set>          DELETE .../<Set>(<keys>)  (templates only; If-Match required)
    action:<Action>       POST .../<Set>(<keys>)/IfsApp.<Projection>.<Action>

The names before each path are the endpoint names for call counts and faults. Projections and
entity sets: ``sandbox.ifs_data`` (code part values; the voucher projection, whose name the
reference marks UNCONFIRMED: ``voucher_projection``, default ``VoucherEntryHandling``).
Creating a voucher: ``sandbox.ifs_vouchers``; the other modules: ``ifs_auth`` (IAM, the tenant's
rate), ``ifs_routing``, ``ifs_writes`` (mutations and ETags), ``ifs_control``, and the generic ``odata``.
Every entity carries ``@odata.etag``; every answer
``@odata.context``. Collections take ``$filter``, ``$select``, ``$orderby``, ``$top``, ``$skip``,
``$count`` and ``Prefer: odata.maxpagesize`` (``sandbox.odata``); pages hold at most
``page_size`` entities (default 1000) and carry ``@odata.nextLink`` while more remain (server
paging is UNCONFIRMED for IFS; a client following nextLink or paging with $top/$skip both work).
A ``$top`` or maxpagesize above ``max_page_size`` (5000) fails with 500, as the product page warns.

ETags on mutations: a stale ``If-Match`` answers 412 ``ODP_PRECONDITION_FAILED`` (OData
convention; UNCONFIRMED for IFS); a missing one where required answers ``ODP_MISSING_PRECONDITION``
[3P] with ``missing_precondition_status`` (428 by default: the reference leaves the status open).
PATCH without If-Match is an upsert [doc]. Errors use OData's body ``{"error": {"code",
"message", "details"?}}``; unknown paths 404 ``ODP_RESOURCE_NOTFOUND``; a wrong verb 405.

Settings (``sandbox.config["ifs"]``): ``token_lifetime`` (180), ``rate_limit`` ([[1000, 60]]),
``retry_after`` (None: computed), ``page_size`` (1000), ``max_page_size`` (5000),
``missing_precondition_status`` (428), ``validation_error_status`` (400), ``reference_unique``
(false), ``voucher_projection`` ("VoucherEntryHandling"), ``code_part_projection``
("CodePartValuesHandling").

Control (``/_sandbox/ifs/...``): ``GET code-parts[?part=B]``; ``POST code-parts`` ``{"part", "value",
"description", "active", "valid_from", "valid_until"}`` adds or alters a value (``"active": false``
deactivates it); ``DELETE code-parts/<part>/<value>``; ``GET vouchers[?reference=EXP-1]`` (with
rows, amounts as strings); ``GET templates``; ``POST templates/<id>/touch`` (someone edits the
template now, or with ``{"on_next_read": n}`` right after each of the next n reads of it: the ETag
a client just read goes stale); ``GET tokens`` ``{"live", "issued", "rate_refused"}``; ``POST restart`` (every
token forgotten, as the ``restart`` fault).
"""

import datetime as dt

from . import ifs_control, ifs_writes, odata
from . import ifs_data as data
from .http import Fake, Response, json_response
from .ifs_auth import Iam
from .ifs_routing import TOKEN_RE, resolve
from .odata import ODataError


class IfsFake(Fake):
    name = "ifs"
    default_config = {
        "token_lifetime": 180,
        "rate_limit": [[1000, 60]],
        "retry_after": None,
        "page_size": 1000,
        "max_page_size": 5000,
        "missing_precondition_status": 428,
        "validation_error_status": 400,
        "reference_unique": False,
        "voucher_projection": "VoucherEntryHandling",
        "code_part_projection": "CodePartValuesHandling",
    }

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.iam = Iam(self)
        self.tables, self.series, self.creds, self.touch_on_read = {}, {}, {}, {}
        self.versions = data.Versions()

    def reset(self, seed, size, anchor):
        self.anchor, self._epoch = anchor, self.sandbox.clock()
        self.versions = data.Versions()
        self.tables = data.generate(anchor, self.versions, self.now())
        self.series, self.touch_on_read = {}, {}
        self.creds = data.credentials_for(seed)
        self.iam.reset()

    def restart(self):
        self.iam.restart()

    def credentials(self):
        return dict(self.creds)

    def limit_breaches(self):
        return {"rate_limit": self.iam.refused}

    def now(self):
        elapsed = max(0.0, self.sandbox.clock() - self._epoch)
        return dt.datetime.combine(self.anchor, dt.time()) + dt.timedelta(seconds=elapsed)

    def projections(self):
        return data.projections(
            self.settings.get("voucher_projection", "VoucherEntryHandling"),
            self.settings.get("code_part_projection", "CodePartValuesHandling"),
        )

    # -- routing ----------------------------------------------------------------------------------------------
    def _route(self, req):
        if not hasattr(req, "_ifs_route"):
            req._ifs_route = resolve(req, self.projections())
        return req._ifs_route

    def endpoint(self, req):
        route = self._route(req)
        return route.endpoint if route else None

    # -- dispatch --------------------------------------------------------------------------------------------
    def handle(self, req):
        route = self._route(req)
        if route is None:
            return ODataError(404, "ODP_RESOURCE_NOTFOUND", f"No resource at {req.path}").response()
        if route.endpoint == "token":
            return self.iam.token(req, TOKEN_RE.match(req.path).group(1))
        try:
            self.iam.count(self.iam.realm_of(req))
            if route.endpoint == "service":
                return self._service(route)
            if route.endpoint == "$metadata":
                return self._metadata(route)
            verb = route.endpoint.split(":")[0]
            if verb == "read":
                return self._read(req, route)
            return {
                "update": ifs_writes.update,
                "delete": ifs_writes.delete,
                "create": ifs_writes.create,
                "action": ifs_writes.action,
            }[verb](self, req, route)
        except ODataError as exc:
            return exc.response()

    def fault_body(self, status, req):
        route = self._route(req)
        if route is not None and route.endpoint == "token":
            if status == 401:
                return json_response(
                    {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}, 401
                )
            return None
        codes = {
            401: "UNAUTHORIZED",
            403: "ODP_FORBIDDEN",
            404: "ODP_RESOURCE_NOTFOUND",
            412: "ODP_PRECONDITION_FAILED",
            429: "TOO_MANY_REQUESTS",
            423: "ODP_LOCKED",
        }
        if status == 503:
            return Response(503, "<html><body><h1>503 Service Unavailable</h1></body></html>", content_type="text/html")
        return ODataError(status, codes.get(status, "ODP_INTERNAL_ERROR"), f"Injected HTTP {status}").response()

    # -- answers -----------------------------------------------------------------------------------------------
    def service_url(self, projection):
        return f"{self.sandbox.url}/{self.name}/main/ifsapplications/projection/v1/{projection}.svc"

    def view(self, row):
        return {"@odata.etag": data.etag(row), **{k: v for k, v in row.items() if not k.startswith("_")}}

    def _service(self, route):
        sets = self.projections()[route.projection]
        return odata.odata_response(
            {
                "@odata.context": f"{self.service_url(route.projection)}/$metadata",
                "value": [{"name": name, "kind": "EntitySet", "url": name} for name in sets],
            }
        )

    def _metadata(self, route):
        sets = list(self.projections()[route.projection].values())
        actions = []
        if data.TEMPLATES in sets:
            actions.append(
                (
                    data.CREATE_VOUCHER,
                    data.TEMPLATES.entity_type,
                    [
                        ("VoucherDate", "Edm.Date"),
                        ("VoucherText", "Edm.String"),
                        ("ReferenceNumber", "Edm.String"),
                        ("CurrencyCode", "Edm.String"),
                        ("Rows", f"Collection(IfsApp.{route.projection}.VoucherRowInput)"),
                    ],
                    data.VOUCHERS.entity_type,
                )
            )
        xml = odata.metadata_xml(
            f"IfsApp.{route.projection}",
            route.projection,
            sets,
            actions,
            complex_types={"VoucherRowInput": data.ROW_INPUT} if actions else None,
        )
        return Response(200, xml, headers={"OData-Version": "4.0"}, content_type="application/xml")

    def _find(self, entity_set, key_text):
        keys = odata.parse_key(entity_set, key_text)
        for row in self.tables[entity_set.name]:
            if all(row[k] == v for k, v in keys.items()):
                return row
        raise ODataError(404, "ODP_RESOURCE_NOTFOUND", f"{entity_set.name}({key_text}) does not exist")

    def _read(self, req, route):
        base = self.service_url(route.projection)
        ieee = odata.wants_ieee754(req)
        entity_set, rows = route.entity_set, self.tables[route.entity_set.name]
        if route.key is not None:
            row = self._find(entity_set, route.key)
            if route.navigation is None:
                response = odata.odata_response(
                    {"@odata.context": f"{base}/$metadata#{entity_set.name}/$entity", **self.view(row)}, ieee754=ieee
                )
                self._after_read(row)  # after the answer is built: the caller now holds the ETag that goes stale
                return response
            target = self.projections()[route.projection][entity_set.navigation[route.navigation]]
            rows = [r for r in self.tables[target.name] if all(r[k] == row[k] for k in entity_set.keys)]
            entity_set = target
        body = odata.query(
            req,
            entity_set,
            rows,
            context=f"{base}/$metadata#{entity_set.name}",
            page_size=int(self.settings.get("page_size", 1000)),
            url=f"{base}/{req.path.split('.svc/')[1]}",
            max_page_size=int(self.settings.get("max_page_size", 5000)),
            view=self.view,
        )
        if entity_set is data.TEMPLATES:
            for row in rows:
                self._after_read(row)
        return odata.odata_response(body, ieee754=ieee)

    def _after_read(self, row):
        """A pending 'someone edits the template right after you read it'."""
        left = self.touch_on_read.get(row.get("Template"))
        if row.get("Template") is not None and left:
            self.touch_on_read[row["Template"]] = left - 1
            self._touch(row)

    def _touch(self, row):
        row["_objversion"] = self.versions.next(self.now())

    # -- control ------------------------------------------------------------------------------------------------

    def control(self, req, subpath):
        return ifs_control.control(self, req, subpath)

    def touch(self, row):
        """Someone edits ``row`` now: its Objversion, so its ETag, changes."""
        self._touch(row)
