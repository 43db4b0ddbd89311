"""What a post's outcome moves its batch to: posted, in doubt, failed with backoff, or held.

The moves are data (``moves.Move``); the posting protocol writes a whole group's at once.
"""

from datetime import timedelta

from django.utils import timezone

from ..models import BatchState
from ..systems.errors import IntegrationError
from .moves import Move

S = BatchState
# Backoff for retryable failures, by attempt number (seconds); the last value repeats.
RETRY_DELAYS = [60, 300, 900, 3600]
IN_DOUBT_HELP = ("The target may have written it. The portal searches for it after the settle window and records it "
                 "as posted if found; nothing is re-posted before that.")


def posted_move(batch, result, *, event="batch.posted", message=""):
    fields = {"state": S.POSTED, "target_document_id": str(result.document_id)[:120], "posted_at": timezone.now(),
              "error_code": "", "last_error": "", "error_help": "", "next_attempt_at": None, "found_in_target": None}
    if result.details:
        fields["posting"] = {**(batch.posting or {}), "target": result.details}
    return Move(batch, event, message or f"posted as {result.document_id}", fields)


def in_doubt_move(batch, code, message):
    return Move(batch, "batch.in_doubt", f"[{code}] {message}: reconcile after the settle window, never a blind re-post",
                {"state": S.IN_DOUBT, "error_code": code, "last_error": message, "error_help": IN_DOUBT_HELP,
                 "last_sent_at": timezone.now()})


def failed_move(batch, exc, max_attempts):
    """Failed with backoff while the error is retryable and attempts are left; held otherwise."""
    if exc.retryable and batch.attempts < max_attempts:
        delay = RETRY_DELAYS[min(batch.attempts, len(RETRY_DELAYS)) - 1]
        if exc.retry_after:
            delay = max(delay, int(exc.retry_after))
        return Move(batch, "batch.failed", f"[{exc.code}] {exc.message}; retry in {delay}s",
                    {"state": S.FAILED, "error_code": exc.code, "last_error": exc.message, "error_help": exc.help,
                     "next_attempt_at": timezone.now() + timedelta(seconds=delay)})
    if exc.retryable:
        exc = IntegrationError(f"{exc.message} (gave up after {batch.attempts} attempts)", code=exc.code,
                               help=exc.help or "Check that the target system is up, then retry the batch.")
    return Move(batch, "batch.held", f"[{exc.code}] {exc.message}",
                {"state": S.HELD, "error_code": exc.code, "last_error": exc.message, "error_help": exc.help,
                 "next_attempt_at": None})
