"""The words of the mapping tables: source attributes, their precedence ranks, target fields.

Pure data and pure functions (no Django import), shared by the model, the resolver, the
coverage check and the import/export resource. See ``PRECEDENCE.md`` for the rules in prose.
"""

from __future__ import annotations

# -- source (match) attributes -------------------------------------------------------------
#
# The keys a flow passes to ``Resolver.resolve(attrs)``. Tag lists are open-ended:
# ``"tag:<tag list name>"`` (e.g. ``"tag:Cost Center"``). The tuple is in *rank* order,
# most specific first; it breaks ties between rule shapes with the same number of
# conditions (see ``specificity``). Tags sit at rank 1 (after employee), ordered among
# themselves by their normalized tag list name.
TAG_PREFIX = "tag:"
TAG_RANK = 1
MATCH_ATTRIBUTES = (
    "employee",  # rank 0   Expensify employee e-mail
    # rank 1 = every "tag:<list>" (Expensify tags: cost center, project, department...)
    "category",  # rank 2   Expensify category
    "policy",  # rank 3   Expensify policy (per-policy routing)
    "procurify_account_code",  # rank 4
    "procurify_department",  # rank 5
    "procurify_location",  # rank 6
    "bill_account",  # rank 7   BILL chart of account
    "bill_department",  # rank 8
    "jde_object",  # rank 9   JD Edwards object account
    "jde_subsidiary",  # rank 10
    "jde_business_unit",  # rank 11
    "acumatica_department",  # rank 12  Acumatica employee's department (employees -> Expensify policies)
    "acumatica_employee_class",  # rank 13
)
_RANKS = {}
for _i, _name in enumerate(MATCH_ATTRIBUTES):
    _RANKS[_name] = _i if _i < TAG_RANK else _i + 1

MATCH_LABELS = {
    "employee": "Expensify employee e-mail",
    "category": "Expensify category",
    "policy": "Expensify policy",
    "procurify_account_code": "Procurify account code",
    "procurify_department": "Procurify department",
    "procurify_location": "Procurify location",
    "bill_account": "BILL chart of account",
    "bill_department": "BILL department",
    "jde_object": "JD Edwards object account",
    "jde_subsidiary": "JD Edwards subsidiary",
    "jde_business_unit": "JD Edwards business unit",
    "acumatica_department": "Acumatica employee department",
    "acumatica_employee_class": "Acumatica employee class",
}

# -- target fields -------------------------------------------------------------------------
#
# What ``resolve`` returns: target field -> value. The model stores each one in a column
# named ``target_<field>``. System = the target system whose reference data validates it.
IFS_CODE_FIELDS = tuple(f"ifs_code_{c}" for c in "abcdefghij")  # IFS code parts A (account) .. J
TARGET_FIELDS = (
    "business_unit",
    "object",
    "subsidiary",
    *IFS_CODE_FIELDS,
    "acumatica_account",
    "acumatica_subaccount",
    "acumatica_branch",
    "acumatica_project",
    "acumatica_task",
    "bill_chart_of_account_id",
    "bill_department_id",
    "procurify_account_code",
    "expensify_policy",
)
TARGET_SYSTEM = {
    "business_unit": "jde",
    "object": "jde",
    "subsidiary": "jde",
    **{f: "ifs" for f in IFS_CODE_FIELDS},
    "acumatica_account": "acumatica",
    "acumatica_subaccount": "acumatica",
    "acumatica_branch": "acumatica",
    "acumatica_project": "acumatica",
    "acumatica_task": "acumatica",
    "bill_chart_of_account_id": "bill",
    "bill_department_id": "bill",
    "procurify_account_code": "procurify",
    "expensify_policy": "expensify",
}
TARGET_LABELS = {
    "business_unit": "JD Edwards business unit",
    "object": "JD Edwards object account",
    "subsidiary": "JD Edwards subsidiary",
    **{f: f"IFS code part {f[-1].upper()}" + (" (account)" if f.endswith("_a") else "") for f in IFS_CODE_FIELDS},
    "acumatica_account": "Acumatica account",
    "acumatica_subaccount": "Acumatica subaccount",
    "acumatica_branch": "Acumatica branch",
    "acumatica_project": "Acumatica project",
    "acumatica_task": "Acumatica project task",
    "bill_chart_of_account_id": "BILL chart of account id",
    "bill_department_id": "BILL department id",
    "procurify_account_code": "Procurify account code",
    "expensify_policy": "Expensify policy ID",
}
# Reference-data kind (``ReferenceEntry.kind``) a target field is checked against, per system.
# JD Edwards fields are checked against ``account`` entries ("BU.OBJ" / "BU.OBJ.SUB"), or
# against explicit ``business_unit`` / ``object`` / ``subsidiary`` entries when a loader
# provides them (see ``mappings.reference``).
REFERENCE_KIND = {
    "business_unit": "business_unit",
    "object": "object",
    "subsidiary": "subsidiary",
    **{f: f"code_{f[-1]}" for f in IFS_CODE_FIELDS},
    "acumatica_account": "account",
    "acumatica_subaccount": "subaccount",
    "acumatica_branch": "branch",
    "acumatica_project": "project",
    "acumatica_task": "task",
    "bill_chart_of_account_id": "chart_of_account",
    "bill_department_id": "department",
    "procurify_account_code": "account_code",
    "expensify_policy": "policy",
}
JDE_FIELDS = ("business_unit", "object", "subsidiary")


# -- normalization -------------------------------------------------------------------------
def norm_value(value) -> str:
    """Source values match case-insensitively and whitespace-trimmed."""
    if value is None:
        return ""
    return str(value).strip().casefold()


def norm_attr(key: str) -> str:
    """``"Tag:Cost Center "`` -> ``"tag:cost center"``; other keys are matched as given (trimmed, lower)."""
    key = str(key).strip()
    if key[:4].casefold() == TAG_PREFIX:
        return TAG_PREFIX + key[4:].strip().casefold()
    return key.casefold()


def attr_order(attr: str) -> tuple[int, str]:
    """Rank of one normalized attribute key: lower = more specific (used to break ties)."""
    if attr.startswith(TAG_PREFIX):
        return (TAG_RANK, attr[len(TAG_PREFIX):])
    try:
        return (_RANKS[attr], "")
    except KeyError:
        raise ValueError(f"unknown match attribute {attr!r}") from None


def specificity(attrs, flow_scoped: bool) -> tuple:
    """A sort key for a rule shape: **smaller sorts first = more specific**.

    1. more match conditions first;
    2. then the conditions' ranks compared in order (``attr_order``), best first;
    3. then a flow-scoped rule before a tenant-wide one.
    The key is a strict total order on (set of attributes, scope): two rules have the same
    key only when they condition on exactly the same attributes in the same scope.
    """
    orders = sorted(attr_order(a) for a in attrs)
    return (-len(orders), tuple(orders), 0 if flow_scoped else 1)


def describe_shape(attrs) -> str:
    """``("category", "employee")`` -> ``"employee + category"`` (rank order)."""
    if not attrs:
        return "(any line)"
    parts = []
    for a in sorted(attrs, key=attr_order):
        parts.append(f"tag {a[len(TAG_PREFIX):]!r}" if a.startswith(TAG_PREFIX) else a)
    return " + ".join(parts)
