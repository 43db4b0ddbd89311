"""What one cycle did, as counts a person (and the cycle list in the admin) can read."""

from dataclasses import dataclass, field
from decimal import Decimal

from ..models import SyncCycle


@dataclass
class CycleResult:
    flow_kind: str
    cycle_id: str = ""
    state: str = SyncCycle.DONE
    fetched: int = 0
    posted: int = 0
    held: int = 0
    skipped: int = 0
    failed: int = 0
    in_doubt: int = 0
    more_work: bool = False  # the time budget ran out with work left: the next cycle carries on
    rechecked: int = 0  # posted records asked about again at the source (engine.recheck)
    amount_posted: dict = field(default_factory=dict)
    message: str = ""

    def summary(self):
        out = {
            "fetched": self.fetched,
            "posted": self.posted,
            "held": self.held,
            "skipped": self.skipped,
            "failed": self.failed,
            "in_doubt": self.in_doubt,
            "amount_posted": {cur: str(amount) for cur, amount in sorted(self.amount_posted.items())},
        }
        if self.more_work:
            out["more_work"] = True
        if self.rechecked:  # also what engine.recheck's throttle reads back
            out["rechecked"] = self.rechecked
        return out

    def add_amount(self, currency, amount):
        if amount is not None:
            self.amount_posted[currency] = self.amount_posted.get(currency, Decimal(0)) + Decimal(amount)
