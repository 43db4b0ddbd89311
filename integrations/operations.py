"""Operator actions on batches (admin bulk actions), each audited with the acting user.

Every action is ``fn(batches, user) -> int`` (how many batches moved). None of them
posts anything itself: a retried batch goes back through the cycle, where a batch that
was ever sent is reconciled first, so a retry posts only what the target lacks.
"""

from django.db import transaction
from django.utils import timezone

from audit import log as audit

from .flows import handler_class
from .models import Batch, BatchState

S = BatchState


def _move(batches, user, allowed_from, event, target_state, message, extra=None):
    """Move each batch in ``allowed_from`` to ``target_state`` (a state or a callable per batch)."""
    action_id = audit.new_action_id()
    actor = audit.actor_name(user)
    entries, moved, flows = [], 0, set()
    with transaction.atomic():
        for batch in batches.select_related("flow").select_for_update():
            if batch.state not in allowed_from:
                continue
            new_state = target_state(batch) if callable(target_state) else target_state
            fields = {"state": new_state, "updated_at": timezone.now(), **(extra(batch) if extra else {})}
            Batch.objects.filter(pk=batch.pk).update(**fields)
            entries.append(
                audit.entry(
                    batch.flow.tenant_id,
                    event,
                    flow_id=batch.flow_id,
                    batch_id=batch.pk,
                    source_ref=f"{batch.source_kind}:{batch.source_id}",
                    target_ref=batch.target_document_id,
                    actor=actor,
                    action_id=action_id,
                    message=message,
                    before={"state": batch.state, "error_code": batch.error_code},
                    after={"state": new_state},
                )
            )
            moved += 1
            flows.add(batch.flow)
        audit.write(entries)
    return moved, flows


def _fingerprint(batch, payload):
    return handler_class(batch.flow.kind)(batch.flow).fingerprint(payload)


def _queue(flows):
    from .tasks import queue_cycle

    for flow in flows:
        if flow.enabled:
            queue_cycle(flow, trigger="retry")


def _retry_state(batch):
    # Ever sent: reconcile first (after the settle window counted from the last send), then map again
    # from the current source version. Never sent: map again (the mapping may have been fixed).
    return S.IN_DOUBT if batch.attempts or batch.last_sent_at else S.NEW


def _clear_error(batch):
    fields = {"error_code": "", "last_error": "", "error_help": "", "next_attempt_at": None, "found_in_target": None}
    if batch.error_code == "SRC-CHANGED-IN-DOUBT" and batch.correction_payload:
        # Never in the target, changed at the source: the person chose to post the new version.
        fields.update(payload=batch.correction_payload, correction_payload=None,
                      payload_hash=_fingerprint(batch, batch.correction_payload))
    return fields


def retry_batches(batches, user, *, queue=True):
    moved, flows = _move(
        batches,
        user,
        {S.HELD, S.FAILED, S.SKIPPED},
        "batch.retry_requested",
        _retry_state,
        "retry requested: reconcile first if it was ever sent, else map again",
        _clear_error,
    )
    if queue:
        _queue(flows)
    return moved


def release_batches(batches, user, *, queue=True):
    """Release held batches (same path as retry: nothing is re-posted without reconcile)."""
    moved, flows = _move(batches, user, {S.HELD}, "batch.released", _retry_state, "released by an operator", _clear_error)
    if queue:
        _queue(flows)
    return moved


def requeue_batches(batches, user, *, queue=True):
    """Failed batches: retry now instead of waiting for their backoff."""
    moved, flows = _move(
        batches, user, {S.FAILED}, "batch.requeued", S.READY, "requeued now by an operator", lambda b: {"next_attempt_at": None}
    )
    if queue:
        _queue(flows)
    return moved


def hold_batches(batches, user):
    moved, _ = _move(
        batches,
        user,
        {S.NEW, S.READY, S.FAILED},
        "batch.held_by_operator",
        S.HELD,
        "held by an operator",
        lambda b: {
            "error_code": "MANUAL-HOLD",
            "last_error": f"held by {audit.actor_name(user)}",
            "error_help": "Release or retry the batch when it may post.",
        },
    )
    return moved


def skip_batches(batches, user):
    moved, _ = _move(
        batches,
        user,
        {S.NEW, S.READY, S.HELD, S.FAILED},
        "batch.skipped",
        S.SKIPPED,
        "skipped by an operator: it will not be posted",
    )
    return moved


# SRC-UNAPPROVED-AFTER-POST: the source withdrew a posted record (engine.recheck); accepting says the posted
# document was dealt with in the target (reversed, or meant to stand), and the record is not asked about again.
ACCEPTABLE = ("SRC-CHANGED-AFTER-POST", "SRC-UNAPPROVED-AFTER-POST", "RECON-MISMATCH", "RECON-DUPLICATE")


def _found_document(batch):
    """The target document a person accepted, when reconcile found one (the first of several copies)."""
    found = batch.found_in_target or []
    if batch.target_document_id or not found:
        return {}
    return {"target_document_id": str(found[0].get("document_id", ""))[:120], "posted_at": timezone.now()}


def accept_corrections(batches, user):
    """A person has dealt with a source change after posting, or with what reconcile found in the
    target (a differing document, extra copies): close the batch as posted."""
    corrections = batches.filter(error_code__in=ACCEPTABLE)
    moved, _ = _move(
        corrections,
        user,
        {S.HELD},
        "batch.correction_accepted",
        S.POSTED,
        "correction reviewed; the posted document stands",
        lambda b: {
            "payload": b.correction_payload or b.payload,
            "correction_payload": None,
            "payload_hash": _fingerprint(b, b.correction_payload or b.payload),
            "error_code": "",
            "last_error": "",
            "error_help": "",
            **_found_document(b),
        },
    )
    return moved
