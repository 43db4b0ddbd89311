"""Helpers shared by the fakes that live in simulated time (Procurify, BILL).

``WorldClock`` gives a fake "now" as the anchor's midnight (UTC) plus the sandbox clock's
time since the last reset, so ``POST /_sandbox/clock {"advance": s}`` moves it forward too.
"""

import datetime as dt


class WorldClock:
    anchor = None
    _epoch = 0.0

    def start_clock(self, anchor):
        self.anchor = anchor
        self._epoch = self.sandbox.clock()

    def now(self):
        elapsed = max(0.0, self.sandbox.clock() - self._epoch)
        return dt.datetime.combine(self.anchor, dt.time()) + dt.timedelta(seconds=elapsed)


def parse_when(text):
    """``YYYY-MM-DD`` or an ISO 8601 date-time (``Z`` or an offset) -> naive UTC datetime; None if invalid."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip().strip('"')
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time())
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
