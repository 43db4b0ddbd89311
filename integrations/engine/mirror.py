"""Mirrors: a target record that follows its source record (employees, vendors, suppliers, POs).

The posting machinery is reused unchanged. What a mirror adds is which versions become batches:

* each source record is mapped to the *target state* it should have (a plain dict with ``key`` and
  ``active``); its fingerprint is a hash of that state, so a source change that changes nothing in
  the target is no change;
* a version is one batch, ``source_id = "<key>@<fingerprint>"``: the first sight of a record or a
  change of its target state is a new batch the posting protocol writes exactly once (claims, in
  doubt, reconcile); an unchanged record makes no batch, so a run that finds nothing changed
  writes nothing anywhere; a return to a state the record had before (retired, then reactivated)
  is ``<key>@<fingerprint>~<n>`` (n: versions stored so far), or it would be the old, posted batch;
* a key the source no longer lists (after a complete scan) gets a version with ``active: False``;
* writing a version (``apply``): the target record is looked up by its natural key (link-by-match,
  so an existing record is adopted, never duplicated), then created, updated, deactivated, or left
  alone when it already is in that state; an older version whose key has a newer batch is
  superseded and writes nothing (a retried old change never overwrites a newer one).

A mirror flow gives a ``MirrorTarget`` (match/create/update/deactivate/same) and its source
records' target states; ``flows.mirror.MirrorFlow`` adapts that to the FlowHandler API.
"""

import hashlib
import json
from dataclasses import dataclass, field

from ..models import Batch

SEPARATOR = "@"
FINGERPRINT_LENGTH = 16
CREATED, UPDATED, DEACTIVATED, LINKED, UNCHANGED, SUPERSEDED = (
    "created", "updated", "deactivated", "linked", "unchanged", "superseded")


def fingerprint(state):
    """A hash of the target state. Keys starting with ``_`` are context kept with a version (ids learnt
    after a write, what each side held), not part of it: their change alone makes no new version."""
    relevant = {k: v for k, v in state.items() if not str(k).startswith("_")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:FINGERPRINT_LENGTH]


RETURN = "~"


def version_id(state, known=None):
    """The version's source id; ``known``: the record's newest stored Version (None for a new record)."""
    digest = fingerprint(state)
    if known is not None and digest in known.seen:
        return f"{state['key']}{SEPARATOR}{digest}{RETURN}{known.count}"
    return f"{state['key']}{SEPARATOR}{digest}"


def key_of(source_id):
    return str(source_id).rpartition(SEPARATOR)[0]


@dataclass
class Version:
    key: str
    fingerprint: str  # the target state's hash
    state: dict
    batch_id: int
    tag: str = ""  # what follows the separator in its source id (the fingerprint, "~n" on a return)
    seen: set = field(default_factory=set)  # every fingerprint this record's versions had
    count: int = 1  # versions stored of this record


def latest_versions(flow, source_kind):
    """key -> the newest stored Version of each record this flow mirrors."""
    latest = {}
    rows = Batch.objects.filter(flow=flow, source_kind=source_kind).order_by("pk").values_list("pk", "source_id", "payload")
    for pk, source_id, payload in rows.iterator():
        key, _, tag = str(source_id).rpartition(SEPARATOR)
        digest = tag.partition(RETURN)[0]
        prior = latest.get(key)
        seen = prior.seen if prior else set()
        seen.add(digest)
        latest[key] = Version(key, digest, dict((payload or {}).get("target") or {}), pk, tag, seen,
                              prior.count + 1 if prior else 1)
    return latest


def changed(states, latest, *, complete):
    """The target states that need a new version: new or changed keys, and, after a complete scan,
    ``active: False`` for keys no longer listed (unless their newest version already says so)."""
    out = []
    for state in states:
        known = latest.get(state["key"])
        if known is None or known.fingerprint != fingerprint(state):
            out.append(state)
    if complete:
        listed = {s["key"] for s in states}
        for key, known in latest.items():
            if key not in listed and known.state.get("active", True):
                out.append({**known.state, "active": False, "gone": True})
    return out


def superseded(batch):
    """True when a newer version of the same record was stored after ``batch``."""
    key = key_of(batch.source_id)
    newer = Batch.objects.filter(flow_id=batch.flow_id, source_kind=batch.source_kind, pk__gt=batch.pk,
                                 source_id__startswith=f"{key}{SEPARATOR}")
    return any(key_of(s) == key for s in newer.values_list("source_id", flat=True))


class MirrorTarget:
    """What a mirror needs from its target. ``match`` finds the target record by natural key (None when
    absent); ``same`` says whether it already is in ``state``; the writes return the target's id."""

    def match(self, state):
        raise NotImplementedError

    def same(self, existing, state):
        raise NotImplementedError

    def create(self, state):
        raise NotImplementedError

    def update(self, existing, state):
        raise NotImplementedError

    def deactivate(self, existing, state):
        raise NotImplementedError

    def target_id(self, existing, state):
        return str(state["key"])


def apply(target, state):
    """Bring the target record to ``state``: ``(action, target id)``; at most one write."""
    existing = target.match(state)
    if not state.get("active", True):
        if existing is None or target.same(existing, state):
            return UNCHANGED, target.target_id(existing, state)
        return DEACTIVATED, target.deactivate(existing, state)
    if existing is None:
        return CREATED, target.create(state)
    if target.same(existing, state):
        return LINKED, target.target_id(existing, state)
    return UPDATED, target.update(existing, state)


def in_state(target, state):
    """Reconcile's question: is the target record already in ``state``? (absent counts for inactive)."""
    existing = target.match(state)
    if existing is None:
        return not state.get("active", True)
    return target.same(existing, state)
