"""The FlowHandler side of a mirror (see ``engine.mirror``): a flow gives its records' target states
and a ``MirrorTarget``; this class turns them into batches, postings, writes and reconcile answers.

A subclass sets ``source_kind`` and ``reference_prefix``, builds ``self.target`` in ``open`` and
implements ``source_states() -> (states, complete)``. A state is a dict with ``key`` and ``active``
(plus whatever the target needs); a record that cannot be mapped carries ``problem: [code, message]``
and is stored held with it (a new version, once mapped, is written as usual).
"""

import logging
from collections import Counter
from datetime import date

from ..engine import mirror
from ..engine.sanitize import clean_text
from ..posting import Posting
from .base import FlowHandler, FoundDocument, Page, PostResult, SourceRecord

logger = logging.getLogger(__name__)


class MirrorFlow(FlowHandler):
    shape = "mirror"
    target = None  # a mirror.MirrorTarget, set by open()

    def source_states(self):
        """``(list of target states, True when the list is every record the source has)``."""
        raise NotImplementedError

    def describe(self, state):
        return f"{state['key']}"

    def states_of(self, records, build, *, key):
        """``build(record)`` for each record. A record whose state cannot be built (a value of a shape nobody
        expected) becomes a held version with the defect named, so one record never fails the cycle."""
        states = []
        for record in records:
            try:
                states.append(clean_state(build(record)))
            except Exception as exc:
                logger.exception("flow %s: the target state of %s could not be built", self.flow.pk, key(record))
                states.append({"key": key(record), "active": True, "problem": [
                    "MAP-INTERNAL-ERROR", f"the record could not be mapped ({type(exc).__name__}: {str(exc)[:200]})"]})
        return states

    def coverage_gaps(self):
        """Mapping coverage (``integrations.coverage``): every record that cannot be mirrored as it is, with
        the reason its version would be held for."""
        from mappings.coverage import UNMAPPED, Gap

        states, _ = self.source_states()
        return [Gap({"record": self.describe(s)}, "record", None, UNMAPPED, s["problem"][1]) for s in states
                if s.get("problem")]

    # -- source ------------------------------------------------------------------------------
    def fetch(self, cursor):
        states, complete = self.source_states()
        latest = mirror.latest_versions(self.flow, self.source_kind)
        todo = mirror.changed(states, latest, complete=complete)
        # Every version this fetch stores is newer than each batch just read, and a key listed once gets one: such
        # a version cannot be superseded within the cycle, so its post skips that question to the database (one
        # query a record). Older versions (retries) and keys the source listed twice still ask.
        self._fresh_after = max((v.batch_id for v in latest.values()), default=0)
        listed = Counter(s["key"] for s in todo)
        self._fresh_keys = {key for key, n in listed.items() if n == 1}
        size = int(self.options.get("page_size", 500))
        for start in range(0, len(todo), size):
            chunk = todo[start:start + size]
            yield Page(records=[SourceRecord(id=mirror.version_id(s, latest.get(s["key"])), payload={"target": s},
                                             summary=self.describe(s)) for s in chunk])

    def check_record(self, payload):
        problem = (payload.get("target") or {}).get("problem")
        return payload, [], [tuple(problem)] if problem else []

    # -- mapping -----------------------------------------------------------------------------------
    def build_posting(self, record_payload, external_ref):
        state = record_payload["target"]
        verb = "gone from the source: deactivate" if state.get("gone") else "active" if state.get("active", True) \
            else "inactive: deactivate"
        notes = [f"{k}: {v}" for k, v in sorted(state.items()) if k not in ("key", "active") and not k.startswith("_")]
        return Posting(reference=external_ref, date=date.today().isoformat(), currency="",
                       memo=f"{self.describe(state)} ({verb})", notes=notes)

    def target_document(self, posting):
        return {"reference": posting.reference, "memo": posting.memo, "state": posting.notes}

    # -- target --------------------------------------------------------------------------------------
    def post(self, batch, posting):
        if not self._fresh(batch) and mirror.superseded(batch):
            return PostResult(document_id=mirror.key_of(batch.source_id), details={"action": mirror.SUPERSEDED})
        action, target_id = mirror.apply(self.target, batch.payload["target"])
        return PostResult(document_id=str(target_id), details={"action": action})

    def _fresh(self, batch):
        after = getattr(self, "_fresh_after", None)
        return after is not None and batch.pk > after and mirror.key_of(batch.source_id) in self._fresh_keys

    def find(self, batch):
        state = batch.payload["target"]
        if not mirror.in_state(self.target, state):
            return []
        return [FoundDocument(document_id=self.target.target_id(None, state), total=0, line_count=0, currency="",
                              details={"action": "found in state"})]

    def confirm(self, batches):
        return list(batches)  # nothing to acknowledge at the source: a written version is done


def clean_state(value):
    """``value`` with control characters removed from every text in it (names, descriptions, lines), so none
    reaches a target; the key is an identifier and is left as it is."""
    if isinstance(value, dict):
        return {k: (v if k == "key" else clean_state(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_state(v) for v in value]
    return clean_text(value) if isinstance(value, str) else value
