"""Reference data of the target systems, cached per connection, and checks against it.

* ``LOADERS[system]``: a loader is ``loader(connection) -> iterable of entries`` where an entry
  is a ``Entry`` or a dict with ``kind``, ``key`` and optionally ``description``, ``active``,
  ``postable``, ``data``. ``integrations`` registers one per system at app ready
  (``register_loader("jde", load_jde_accounts)``); this module only keeps the registry.
* ``refresh_reference(connection, loader=None)`` replaces the connection's cache with what
  the loader returns (one transaction) and returns a ``RefreshResult``.
* ``ReferenceSet``: an in-memory, pure view of a connection's entries with the checks used
  on rule save (``check_partial``) and by the coverage check (``check_resolved``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from .vocabulary import JDE_FIELDS, REFERENCE_KIND, TARGET_LABELS, TARGET_SYSTEM

LOADERS: dict[str, Callable] = {}


def register_loader(system: str, loader: Callable) -> None:
    """Called by ``integrations`` (at app ready) for each system that has reference data."""
    LOADERS[system] = loader


@dataclass(frozen=True)
class Entry:
    kind: str
    key: str
    description: str = ""
    active: bool = True
    postable: bool = True
    data: dict = field(default_factory=dict)

    @classmethod
    def coerce(cls, item) -> Entry:
        if isinstance(item, Entry):
            return item
        if isinstance(item, dict):
            return cls(
                kind=str(item["kind"]),
                key=str(item["key"]).strip(),
                description=str(item.get("description") or "")[:255],
                active=bool(item.get("active", True)),
                postable=bool(item.get("postable", True)),
                data=dict(item.get("data") or {}),
            )
        return cls(  # a ReferenceEntry row or any object with these attributes
            kind=item.kind, key=item.key, description=getattr(item, "description", ""),
            active=item.active, postable=item.postable, data=dict(getattr(item, "data", None) or {}),
        )


@dataclass
class RefreshResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def total(self):
        return self.created + self.updated + self.unchanged

    def __str__(self):
        return f"{self.total} entries ({self.created} new, {self.updated} changed, {self.deleted} removed)"


class NoLoader(LookupError):
    pass


def refresh_reference(connection, loader: Callable | None = None, *, actor="system") -> RefreshResult:
    """Replace ``connection``'s cached reference data with what ``loader(connection)`` returns."""
    ReferenceEntry = apps.get_model("mappings", "ReferenceEntry")
    if loader is None:
        loader = LOADERS.get(connection.system)
        if loader is None:
            raise NoLoader(f"No reference-data loader is registered for {connection.get_system_display()}.")
    fresh: dict[tuple[str, str], Entry] = {}
    for item in loader(connection):
        e = Entry.coerce(item)
        if e.key:
            fresh[(e.kind, e.key)] = e
    now = timezone.now()
    result = RefreshResult()
    with transaction.atomic():
        existing = {(r.kind, r.key): r for r in ReferenceEntry.objects.filter(connection=connection)}
        to_create, to_update = [], []
        for k, e in fresh.items():
            row = existing.pop(k, None)
            if row is None:
                to_create.append(ReferenceEntry(connection=connection, kind=e.kind, key=e.key, description=e.description,
                                                active=e.active, postable=e.postable, data=e.data, refreshed_at=now))
                continue
            changed = (row.description, row.active, row.postable, row.data) != (e.description, e.active, e.postable, e.data)
            row.description, row.active, row.postable, row.data, row.refreshed_at = (
                e.description, e.active, e.postable, e.data, now)
            to_update.append(row)
            if changed:
                result.updated += 1
            else:
                result.unchanged += 1
        if existing:
            ReferenceEntry.objects.filter(pk__in=[r.pk for r in existing.values()]).delete()
        ReferenceEntry.objects.bulk_create(to_create, batch_size=1000)
        ReferenceEntry.objects.bulk_update(to_update, ["description", "active", "postable", "data", "refreshed_at"],
                                           batch_size=1000)
        result.created, result.deleted = len(to_create), len(existing)
        from audit.log import record

        record(connection.tenant_id, "reference.refreshed", actor=actor, target_ref=f"connection:{connection.pk}",
               message=f"Reference data of {connection} refreshed: {result}.",
               after={"created": result.created, "updated": result.updated, "deleted": result.deleted,
                      "unchanged": result.unchanged})
    _CACHE.pop(connection.pk, None)
    return result


def last_refreshed(connection_id):
    ReferenceEntry = apps.get_model("mappings", "ReferenceEntry")
    return ReferenceEntry.objects.filter(connection_id=connection_id).aggregate(m=Max("refreshed_at"))["m"]


# -- the in-memory view ----------------------------------------------------------------------
OK, UNKNOWN, INACTIVE, NON_POSTING = "ok", "unknown", "inactive", "non-posting"
_BEST = {OK: 3, NON_POSTING: 2, INACTIVE: 1}


def _status(active, postable):
    if not active:
        return INACTIVE
    return OK if postable else NON_POSTING


def _better(a, b):
    return a if a is not None and (b is None or _BEST[a] >= _BEST[b]) else b


@dataclass(frozen=True)
class Problem:
    field: str  # target field, or "account" for a JD Edwards account combination
    value: str
    reason: str  # unknown | inactive | non-posting
    message: str


class ReferenceSet:
    """Reference entries of one target connection, indexed for checks. Pure (no database)."""

    def __init__(self, entries: Iterable = (), *, system: str | None = None, name: str = ""):
        self.system = system
        self.name = name
        self.kinds: dict[str, dict[str, tuple[str, str]]] = {}  # kind -> key -> (status, canonical key)
        self.folded: dict[str, dict[str, str]] = {}  # kind -> casefolded key -> key (for "did you mean")
        self._jde_parts: dict[tuple, str] = {}  # (mask, values) -> best status over JDE accounts
        for item in entries:
            e = Entry.coerce(item)
            self.kinds.setdefault(e.kind, {})[e.key] = (_status(e.active, e.postable), e.key)
            self.folded.setdefault(e.kind, {})[e.key.casefold()] = e.key
            if e.kind == "account" and (system in (None, "jde")):
                parts = _jde_parts(e)
                if parts is not None:
                    st = _status(e.active, e.postable)
                    for mask in range(1, 8):
                        k = (mask, tuple(p if mask & (1 << i) else None for i, p in enumerate(parts)))
                        self._jde_parts[k] = _better(st, self._jde_parts.get(k))

    def __bool__(self):
        return bool(self.kinds)

    def has(self, kind):
        return kind in self.kinds

    @classmethod
    def for_connection(cls, connection) -> ReferenceSet:
        """Loads the connection's entries once per refresh (kept in a small process cache)."""
        ReferenceEntry = apps.get_model("mappings", "ReferenceEntry")
        stamp = ReferenceEntry.objects.filter(connection_id=connection.pk).aggregate(m=Max("refreshed_at"), n=Count("id"))
        stamp = (stamp["m"], stamp["n"])
        hit = _CACHE.get(connection.pk)
        if hit and hit[0] == stamp:
            return hit[1]
        rows = ReferenceEntry.objects.filter(connection_id=connection.pk).values_list(
            "kind", "key", "active", "postable", "data")
        refset = cls((Entry(kind=k, key=key, active=a, postable=p, data=d or {}) for k, key, a, p, d in rows),
                     system=connection.system, name=str(connection))
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[connection.pk] = (stamp, refset)
        return refset

    # -- lookups -------------------------------------------------------------------------
    def _lookup(self, kind, key, label, field_name) -> Problem | None:
        table = self.kinds.get(kind)
        if table is None:
            return None
        hit = table.get(key)
        jde = self.system in (None, "jde") and kind == "account"
        shown = key if jde else f'"{key}"'  # JDE accounts read as in F0901: account 200.6110.CC10
        where = f"F0901 ({self._where()})" if jde else self._where()
        if hit is None:
            guess = self.folded.get(kind, {}).get(key.casefold())
            hint = f' (did you mean "{guess}"?)' if guess else ""
            return Problem(field_name, key, UNKNOWN, f"{label} {shown} is not in the reference data of {where}{hint}.")
        if hit[0] != OK:
            return Problem(field_name, key, hit[0], f"{label} {shown} is {hit[0]} in {where}.")
        return None

    def _where(self):
        return self.name or "the target connection"

    def checkable(self, field_name) -> bool:
        if TARGET_SYSTEM.get(field_name) == "jde":
            return "account" in self.kinds or REFERENCE_KIND[field_name] in self.kinds
        return REFERENCE_KIND.get(field_name) in self.kinds

    def _jde_partial(self, target: dict) -> list[Problem]:
        values = tuple((target.get(f) or None) for f in JDE_FIELDS)
        given = [f for f, v in zip(JDE_FIELDS, values, strict=True) if v]
        if not given:
            return []
        problems = []
        # explicit lists first (a loader may provide business units / objects / subsidiaries)
        for f in given:
            kind = REFERENCE_KIND[f]
            if kind in self.kinds:
                p = self._lookup(kind, target[f], TARGET_LABELS[f], f)
                if p:
                    problems.append(p)
        if problems or "account" not in self.kinds:
            return problems
        mask = sum(1 << i for i, v in enumerate(values) if v)
        st = self._jde_parts.get((mask, values))
        label = _jde_label(target)
        if st is None:
            return [Problem("account", label[1], UNKNOWN,
                            f"{label[0]} {label[1]} is not in the chart of accounts (F0901) of {self._where()}.")]
        if st != OK:
            return [Problem("account", label[1], st, f"{label[0]} {label[1]} is {st} in F0901 ({self._where()}).")]
        return []

    def check_partial(self, target: dict) -> list[Problem]:
        """Checks the fields one rule sets: each must exist and be usable; JDE parts must occur together."""
        problems = self._jde_partial(target)
        for f, v in target.items():
            if not v or TARGET_SYSTEM.get(f) == "jde" or f not in REFERENCE_KIND:
                continue
            if self.system is not None and TARGET_SYSTEM[f] != self.system:
                continue
            p = self._lookup(REFERENCE_KIND[f], v, TARGET_LABELS[f], f)
            if p:
                problems.append(p)
        return problems

    def check_resolved(self, target: dict) -> list[Problem]:
        """Checks a fully resolved line: the JDE account "BU.OBJ[.SUB]" must exist exactly and be postable."""
        problems = []
        bu, obj = target.get("business_unit"), target.get("object")
        if bu and obj and "account" in self.kinds and self.system in (None, "jde"):
            key = f"{bu}.{obj}" + (f".{target['subsidiary']}" if target.get("subsidiary") else "")
            p = self._lookup("account", key, "account", "account")
            if p:
                problems.append(p)
            rest = {k: v for k, v in target.items() if k not in JDE_FIELDS}
        else:
            rest = target
        return problems + [p for p in self.check_partial(rest)]


_CACHE: dict[int, tuple] = {}


def _jde_parts(e: Entry):
    d = e.data or {}
    if d.get("business_unit") or d.get("object"):
        return (str(d.get("business_unit") or "").strip(), str(d.get("object") or "").strip(),
                str(d.get("subsidiary") or "").strip())
    parts = e.key.split(".")
    if len(parts) < 2:
        return None
    return (parts[0].strip(), parts[1].strip(), (parts[2] if len(parts) > 2 else "").strip())


def _jde_label(target):
    """(what, text) naming the JDE part(s) a rule sets: ("business unit", "900") or ("account", "200.6110.CC10")."""
    bu, obj, sub = (target.get(f) or "" for f in JDE_FIELDS)
    given = [f for f in JDE_FIELDS if target.get(f)]
    if len(given) == 1:
        return (TARGET_LABELS[given[0]].replace("JD Edwards ", ""), target[given[0]])
    text = f"{bu or '*'}.{obj or '*'}" + (f".{sub}" if sub else "")
    return ("account", text)


# -- validation of one rule on save ---------------------------------------------------------------
def target_connections(rule):
    """The target connections a rule's targets are checked against.

    A flow-scoped rule: that flow's target. A tenant-wide rule: the targets of every flow of
    the tenant (each checked only for the fields of its own system).
    """
    if rule.flow_id:
        return [rule.flow.target]
    Flow = apps.get_model("integrations", "Flow")
    seen, out = set(), []
    for flow in Flow.objects.filter(tenant_id=rule.tenant_id).select_related("target"):
        if flow.target_id not in seen:
            seen.add(flow.target_id)
            out.append(flow.target)
    return out


def validate_rule_targets(rule):
    """-> (reference_status, [(field, message)], note). See ``MappingRule.check_reference``."""
    targets = rule.targets()
    if not targets:
        return "", [], ""
    systems = {TARGET_SYSTEM[f] for f in targets}
    connections = [c for c in target_connections(rule) if c.system in systems]
    problems, unchecked = [], set(targets)
    for conn in connections:
        refset = ReferenceSet.for_connection(conn)
        mine = {f: v for f, v in targets.items() if TARGET_SYSTEM[f] == conn.system}
        unchecked -= {f for f in mine if refset.checkable(f)}
        for p in refset.check_partial(mine):
            if p.field == "account":  # a JDE combination: shown on the most specific part the rule sets
                problems.append((next(f for f in ("object", "business_unit", "subsidiary") if f in mine), p.message))
            else:
                problems.append((p.field, p.message))
    merged = {}
    for f, msg in problems:
        merged[f] = f"{merged[f]} {msg}" if f in merged and msg not in merged[f] else msg
    if unchecked:
        names = ", ".join(sorted(unchecked))
        return "unchecked", list(merged.items()), (
            f"Not checked against reference data ({names}): no reference data is cached yet for the target "
            f"connection. Refresh it under GL mappings > Reference data.")
    return "ok", list(merged.items()), ""
