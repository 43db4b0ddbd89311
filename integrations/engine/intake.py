"""Record: one Batch per source record, stored before anything else happens to it.

* A record the flow cannot take as it is (the handler's ``check_record`` names its problems:
  bad amounts, no lines, unknown currency...) is stored too, as a held batch with the
  reason, so it is visible and the rest of the page goes on.
* The external reference is unique per target connection: a record another flow already
  stored for the same target is left to that flow (never posted twice across flows).
* A page's batches, and the cursor when the page carries one, are written in one fenced
  transaction: the cursor never moves past a record that is not stored.
"""

import dataclasses
import hashlib
import logging

from django.db import DataError, IntegrityError, transaction

from ..currencies import is_known
from ..models import Batch, BatchState, Flow
from ..posting import Hold
from .rows import insert_each
from .sanitize import storable, storable_encoded

logger = logging.getLogger(__name__)
S = BatchState
UNSTORABLE = Hold(
    "the source record could not be stored as it is (a value does not fit the database)",
    code="SRC-UNSTORABLE",
    help="Correct the record in the source system; it is fetched again once it changes.",
)


SOURCE_ID_LENGTH = Batch._meta.get_field("source_id").max_length
REF_LENGTH = Batch._meta.get_field("external_ref").max_length


def stored_id(value, length):
    """``value`` as the database keeps it: NUL replaced, and an id longer than its column shortened to a stable
    form (its start and a digest), so that the record is stored, held with the reason, and found again."""
    text = storable(str(value))
    if len(text) <= length:
        return text
    return f"{text[: length - 17]}~{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def problem_hold(problems):
    code = problems[0][0]
    message = "; ".join(text for _, text in problems)[:2000]
    return Hold(message, code=code, help="Correct the record in the source system; the corrected version is fetched "
                "and posted when it changes there. Or skip the batch.")


class Intake:
    def __init__(self, ctx):
        self.ctx = ctx

    def store(self, page, mapper=None):
        """Store ``page``; returns the batches to map now (new ones and changed ones not yet posted). With a
        ``mapper`` (``mapping.Mapper``) a new record is mapped first and stored ready (or held), one write
        instead of an insert and an update; a record changed at the source is still returned to map."""
        ctx, handler = self.ctx, self.ctx.handler
        kind = handler.source_kind
        records, too_long = unique(page.records)
        ids = [r.id for r in records]
        existing = {b.source_id: b for b in Batch.objects.filter(flow=ctx.flow, source_kind=kind, source_id__in=ids)}
        refs = {self.reference(r.id): r.id for r in records if r.id not in existing}
        elsewhere = self.stored_elsewhere(refs)
        new, updates, texts = [], [], {}
        for record in records:
            ctx.result.fetched += 1
            payload, notes, problems = self.check(record)
            payload, text = storable_encoded(payload)
            if record.id in too_long or len(handler.external_ref(record.id)) > REF_LENGTH:
                problems = [*problems, ("SRC-ID-TOO-LONG", f"the record's id is longer than a batch keeps ({SOURCE_ID_LENGTH} "
                                        f"characters, {REF_LENGTH} as a reference); it is kept shortened as {record.id[:60]}")]
            batch = existing.get(record.id)
            if batch is not None:
                updates.extend(self._changed(batch, payload, notes, problems))
            elif self.reference(record.id) in elsewhere:
                ctx.result.skipped += 1
                ctx.audit("record.owned_elsewhere", source_ref=f"{kind}:{record.id}",
                          message=f"{self.reference(record.id)} is already a batch of another flow on this target: "
                          "left to that flow, never posted twice")
            else:
                new.append(self._new_batch(record.id, payload, notes, problems))
                if text is not None:
                    texts[id(new[-1])] = text
        decisions = mapper.decide_all(new) if mapper is not None else {}
        created = self._write(new, updates, page.cursor, decisions, texts)
        # new ones, mapped already when a mapper was given (ready), and changed ones to map
        return [b for b in created if b.state in (S.NEW, S.READY)] + [b for b, _ in updates if b.state == S.NEW]

    def check(self, record):
        """The handler's ``check_record``, and its ``source_amount`` for a record without problems. A record that
        breaks either (a shape nobody expected) is stored held with the defect named, never failing the page."""
        handler = self.ctx.handler
        try:
            payload, notes, problems = handler.check_record(record.payload)
            currency = handler.source_amount(payload)[1] if not problems else ""
        except Exception as exc:
            logger.exception("flow %s: record %s could not be checked", self.ctx.flow.pk, str(record.id)[:60])
            return record.payload, [], [("SRC-UNREADABLE", f"the record could not be read ({type(exc).__name__}: "
                                         f"{str(exc)[:200]}); this is a defect in the connector, report it to support")]
        if currency and not is_known(currency):  # a batch keeps a three-letter ISO code, nothing else
            problems = [*problems, ("SRC-UNKNOWN-CURRENCY", f"currency {str(currency)[:10]!r} is not an ISO 4217 currency")]
        return payload, notes, problems

    def stored_elsewhere(self, refs):
        """The references of ``refs`` another flow already stored for this flow's target. Looked up by reference
        alone (its own index, a probe per reference), the target and flow compared here: with the target in the
        query SQLite walks every batch of the target instead, a cost per page that grows with the table."""
        flow = self.ctx.flow
        rows = Batch.objects.filter(external_ref__in=list(refs)).order_by().values_list("external_ref", "target_id", "flow_id")
        return {ref for ref, target, owner in rows if target == flow.target_id and owner != flow.pk}

    def reference(self, source_id):
        return stored_id(self.ctx.handler.external_ref(source_id), REF_LENGTH)

    # -- one record -------------------------------------------------------------------------
    def _new_batch(self, source_id, payload, notes, problems):
        ctx, handler = self.ctx, self.ctx.handler
        batch = Batch(
            flow=ctx.flow,
            target_id=ctx.flow.target_id,
            source_kind=handler.source_kind,
            source_id=source_id,
            state=S.NEW,
            payload=payload,
            payload_hash=handler.fingerprint(payload),
            external_ref=self.reference(source_id),
            notes=notes,
        )
        if problems:
            self._as_held(batch, problem_hold(problems))
        else:
            batch.amount, batch.currency = handler.source_amount(payload)
        return batch

    def _as_held(self, batch, error):
        batch.state, batch.error_code, batch.last_error, batch.error_help = S.HELD, error.code, error.message, error.help
        self.ctx.result.held += 1
        self.ctx.note_held(batch)

    def _changed(self, batch, payload, notes, problems):
        """What to do with a record offered again: [(batch, fields)] to update, or []."""
        ctx, handler = self.ctx, self.ctx.handler
        digest = handler.fingerprint(payload)
        if batch.payload_hash == digest or (batch.correction_payload and handler.fingerprint(batch.correction_payload) == digest):
            ctx.result.skipped += 1
            if batch.state == S.HELD and batch.error_code and batch.error_code == handler.retracted_code:
                # withdrawn at the source after posting (engine.recheck), now offered again as it was posted
                return [self._update(batch, "batch.restored", "offered again by the source exactly as posted: posted "
                                     "again, not posted twice", state=S.POSTED, error_code="", last_error="",
                                     error_help="")]
            ctx.audit("batch.reoffered", batch, message="offered again unchanged by the source: not posted again")
            return []
        if batch.posted_at or batch.state in (S.POSTED, S.CONFIRMED):
            fields = {"state": S.HELD, "correction_payload": payload, "error_code": "SRC-CHANGED-AFTER-POST",
                      "last_error": f"{batch.source_kind} {batch.source_id} changed at the source after it was "
                      f"posted as {batch.target_document_id or batch.external_ref}",
                      "error_help": "Compare the posted document with the new version (Correction payload). Post "
                      "an adjusting entry in the target if needed, then choose 'Accept correction' to close "
                      "this batch."}
            self.ctx.result.held += 1
            self.ctx.note_held(batch, **fields)
            return [self._update(batch, "batch.correction_held", "the source record changed after it was posted; it is "
                                 "not posted again", **fields)]
        if batch.state == S.HELD and batch.last_sent_at:
            # It was sent before and may be in the target (e.g. held because reconcile found a different copy):
            # the new version waits beside it for a person; Retry reconciles first.
            return [self._update(batch, "batch.source_changed_held", "the source record changed while held after a "
                                 "send; kept as a correction, not posted", correction_payload=payload)]
        if batch.state == S.SKIPPED:  # an operator excluded it: keep the new version, stay excluded
            return [self._update(batch, "batch.source_changed", "the source record changed; the batch stays skipped",
                                 payload=payload, payload_hash=digest, notes=notes)]
        if batch.state in (S.NEW, S.READY, S.HELD, S.FAILED):
            fields = {"payload": payload, "payload_hash": digest, "notes": notes, "error_code": "", "last_error": "",
                      "error_help": "", "state": S.NEW}
            if problems:
                error = problem_hold(problems)
                fields.update(state=S.HELD, error_code=error.code, last_error=error.message, error_help=error.help)
                self.ctx.result.held += 1
                self.ctx.note_held(batch, **fields)
            else:
                fields["amount"], fields["currency"] = handler.source_amount(payload)
            return [self._update(batch, "batch.source_changed", "the source record changed before it was posted: "
                                 "mapped again", **fields)]
        # posting / in_doubt: its outcome decides first; the change is kept for a person
        return [self._update(batch, "batch.source_changed_in_doubt", "the source record changed while its post is in "
                             "doubt", correction_payload=payload)]

    def _update(self, batch, event, message, **fields):
        before = batch.state
        for key, value in fields.items():
            setattr(batch, key, value)
        self.ctx.audit(event, batch, message=message, before={"state": before}, after={"state": batch.state})
        return batch, fields

    # -- the write ----------------------------------------------------------------------------
    def _write(self, new, updates, cursor, decisions, texts):
        ctx = self.ctx
        try:
            with transaction.atomic():
                ctx.lease.fence()  # once: the flow row stays locked to this transaction's end
                created = insert_each(new, key=("flow", "source_kind", "source_id"), encoded={"payload": texts})
                self._finish_write(created, updates, cursor, decisions)
        except (IntegrityError, DataError) as exc:
            # One record does not fit (or another flow stored the same reference meanwhile): store them one by one.
            logger.warning("flow %s: page not stored in one go (%s); storing record by record", ctx.flow.pk, exc)
            with transaction.atomic():
                ctx.lease.fence()
                created = [b for b in (self._insert_one(b) for b in new) if b is not None]
                self._finish_write(created, updates, cursor, decisions)
        return created

    def _insert_one(self, batch):
        try:
            with transaction.atomic():
                batch.save(force_insert=True)
            return batch
        except IntegrityError:
            self.ctx.result.skipped += 1
            self.ctx.audit("record.owned_elsewhere", source_ref=f"{batch.source_kind}:{batch.source_id}",
                           message=f"{batch.external_ref} was stored by another flow on this target meanwhile")
            return None
        except DataError:
            batch.pk = None
            batch.payload = {"unstorable": True, "summary": storable(repr(batch.payload)[:500])}
            batch.posting = {}  # mapped before the insert: the posting may hold what did not fit
            batch.amount, batch.currency, batch.notes = None, "", []
            if batch.state != S.HELD:
                self._as_held(batch, UNSTORABLE)
            with transaction.atomic():
                batch.save(force_insert=True)
            return batch

    def _finish_write(self, created, updates, cursor, decisions):
        ctx = self.ctx
        for batch, fields in updates:
            Batch.objects.filter(pk=batch.pk).update(**fields)
        for batch in created:
            decision = decisions.get(id(batch))
            if decision and batch.state != decision[2]:  # held as unstorable at the insert: that is its story
                decision = None
            # Stored mapped, in one write: one entry says both (the state it was stored in, what the mapping said).
            message = decision[1] if decision else f"[{batch.error_code}] {batch.last_error}" if batch.state == S.HELD else ""
            ctx.audit("batch.recorded", batch, after={"state": batch.state, "payload_hash": batch.payload_hash},
                      message=message)
        ctx.flush_audit()
        if cursor:
            merged = {**(ctx.flow.cursor or {}), **cursor}
            Flow.objects.filter(pk=ctx.flow.pk).update(cursor=merged)
            ctx.flow.cursor = merged


def distinct(records):
    """Each record once by the id the database keeps (``stored_id``): the last version wins if the source repeats one."""
    by_id = {}
    for record in records:
        sid = stored_id(record.id, SOURCE_ID_LENGTH)
        by_id.pop(sid, None)
        by_id[sid] = record
    return list(by_id.values())


def unique(records):
    """The page's records under the ids the database keeps (``stored_id``), each id once (``distinct``), and the
    set of ids that had to be shortened."""
    out, too_long = [], set()
    for record in distinct(records):
        sid = stored_id(record.id, SOURCE_ID_LENGTH)
        if len(storable(str(record.id))) > SOURCE_ID_LENGTH:
            too_long.add(sid)
        out.append(dataclasses.replace(record, id=sid) if sid != record.id else record)
    return out, too_long
