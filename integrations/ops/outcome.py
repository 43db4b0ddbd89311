"""A cycle's outcome in words, the same in every list: a failed cycle says why, never "finished"."""

from ..models import SyncCycle


def cycle_outcome(cycle) -> str:
    reason = (cycle.message or "").strip().splitlines()[0] if (cycle.message or "").strip() else ""
    if cycle.state == SyncCycle.FAILED:
        return f"failed: {reason or cycle.progress or 'no reason recorded'}"
    if cycle.state == SyncCycle.PAUSED:
        return f"paused: {reason or cycle.progress or 'connection outage'}"
    if cycle.state == SyncCycle.SKIPPED:
        return f"skipped: {reason}" if reason else "skipped"
    return cycle.progress or cycle.state
