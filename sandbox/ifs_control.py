"""Control endpoints of the IFS fake: code part values, vouchers, templates, tokens (see ``sandbox.ifs``)."""

from . import ifs_data as data
from .http import NotFoundError, json_response
from .ifs_vouchers import voucher_view
from .odata import ODataError


def control(fake, req, subpath):
    """The fake's ``/_sandbox/ifs/...`` endpoints (see ``sandbox.ifs``)."""
    parts = [p for p in subpath.split("/") if p]
    head, method = (parts[0] if parts else ""), req.method
    values = fake.tables.get(data.CODE_PART_VALUES.name, [])
    if head == "code-parts" and method == "GET":
        part = req.arg("part")
        return json_response([fake.view(r) for r in values if part is None or r["CodePart"] == part])
    if head == "code-parts" and method == "POST":
        return json_response(fake.view(_set_code_part(fake, req.json())))
    if head == "code-parts" and method == "DELETE" and len(parts) == 3:
        before = len(values)
        values[:] = [r for r in values if (r["CodePart"], r["CodeValue"]) != (parts[1], parts[2])]
        return json_response({"removed": before - len(values)})
    if head == "vouchers" and method == "GET":
        reference = req.arg("reference")
        return json_response(
            [
                voucher_view(fake, v)
                for v in fake.tables[data.VOUCHERS.name]
                if reference is None or v["ReferenceNumber"] == reference
            ]
        )
    if head == "templates" and method == "GET":
        return json_response([fake.view(r) for r in fake.tables[data.TEMPLATES.name]])
    if head == "templates" and len(parts) == 3 and parts[2] == "touch" and method == "POST":
        row = next((r for r in fake.tables[data.TEMPLATES.name] if r["Template"] == parts[1]), None)
        if row is None:
            raise NotFoundError(f"no template {parts[1]}")
        body = req.json() if req.body else {}
        if body.get("on_next_read"):
            fake.touch_on_read[row["Template"]] = int(body["on_next_read"])
        else:
            fake.touch(row)
        return json_response(fake.view(row))
    if head == "tokens" and method == "GET":
        return json_response({"live": fake.iam.live(), "issued": fake.iam.issued, "rate_refused": fake.iam.refused})
    if head == "restart" and method == "POST":
        fake.restart()
        return json_response({"live": 0})
    raise NotFoundError(f"no ifs control endpoint {method} {subpath}")


def _set_code_part(fake, body):
    part, value = str(body.get("part") or ""), str(body.get("value") or "")
    if not part or not value:
        raise ODataError(400, "ODP_BAD_REQUEST", 'code-parts expects {"part": "B", "value": "CC40", ...}')
    values = fake.tables[data.CODE_PART_VALUES.name]
    row = next((r for r in values if (r["CodePart"], r["CodeValue"]) == (part, value)), None)
    if row is None:
        row = data.code_part_row(
            part,
            value,
            body.get("description") or value,
            valid_from=body.get("valid_from") or "2000-01-01",
            valid_until=body.get("valid_until") or "9999-12-31",
            active=body.get("active", True),
            version=fake.versions.next(fake.now()),
        )
        values.append(row)
        return row
    for key, name in (("description", "Description"), ("valid_from", "ValidFrom"), ("valid_until", "ValidUntil")):
        if key in body:
            row[name] = body[key]
    if "active" in body:
        row["Objstate"] = "Active" if body["active"] else "Inactive"
    fake.touch(row)
    return row
