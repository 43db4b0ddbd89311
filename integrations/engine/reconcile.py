"""Reconcile: what became of a post whose outcome is unknown. Runs only after the settle window.

A batch in doubt is searched for in the target only once ``settle_seconds`` (per target
connection, see ``settle_window``) have passed since it was last sent, because until then
the target may still be writing it and "not found" proves nothing. Then:

* one document, equal to the posting (total, line count, currency): ``posted``;
* one document that differs, or more than one copy: ``held`` (RECON-MISMATCH /
  RECON-DUPLICATE) with what was found kept beside the posting, and one alert;
* none: the record is mapped again from its current source version (a source that changed
  meanwhile is a correction for a person: held) and posted once more;
* the target cannot tell right now: stays ``in_doubt``.
A batch leaves ``in_doubt`` only through here; a second unknown outcome brings it back.
"""

import json
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from ..models import BatchState
from ..posting import Hold, Posting
from ..systems.errors import IntegrationError
from .errors import CONNECTION_ERRORS, Paused

S = BatchState
# Well above any client read timeout (60 s by default) plus the slowest write a target may still finish.
DEFAULT_SETTLE_SECONDS = 600


def settle_window(connection):
    seconds = (connection.options or {}).get("settle_seconds")
    return timedelta(seconds=float(DEFAULT_SETTLE_SECONDS if seconds in (None, "") else seconds))


def compare(posting, found):
    """The differences between what we sent and a document found in the target ([] when equal)."""
    ours = {
        "total": posting.debit_total,
        "lines": len(posting.lines),
        "currency": (posting.currency or "").upper(),
    }
    theirs = {"total": Decimal(found.total), "lines": int(found.line_count), "currency": (found.currency or "").upper()}
    return [f"{key}: posted {ours[key]}, found {theirs[key]}" for key in ours if ours[key] != theirs[key]]


def _found_json(documents):
    return json.loads(json.dumps([doc.as_dict() for doc in documents], default=str))


class Reconciler:
    def __init__(self, ctx):
        self.ctx = ctx
        self.poster = None  # set by the cycle (the poster marks found documents as posted)

    def due(self):
        window = settle_window(self.ctx.flow.target)
        limit = timezone.now() - window
        return [b for b in self.ctx.batches(state=S.IN_DOUBT) if b.last_sent_at is None or b.last_sent_at <= limit]

    def reconcile_due(self):
        for batch in self.due():
            if self.ctx.out_of_time():
                return
            self.reconcile(batch)

    def _search(self, batch):
        try:
            return self.ctx.handler.find(batch)
        except CONNECTION_ERRORS as exc:
            raise Paused(exc) from exc
        except IntegrationError as exc:
            self.ctx.result.in_doubt += 1
            self.ctx.audit_now("batch.reconcile_failed", batch, message=f"[{exc.code}] {exc.message}: stays in doubt")
            return None

    def reconcile(self, batch, *, expect=(S.IN_DOUBT,), claimed=False):
        found = self._search(batch)
        if found is None:
            return
        if found:
            self._judge(batch, found, expect=expect, claimed=claimed)
            return
        self._absent(batch, expect=expect, claimed=claimed)

    def verify_existing(self, batch, found=None):
        """The target answered that it already has this reference: accept it only if it is ours. ``found``: what
        the post's own search found just before (no second search: on the cycle's thread it would also wait for a
        concurrency slot that the sending threads keep until the end of the run of groups)."""
        if not found:
            found = self._search(batch)
        if found is None:  # cannot tell: in doubt, reconciled later
            self.ctx.result.in_doubt += 1
            self.ctx.move(batch, "batch.in_doubt", "the target reports an existing copy that could not be read back",
                          expect=[S.POSTING], claimed=True, state=S.IN_DOUBT, last_sent_at=timezone.now())
            return
        self._judge(batch, found, expect=[S.POSTING], claimed=True)

    def _judge(self, batch, found, *, expect, claimed):
        ctx = self.ctx
        posting = Posting.from_json(batch.posting)
        if len(found) > 1:
            error = Hold(
                f"{batch.external_ref} is in the target {len(found)} times: "
                + ", ".join(doc.document_id for doc in found),
                code="RECON-DUPLICATE",
                help="Reverse the extra copies in the target (keep one), then choose 'Accept correction' or retry.",
            )
            ctx.hold(batch, error, expect=expect, claimed=claimed, found_in_target=_found_json(found))
            return
        differences = compare(posting, found[0])
        if differences:
            error = Hold(
                f"{batch.external_ref} was found in the target as {found[0].document_id} but differs from the posting: "
                + "; ".join(differences),
                code="RECON-MISMATCH",
                help="Compare the posting with what the target holds (Found in target). Correct the document in the "
                "target, then choose 'Accept correction'.",
            )
            ctx.hold(batch, error, expect=expect, claimed=claimed, found_in_target=_found_json(found))
            return
        self.poster.mark_posted(
            batch,
            found[0].as_result(),
            expect=expect,
            claimed=claimed,
            event="batch.reconciled_posted",
            message=f"reconcile found {batch.external_ref} in the target as {found[0].document_id}, equal to the "
            "posting: recorded as posted, not re-posted",
        )

    def _absent(self, batch, *, expect, claimed):
        ctx = self.ctx
        try:
            changed = ctx.handler.source_changed(batch)
        except CONNECTION_ERRORS as exc:
            raise Paused(exc) from exc
        except IntegrationError as exc:
            ctx.result.in_doubt += 1
            ctx.audit_now("batch.reconcile_failed", batch, message=f"absent from the target, but the source could not "
                          f"be read to check it is unchanged ([{exc.code}] {exc.message}): stays in doubt")
            return
        if changed is None and batch.correction_payload:
            changed = batch.correction_payload
        if changed is not None:
            error = Hold(
                f"{batch.external_ref} is not in the target, and the source record changed after it was last sent",
                code="SRC-CHANGED-IN-DOUBT",
                help="Compare the source record (Correction payload) with the posting, then retry to post the new "
                "version or skip the batch.",
            )
            ctx.hold(batch, error, expect=expect, claimed=claimed, correction_payload=changed)
            return
        # Certainly absent after the window: map again from the stored source version (rules may have changed).
        ctx.move(
            batch,
            "batch.reconciled_absent",
            f"reconcile: {batch.external_ref} is not in the target; mapped again and posted once more",
            expect=expect,
            claimed=claimed,
            state=S.NEW,
            error_code="",
            last_error="",
            error_help="",
        )
