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
        self.conflicts: list[tuple] = []  # (rule kept, rule ignored, field) for ties that got past validation
        self._keymap: dict[str, str] = {}
        # One level per set of match attributes. A flow-scoped rule and a tenant-wide rule with
        # the same attributes are adjacent in the precedence order (scope is the last tie-break),
        # so they share a level: per match value the flow-scoped rule's fields come first.
        shapes: dict[tuple, dict] = {}
        for rule in sorted(self.rules, key=lambda r: (r.flow_id is None, r.pk is None, r.pk or 0)):
            cond = rule.conditions()
            targets = rule.targets()
            if not targets:
                continue
            attrs = tuple(sorted(cond))
            table = shapes.setdefault(attrs, {})
            match = cond[attrs[0]] if len(attrs) == 1 else tuple(cond[a] for a in attrs)
            entry = table.get(match)
            if entry is None:
                table[match] = (dict(targets), {f: rule for f in targets})
                continue
            have, owners = entry
            for f, v in targets.items():
                if f not in have:
                    have[f] = v
                    owners[f] = rule
                elif owners[f].flow_id == rule.flow_id:  # same scope, same match, same field: a tie
                    self.conflicts.append((owners[f], rule, f))
        self._levels = []
        bits: dict[str, int] = {}
        for attrs, table in sorted(shapes.items(), key=lambda kv: specificity(kv[0], True)):
            frozen = {}
            level_mask = 0
            for k, (have, owners) in table.items():
                mask = 0
                for f in have:
                    mask |= bits.setdefault(f, 1 << len(bits))
                level_mask |= mask
                frozen[k] = (tuple(have.items()), owners, mask)
            kind = min(len(attrs), 3)
            self._levels.append((kind, attrs[0] if kind == 1 else attrs, frozen, level_mask))
        self.fields = frozenset(bits)
        self._nfields = (1 << len(bits)) - 1  # the mask of every field some rule sets

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
        full = self._nfields
        filled = 0
        get = norm.get
        for kind, attrs_, table, level_mask in self._levels:
            if not level_mask & ~filled:
                continue  # every field this level could set is already set by a more specific rule
            if kind == 1:
                value = get(attrs_)
                if value is None:
                    continue
                hit = table.get(value)
            elif kind == 2:
                a = get(attrs_[0])
                if a is None:
                    continue
                b = get(attrs_[1])
                if b is None:
                    continue
                hit = table.get((a, b))
            elif kind == 3:
                key = tuple([get(a) for a in attrs_])
                if None in key:
                    continue
                hit = table.get(key)
            else:
                hit = table.get(())
            if hit is None or not hit[2] & ~filled:
                continue
            for f, v in hit[0]:
                if f not in out:
                    out[f] = v
            filled |= hit[2]
            if filled == full:
                break
        return out

    def explain(self, attrs) -> dict[str, MappingRule]:
        """Target field -> the rule that set it (for previews and audit)."""
        norm = self._normalize(attrs)
        out: dict[str, MappingRule] = {}
        for kind, attrs_, table, _mask in self._levels:
            if kind == 1:
                key = norm.get(attrs_)
            elif kind == 0:
                key = ()
            else:
                key = tuple(norm.get(a) for a in attrs_)
                if None in key:
                    key = None
            hit = table.get(key) if key is not None else None
            if hit is None:
                continue
            for f, _v in hit[0]:
                if f not in out:
                    out[f] = hit[1][f]
        return out

    def shapes(self) -> list[tuple[tuple[str, ...], int]]:
        """(attributes, number of distinct matches) per level, most specific first (for diagnostics)."""
        return [((a,) if k == 1 else tuple(a), len(t)) for k, a, t, _m in self._levels]

    def __len__(self):
        return len(self.rules)
