"""A group's answers read: the move of each batch, and what the cycle must do once they are written.

``settle`` turns a group's outcomes (``sending.Outcome``) into ``moves.Move``s (built by ``outcomes.py``) and
notes what follows the write: documents the target says it already has (verified as reconcile would), a
connection refused (the cycle pauses), posts not sent because the lease ran out (the cycle stops).
"""

from dataclasses import dataclass, field

from ..models import BatchState
from .moves import Move
from .outcomes import failed_move, in_doubt_move, posted_move
from .sending import DEFECT, FAILED, NOT_SENT, POSTED, REFUSED, UNKNOWN

S = BatchState


@dataclass
class GroupResult:
    moves: list = field(default_factory=list)
    existing: list = field(default_factory=list)  # (batch, found): the target already had the reference
    refused: Exception | None = None  # the target refused the connection: pause once written
    unsent: bool = False  # the lease ran out before some were sent: stop once written

    @property
    def stops(self):
        """The cycle starts no more groups after this one."""
        return self.refused is not None or self.unsent


def settle(outcomes, max_attempts):
    """The ``GroupResult`` of ``outcomes`` ([(batch, Outcome)])."""
    result = GroupResult()
    moves = result.moves
    for batch, outcome in outcomes:
        if outcome.kind == POSTED and getattr(outcome.result, "existing", False):
            result.existing.append((batch, getattr(outcome.result, "found", None)))
        elif outcome.kind == POSTED:
            moves.append(posted_move(batch, outcome.result))
        elif outcome.kind == UNKNOWN:
            moves.append(in_doubt_move(batch, outcome.error.code, outcome.error.message))
        elif outcome.kind == DEFECT:
            moves.append(in_doubt_move(batch, "INTERNAL-ERROR",
                                       f"internal error while posting: {type(outcome.error).__name__}"))
        elif outcome.kind == REFUSED:
            result.refused = result.refused or outcome.error
            moves.append(Move(batch, "batch.unclaimed", f"[{outcome.error.code}] refused for the connection; stays "
                              "ready", {"state": S.READY, "attempts": batch.attempts - 1}))
        elif outcome.kind == FAILED:
            moves.append(failed_move(batch, outcome.error, max_attempts))
        elif outcome.kind == NOT_SENT:
            # Never sent: give the claim back (still conditional on it being ours) so whoever holds the
            # flow now posts it without waiting out a settle window.
            result.unsent = True
            moves.append(Move(batch, "batch.unclaimed", "not sent: this cycle's lease ran out first",
                              {"state": S.READY, "attempts": batch.attempts - 1}))
    return result
