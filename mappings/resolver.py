"""Resolving a line's source attributes to target fields: pure code over an index.

The rules are grouped by *shape* (the set of attributes they condition on, and whether
they are flow-scoped). Each shape is one level: a dict from the tuple of normalized match
values to the rule's targets. Levels are ordered by ``vocabulary.specificity`` (most
specific first). ``resolve`` walks the levels, does one dict lookup per level whose
attributes the line has, and fills each target field from the first (most specific)
matching rule that sets it; it stops as soon as every field any rule can set is filled.
Cost per line: O(number of shapes), independent of the number of rules.

Precedence (also in ``PRECEDENCE.md``), per target field:

1. more match conditions beat fewer (employee + category beats category alone);
2. with the same number of conditions, the condition ranks decide, compared best first:
   employee > any tag (tag lists ordered by name) > category > policy > Procurify account
   code > Procurify department > Procurify location > BILL account > BILL department >
   JDE object > JDE subsidiary > JDE business unit (employee + category beats policy +
   category; category alone beats policy alone);
3. with the same match attributes, a flow-scoped rule beats a tenant-wide rule.

Two active rules with the same scope and the same normalized match values that set the
same target field would tie: ``MappingRule.clean`` refuses the second one. If ties reach
the resolver anyway (rules built in memory, or written around validation), the rule with
the lowest id (then the first given) wins and the pair is listed in ``Resolver.conflicts``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .vocabulary import norm_attr, specificity

if TYPE_CHECKING:
    from .models import MappingRule


class Resolver:
    __slots__ = ("_levels", "_keymap", "_nfields", "rules", "conflicts", "fields")

    def __init__(self, rules: Iterable[MappingRule] = ()):
        self.rules = [r for r in rules if getattr(r, "active", True)]
        self.conflicts: list[tuple] = []
        self._keymap: dict[str, str] = {}
        shapes: dict[tuple, dict] = {}
        for rule in sorted(self.rules, key=lambda r: (r.pk is None, r.pk or 0)):
            cond = rule.conditions()
            targets = rule.targets()
            if not targets:
                continue
            attrs = tuple(sorted(cond))
            scoped = rule.flow_id is not None
            level_key = (specificity(attrs, scoped), attrs)
            table = shapes.setdefault(level_key, {})
            match = cond[attrs[0]] if len(attrs) == 1 else tuple(cond[a] for a in attrs)
            entry = table.get(match)
            if entry is None:
                table[match] = [tuple(targets.items()), {f: rule for f in targets}]
            else:  # same shape and values: merge fields, record ties
                fields, owners = entry
                have = dict(fields)
                for f, v in targets.items():
                    if f in have:
                        self.conflicts.append((owners[f], rule, f))
                    else:
                        have[f] = v
                        owners[f] = rule
                entry[0] = tuple(have.items())
        self._levels = []
        all_fields = set()
        for (_, attrs), table in sorted(shapes.items(), key=lambda kv: kv[0][0]):
            frozen = {k: (fields, owners) for k, (fields, owners) in table.items()}
            for fields, _owners in frozen.values():
                all_fields.update(f for f, _ in fields)
            kind = 0 if not attrs else (1 if len(attrs) == 1 else 2)
            self._levels.append((kind, attrs[0] if kind == 1 else attrs, frozen))
        self.fields = frozenset(all_fields)
        self._nfields = len(all_fields)

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def from_rules(cls, rules) -> Resolver:
        """Pure: builds the index from rule objects (saved or not). For tests and benchmarks."""
        return cls(rules)

    @classmethod
    def for_flow(cls, flow) -> Resolver:
        """The tenant's tenant-wide rules plus this flow's rules, active only: one query."""
        from django.db.models import Q

        from .models import MappingRule

        rules = MappingRule.objects.filter(Q(flow__isnull=True) | Q(flow_id=flow.pk), tenant_id=flow.tenant_id, active=True)
        return cls(list(rules))

    # -- resolution ----------------------------------------------------------------------
    def _normalize(self, attrs) -> dict:
        keymap = self._keymap
        norm = {}
        for k, v in attrs.items():
            if v is None:
                continue
            if v.__class__ is not str:
                v = str(v)
            v = v.strip()
            if not v:
                continue
            nk = keymap.get(k)
            if nk is None:
                nk = keymap[k] = norm_attr(k)
            norm[nk] = v.casefold()
        return norm

    def resolve(self, attrs: dict[str, str]) -> dict[str, str]:
        """Target field -> value for one line; fields no rule sets are absent."""
        norm = self._normalize(attrs)
        out: dict[str, str] = {}
        need = self._nfields
        get = norm.get
        for kind, attrs_, table in self._levels:
            if kind == 1:
                value = get(attrs_)
                if value is None:
                    continue
                hit = table.get(value)
            elif kind == 2:
                key = tuple([get(a) for a in attrs_])
                if None in key:
                    continue
                hit = table.get(key)
            else:
                hit = table.get(())
            if hit is None:
                continue
            for f, v in hit[0]:
                if f not in out:
                    out[f] = v
            if len(out) == need:
                break
        return out

    def explain(self, attrs) -> dict[str, MappingRule]:
        """Target field -> the rule that set it (for previews and audit)."""
        norm = self._normalize(attrs)
        out: dict[str, MappingRule] = {}
        for kind, attrs_, table in self._levels:
            if kind == 1:
                hit = table.get(norm[attrs_]) if attrs_ in norm else None
            elif kind == 2:
                key = tuple(norm.get(a) for a in attrs_)
                hit = None if None in key else table.get(key)
            else:
                hit = table.get(())
            if hit is None:
                continue
            for f, _v in hit[0]:
                if f not in out:
                    out[f] = hit[1][f]
        return out

    def shapes(self) -> list[tuple[tuple[str, ...], int]]:
        """(attributes, number of distinct matches) per level, most specific first (for diagnostics)."""
        return [((a,) if k == 1 else tuple(a), len(t)) for k, a, t in self._levels]

    def __len__(self):
        return len(self.rules)
