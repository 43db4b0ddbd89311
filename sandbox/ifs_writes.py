"""Mutations of the IFS fake: PATCH and DELETE of templates, the create-voucher action, and their ETag checks.

A stale ``If-Match`` answers 412; a missing one where required ``ODP_MISSING_PRECONDITION`` with the
``missing_precondition_status`` setting; PATCH without If-Match is an upsert [doc] (see ``sandbox.ifs``).
"""

from . import ifs_data as data
from . import odata
from .http import Response
from .ifs_vouchers import create_voucher
from .odata import ODataError


def precondition(fake, req, row, required):
    given = req.headers.get("if-match")
    if given is None:
        if required:
            status = int(fake.settings.get("missing_precondition_status", 428))
            raise ODataError(status, "ODP_MISSING_PRECONDITION", "The request must carry an If-Match header.")
        return
    if given.strip() != "*" and given.strip() != data.etag(row):
        raise ODataError(412, "ODP_PRECONDITION_FAILED", "The record was modified by another user; read it again.")


def update(fake, req, route):
    if route.entity_set is not data.TEMPLATES:
        raise ODataError(405, "ODP_METHOD_NOT_ALLOWED", f"{route.entity_set.name} cannot be updated")
    row = fake._find(route.entity_set, route.key)
    precondition(fake, req, row, required=False)
    body = odata.parse_json_body(req)
    for name in ("Description", "UserGroup", "VoucherType", "Objstate"):
        if name in body:
            row[name] = str(body[name])
    fake._touch(row)
    return odata.odata_response(
        {
            "@odata.context": f"{fake.service_url(route.projection)}/$metadata#{route.entity_set.name}/$entity",
            **fake.view(row),
        }
    )


def delete(fake, req, route):
    if route.entity_set is not data.TEMPLATES:
        raise ODataError(405, "ODP_METHOD_NOT_ALLOWED", f"{route.entity_set.name} cannot be deleted")
    row = fake._find(route.entity_set, route.key)
    precondition(fake, req, row, required=True)
    fake.tables[route.entity_set.name].remove(row)
    return Response(204, b"", headers={"OData-Version": "4.0"})


def create(fake, req, route):
    raise ODataError(
        405,
        "ODP_METHOD_NOT_ALLOWED",
        f"create {route.entity_set.name} through its template's action {data.CREATE_VOUCHER}"
        if route.entity_set is data.VOUCHERS
        else "not allowed",
    )


def action(fake, req, route):
    if route.entity_set is not data.TEMPLATES or route.action != data.CREATE_VOUCHER:
        raise ODataError(404, "ODP_RESOURCE_NOTFOUND", f"no action {route.action} on {route.entity_set.name}")
    template = fake._find(route.entity_set, route.key)
    precondition(fake, req, template, required=True)
    body = odata.parse_json_body(req)
    if template["Objstate"] != "Active":
        raise ODataError(400, "DATABASE_ERROR", f"Voucher template {template['Template']} is not active")
    voucher = create_voucher(fake, template, body)
    return odata.odata_response(
        {
            "@odata.context": f"{fake.service_url(route.projection)}/$metadata#{data.VOUCHERS.name}/$entity",
            **fake.view(voucher),
        },
        ieee754=odata.wants_ieee754(req),
    )
