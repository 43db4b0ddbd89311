"""The Acumatica fake's entities: fields, types, keys, and the value-object wrapping.

Facts (shared/reference/acumatica.md, "Record format" and "Entities"): every field is a
value object ``{"value": ...}`` (an empty field reads ``{}``); a record also carries ``id``
(a GUID), ``rowNumber``, ``note``, ``custom`` and ``_links``; details are arrays of records
and linked entities are nested records, both returned only when ``$expand`` names them.
Bill and JournalTransaction field lists are the Default 24.200.001 ones from Acumatica's C#
client models; Employee, Vendor and Subaccount field lists are this fake's choice (the
reference did not check them), named as the Default endpoint names its other entities.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

S, D, B, T, N = "String", "Decimal", "Boolean", "DateTime", "Int"  # value-object types, as swagger names them

BILL_DETAIL = {
    "Branch": S,
    "InventoryID": S,
    "TransactionDescription": S,
    "Qty": D,
    "UOM": S,
    "UnitCost": D,
    "ExtendedCost": D,
    "Amount": D,
    "Account": S,
    "Subaccount": S,
    "Project": S,
    "ProjectTask": S,
    "CostCode": S,
    "TaxCategory": S,
    "NonBillable": B,
}
JOURNAL_DETAIL = {
    "BranchID": S,
    "Account": S,
    "Subaccount": S,
    "DebitAmount": D,
    "CreditAmount": D,
    "TransactionDescription": S,
    "ReferenceNbr": S,
    "Project": S,
    "ProjectTask": S,
    "CostCode": S,
    "Qty": D,
    "UOM": S,
    "VendorOrCustomer": S,
    "LineNbr": N,
    "Description": S,
}
CONTACT = {"Email": S, "FirstName": S, "LastName": S, "DisplayName": S}
EMPLOYEE_SETTINGS = {"BranchID": S, "DepartmentID": S, "EmployeeClass": S, "ReportsToID": S, "Calendar": S}

ENTITIES = {
    "Bill": {
        "keys": ("Type", "ReferenceNbr"),
        "fields": {
            "Type": S,
            "ReferenceNbr": S,
            "Vendor": S,
            "VendorRef": S,
            "Date": T,
            "DueDate": T,
            "PostPeriod": S,
            "Description": S,
            "CurrencyID": S,
            "Amount": D,
            "Balance": D,
            "TaxTotal": D,
            "Status": S,
            "Hold": B,
            "BranchID": S,
            "LocationID": S,
            "Terms": S,
            "Project": S,
            "ApprovedForPayment": B,
            "LastModifiedDateTime": T,
        },
        "details": {"Details": BILL_DETAIL},
        "linked": {},
        "read_only": ("ReferenceNbr", "Balance", "Status", "LastModifiedDateTime"),
    },
    "JournalTransaction": {
        "keys": ("Module", "BatchNbr"),
        "fields": {
            "BatchNbr": S,
            "Module": S,
            "TransactionDate": T,
            "PostPeriod": S,
            "LedgerID": S,
            "CurrencyID": S,
            "Description": S,
            "Hold": B,
            "Status": S,
            "BranchID": S,
            "DebitTotal": D,
            "CreditTotal": D,
            "CreatedDateTime": T,
            "LastModifiedDateTime": T,
        },
        "details": {"Details": JOURNAL_DETAIL},
        "linked": {},
        "read_only": ("BatchNbr", "Status", "DebitTotal", "CreditTotal", "CreatedDateTime", "LastModifiedDateTime"),
    },
    "Employee": {
        "keys": ("EmployeeID",),
        "fields": {"EmployeeID": S, "EmployeeName": S, "Status": S, "LastModifiedDateTime": T},
        "details": {},
        "linked": {"ContactInfo": CONTACT, "EmployeeSettings": EMPLOYEE_SETTINGS},
        "read_only": ("LastModifiedDateTime",),
    },
    "Vendor": {
        "keys": ("VendorID",),
        "fields": {"VendorID": S, "VendorName": S, "VendorClass": S, "Status": S, "CurrencyID": S, "LastModifiedDateTime": T},
        "details": {},
        "linked": {"MainContact": CONTACT},
        "read_only": ("LastModifiedDateTime",),
    },
    "Account": {
        "keys": ("AccountCD",),
        "fields": {
            "AccountCD": S,
            "AccountID": N,
            "AccountClass": S,
            "AccountGroup": S,
            "Type": S,
            "Active": B,
            "CurrencyID": S,
            "Description": S,
            "PostOption": S,
            "CashAccount": B,
            "LastModifiedDateTime": T,
        },
        "details": {},
        "linked": {},
        "read_only": ("AccountID", "LastModifiedDateTime"),
    },
    "Subaccount": {
        "keys": ("SubaccountCD",),
        "fields": {"SubaccountCD": S, "SubaccountID": N, "Description": S, "Active": B, "LastModifiedDateTime": T},
        "details": {},
        "linked": {},
        "read_only": ("SubaccountID", "LastModifiedDateTime"),
    },
}


class Unwrapped(ValueError):
    """A field sent as a bare value instead of a value object: the whole request is refused."""


def field_type(entity, name):
    spec = ENTITIES[entity]
    if name in spec["fields"]:
        return spec["fields"][name]
    return None


def stamp(seconds):
    """An epoch time as Acumatica writes a DateTime: ISO 8601 with milliseconds and the offset."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="milliseconds")


def parse_value(kind, value, where):
    """A value sent in a value object, as stored (Decimal for decimals, ISO text for dates)."""
    if value is None:
        return None
    if kind == D:
        if isinstance(value, bool):
            raise ValueError(f"{where}: {value!r} is not a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{where}: {value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{where}: {value!r} is not a number")
        return number
    if kind == B:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise ValueError(f"{where}: {value!r} is not a boolean")
    if kind == N:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: {value!r} is not an integer") from None
    if kind == T:
        text = str(value)
        try:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not a date") from None
        return text
    return str(value)


def unwrap_fields(fields_spec, body, where):
    """``{"Field": {"value": v}}`` -> ``{"Field": v}`` for the fields of ``fields_spec``; unknown names are
    ignored as Acumatica ignores them, a bare value is refused."""
    out = {}
    for name, kind in fields_spec.items():
        if name not in body:
            continue
        wrapped = body[name]
        if not isinstance(wrapped, dict):
            raise Unwrapped(f'{where}{name}: a value object {{"value": ...}} is expected, not {type(wrapped).__name__}')
        if "value" in wrapped:
            out[name] = parse_value(kind, wrapped["value"], f"{where}{name}")
    return out


def wrap_value(kind, value):
    if value is None:
        return {}
    if kind == D:
        return {"value": value}  # serialized as a JSON number with its exact digits (see acumatica.json_dumps)
    return {"value": value}


def wrap_record(entity, record, *, expand=(), select=None, links_base=""):
    """A stored record as Acumatica answers it."""
    spec = ENTITIES[entity]
    out = {"id": record["id"], "rowNumber": record.get("rowNumber", 1), "note": {"value": record.get("note", "")}}
    for name, kind in spec["fields"].items():
        if select is not None and name not in select and name not in spec["keys"]:
            continue
        out[name] = wrap_value(kind, record.get(name))
    for name, fields in {**spec["details"], **spec["linked"]}.items():
        if name not in expand:
            continue
        value = record.get(name)
        if isinstance(value, list):
            out[name] = [_wrap_child(fields, child, n) for n, child in enumerate(value, start=1)]
        elif isinstance(value, dict):
            out[name] = _wrap_child(fields, value, 1)
    out["custom"] = {}
    out["_links"] = {"self": f"{links_base}/{record['id']}"} if links_base else {}
    return out


def _wrap_child(fields, child, row):
    out = {"id": child.get("id", ""), "rowNumber": row, "note": {"value": ""}}
    for name, kind in fields.items():
        out[name] = wrap_value(kind, child.get(name))
    out["custom"] = {}
    return out


def swagger(endpoint, version, base):
    """A Swagger 2.0 description of the endpoint (Acumatica serves one per endpoint version)."""
    value_types = {S: "string", D: "number", B: "boolean", T: "string", N: "integer"}
    definitions = {
        f"{kind}Value": {
            "type": "object",
            "properties": {"value": {"type": js, **({"format": "date-time"} if kind == T else {})}},
        }
        for kind, js in value_types.items()
    }
    paths = {}
    for name, spec in ENTITIES.items():
        props = {field: {"$ref": f"#/definitions/{kind}Value"} for field, kind in spec["fields"].items()}
        for child, fields in {**spec["details"], **spec["linked"]}.items():
            child_name = f"{name}{child}"
            definitions[child_name] = {
                "type": "object",
                "properties": {f: {"$ref": f"#/definitions/{k}Value"} for f, k in fields.items()},
            }
            ref = {"$ref": f"#/definitions/{child_name}"}
            props[child] = {"type": "array", "items": ref} if child in spec["details"] else ref
        definitions[name] = {
            "type": "object",
            "properties": {"id": {"type": "string", "format": "uuid"}, **props},
            "x-keys": list(spec["keys"]),
        }
        params = [{"name": p, "in": "query", "type": "string"} for p in ("$filter", "$select", "$expand", "$custom")]
        params += [{"name": p, "in": "query", "type": "integer"} for p in ("$top", "$skip")]
        schema = {"$ref": f"#/definitions/{name}"}
        paths[f"/{name}"] = {
            "get": {
                "operationId": f"{name}_GetList",
                "parameters": params,
                "responses": {"200": {"description": "OK", "schema": {"type": "array", "items": schema}}},
            },
            "put": {
                "operationId": f"{name}_PutEntity",
                "parameters": [
                    {"name": "entity", "in": "body", "required": True, "schema": schema},
                    {"name": "If-Match", "in": "header", "type": "string"},
                    {"name": "If-None-Match", "in": "header", "type": "string"},
                ],
                "responses": {
                    "200": {"description": "OK", "schema": schema},
                    "412": {"description": "Precondition Failed"},
                    "422": {"description": "Unprocessable Entity", "schema": schema},
                    "429": {"description": "Too Many Requests"},
                },
            },
        }
        paths[f"/{name}/{{ids}}"] = {
            "get": {
                "operationId": f"{name}_GetByKeys",
                "parameters": [{"name": "ids", "in": "path", "required": True, "type": "string"}] + params[:3],
                "responses": {"200": {"description": "OK", "schema": schema}},
            }
        }
    return {
        "swagger": "2.0",
        "info": {"title": f"{endpoint}/{version}", "version": version},
        "basePath": f"{base}/entity/{endpoint}/{version}",
        "schemes": ["http", "https"],
        "securityDefinitions": {
            "oauth2": {
                "type": "oauth2",
                "flow": "password",
                "tokenUrl": f"{base}/identity/connect/token",
                "scopes": {"api": "API", "offline_access": "refresh tokens"},
            }
        },
        "paths": paths,
        "definitions": definitions,
    }
