"""Coverage check: which source values in use have no mapping, or map to an unusable target. Pure.

``integrations`` collects the usages (each Expensify category x tag combination of the
live policies, Procurify account codes, BILL accounts...), builds a ``Resolver`` for the
flow and a ``ReferenceSet`` for its target connection, and calls::

    gaps = check_coverage(resolver, usages, required_fields={"business_unit", "object"},
                          reference=ReferenceSet.for_connection(flow.target))

Each ``Gap`` names the source value(s), the target field and why (``unmapped``,
``unknown``, ``inactive``, ``non-posting``), with a message a finance user can act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .reference import ReferenceSet
from .resolver import Resolver
from .vocabulary import JDE_FIELDS, TARGET_LABELS

UNMAPPED = "unmapped"


@dataclass(frozen=True)
class Gap:
    source: dict  # the usage's source attributes, e.g. {"policy": "HQ", "category": "Gifts"}
    field: str  # target field, or "account" for a JD Edwards account combination
    value: str | None  # the resolved value (None when unmapped)
    reason: str  # unmapped | unknown | inactive | non-posting
    message: str
    rule_ids: tuple = field(default=())  # the rules that produced the value (empty when unmapped)

    @property
    def source_text(self) -> str:
        return describe_source(self.source)

    def as_dict(self):
        return {"source": dict(self.source), "field": self.field, "value": self.value, "reason": self.reason,
                "message": self.message, "rule_ids": list(self.rule_ids)}


def describe_source(attrs: dict) -> str:
    parts = []
    for k, v in attrs.items():
        if v in (None, ""):
            continue
        parts.append(f'tag {k[4:]} "{v}"' if k.startswith("tag:") else f'{k} "{v}"')
    return ", ".join(parts) or "(no source attributes)"


def check_coverage(resolver: Resolver, usages: Iterable[dict], *, required_fields: Iterable[str],
                   reference: ReferenceSet | None = None,
                   fallback: Callable[[dict], dict] | None = None) -> list[Gap]:
    """One Gap per (usage, problem), in usage order; an empty list means everything in use is covered.

    ``usages``: source-attribute dicts as the flow passes them to ``Resolver.resolve``
    (duplicates are checked once). ``required_fields``: the target fields every line needs
    (JDE: ``business_unit`` and ``object``). ``reference``: the target's cached reference
    data; None or empty skips the reference checks. ``fallback(attrs) -> {field: value}``:
    values the flow uses when no rule sets a field (e.g. the Expensify category's GL code
    as the object account); extra keys in a usage (like ``"category_gl_code"``) are
    ignored by the resolver and can feed the fallback.
    """
    required = tuple(required_fields)
    gaps: list[Gap] = []
    seen = set()
    for attrs in usages:
        marker = tuple(sorted((k, str(v).strip().casefold()) for k, v in attrs.items() if v not in (None, "")))
        if marker in seen:
            continue
        seen.add(marker)
        target = resolver.resolve(attrs)
        owners = resolver.explain(attrs) if (reference or any(f not in target for f in required)) else {}
        if fallback is not None:
            for f, v in (fallback(attrs) or {}).items():
                if v and f not in target:
                    target[f] = v
        src = describe_source(attrs)
        for f in required:
            if not target.get(f):
                gaps.append(Gap(dict(attrs), f, None, UNMAPPED,
                                f"{src}: no mapping rule sets {TARGET_LABELS.get(f, f)} ({f}).", ()))
        if reference:
            for p in reference.check_resolved(target):
                fields = JDE_FIELDS if p.field == "account" else (p.field,)
                rule_ids = tuple(sorted({owners[f].pk for f in fields if f in owners and owners[f].pk is not None}))
                gaps.append(Gap(dict(attrs), p.field, p.value, p.reason, f"{src}: {p.message}", rule_ids))
    return gaps
