"""Mapping spreadsheets people can fill in: headers in plain words, a template per flow,
rows matched on their natural key when they carry no id.

* Headers: each column may be headed by its internal name (``target_object``) or its plain
  label ("JD Edwards object account", "Expensify category", "Flow"...), in any case.
* Natural key: a row without an id updates the rule of the same tenant (from the user, or
  the row's tenant column), flow and match values, if there is one, else adds a rule.
* Template: per flow, only the columns its source and target systems use (``FLOW_KINDS``
  in the systems registry, ``MATCH_SYSTEM`` and ``vocabulary.TARGET_SYSTEM``), headed in
  plain words, with the flow's current rules as the first rows.
"""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse
from django.utils.text import slugify

from portal.exports import neutralise

from .vocabulary import MATCH_ATTRIBUTES, MATCH_LABELS, TARGET_FIELDS, TARGET_LABELS, TARGET_SYSTEM

# The source system whose records carry each match attribute.
MATCH_SYSTEM = {
    "employee": "expensify",
    "category": "expensify",
    "policy": "expensify",
    "procurify_account_code": "procurify",
    "procurify_department": "procurify",
    "procurify_location": "procurify",
    "bill_account": "bill",
    "bill_department": "bill",
    "jde_object": "jde",
    "jde_subsidiary": "jde",
    "jde_business_unit": "jde",
}
TAG_SYSTEMS = {"expensify"}

COLUMN_LABELS = {
    "id": "Rule id",
    "tenant": "Tenant",
    "flow": "Flow",
    **MATCH_LABELS,
    "tags": "Expensify tags (List=Value; ...)",
    **{f"target_{f}": label for f, label in TARGET_LABELS.items()},
    "active": "Active",
    "note": "Note",
    "delete": "Delete",
}
_ALIASES = {
    **{label.casefold(): name for name, label in COLUMN_LABELS.items()},
    **{name.casefold(): name for name in COLUMN_LABELS},
    "tags": "tags",
    "expensify tags": "tags",
    "id": "id",
}


def column_for(header) -> str | None:
    """The internal column name for a header in plain words or internal form ("Target object" too); None if unknown."""
    text = " ".join(str(header or "").split()).casefold()
    return _ALIASES.get(text) or _ALIASES.get(text.replace(" ", "_"))


def normalise_headers(dataset):
    """Headers to internal names; a column nobody can place is an error naming it (never silently ignored)."""
    headers = list(dataset.headers or [])
    names = [column_for(h) for h in headers]
    unknown = [str(h) for h, name in zip(headers, names, strict=True) if name is None and str(h or "").strip()]
    if unknown:
        raise ValueError(
            f"Unknown column(s): {', '.join(unknown)}. Use the template's headers, e.g. "
            f"{', '.join(list(COLUMN_LABELS.values())[2:6])}."
        )
    dataset.headers = [name or "" for name in names]
    return dataset


def natural_key(row: dict) -> dict:
    """The match values of a row (blank when absent) as MappingRule field lookups."""
    from .resources import parse_tags

    key = {name: str(row.get(name) or "").strip() for name in MATCH_ATTRIBUTES}
    key["tags"] = parse_tags(row.get("tags") or "")
    return key


def template_columns(flow, *, with_tenant=False):
    from integrations.systems.registry import FLOW_KINDS

    _, source, target = FLOW_KINDS[flow.kind]
    matches = [m for m in MATCH_ATTRIBUTES if MATCH_SYSTEM.get(m) == source]
    if source in TAG_SYSTEMS:
        matches.append("tags")
    targets = [f"target_{f}" for f in TARGET_FIELDS if TARGET_SYSTEM.get(f) == target]
    return [*(["tenant"] if with_tenant else []), "flow", *matches, *targets, "active", "note"]


def template_response(flow, *, with_tenant=False):
    from .resources import format_tags

    columns = template_columns(flow, with_tenant=with_tenant)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([COLUMN_LABELS[c] for c in columns])
    for rule in flow.mapping_rules.filter(active=True).order_by("pk"):
        values = {
            "tenant": flow.tenant.slug,
            "flow": flow.name,
            "tags": format_tags(rule.tags),
            "active": "yes",
            "note": rule.note,
        }
        writer.writerow([neutralise(values.get(c, getattr(rule, c, ""))) for c in columns])
    if not out.getvalue().count("\n") > 1:
        writer.writerow([flow.tenant.slug if c == "tenant" else flow.name if c == "flow" else "" for c in columns])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mapping-rules-{slugify(flow.name)}.csv"'
    return response
