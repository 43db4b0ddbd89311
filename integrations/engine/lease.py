"""The flow lease: which cycle may write for a flow, for as long as its worker lives.

A cycle takes the lease with a conditional UPDATE on its Flow row (free, expired or its
own), and a daemon thread renews it every third of its time to live, so a live cycle keeps
it however slow a page or a post is, and a killed or frozen worker loses it within
``ttl`` seconds. Every state write of the cycle is fenced: a claim or a page write is
conditional on the lease in the database, a batch result on the batch still being claimed
by this cycle, and nothing is sent to a target unless the lease is valid by this process's
own clock (a worker paused past its lease does not send when it wakes).
"""

import logging
import threading
import time
from datetime import timedelta

from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from ..models import Flow, SyncCycle

logger = logging.getLogger(__name__)
# Stop sending this long before the lease would expire by our own clock.
SAFETY_MARGIN = 0.2


class LeaseLost(Exception):
    """This cycle no longer holds its flow: it must stop and write nothing more."""


class FlowLease:
    def __init__(self, flow_id, owner, ttl, cycle_pk=None):
        self.flow_id = flow_id
        self.owner = owner
        self.ttl = float(ttl)
        self.cycle_pk = cycle_pk
        self.lost = False
        self._deadline = 0.0  # time.monotonic() until which the lease surely holds
        self._stop = threading.Event()
        self._thread = None

    # -- taking and giving back ------------------------------------------------------------
    @classmethod
    def acquire(cls, flow_id, owner, ttl):
        """The lease when it is free, expired or already ours; None while another cycle holds it."""
        lease = cls(flow_id, owner, ttl)
        started = time.monotonic()
        now = timezone.now()
        taken = (
            Flow.objects.filter(pk=flow_id)
            .filter(Q(lease_owner__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner))
            .update(lease_owner=owner, lease_until=now + timedelta(seconds=lease.ttl))
        )
        if not taken:
            return None
        lease._deadline = started + lease.ttl
        return lease

    def start(self, cycle_pk):
        self.cycle_pk = cycle_pk
        self._thread = threading.Thread(target=self._keep, name=f"lease-flow-{self.flow_id}", daemon=True)
        self._thread.start()

    def release(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.ttl)
        Flow.objects.filter(pk=self.flow_id, lease_owner=self.owner).update(lease_owner=None, lease_until=None)

    # -- renewing ---------------------------------------------------------------------------
    def _keep(self):
        pause = self.ttl / 3
        try:
            while not self._stop.wait(pause):
                outcome = self.renew()
                if outcome is False:
                    return
                # A busy database (SQLite's table lock while the cycle writes): try again soon.
                pause = self.ttl / 3 if outcome else 0.05
        finally:
            connection.close()  # this thread's own database connection

    def renew(self):
        """Extend the lease: True; False once it is lost (taken over, or the flow is gone); None when
        the database was too busy to answer this time."""
        started = time.monotonic()
        now = timezone.now()
        try:
            renewed = Flow.objects.filter(pk=self.flow_id, lease_owner=self.owner, lease_until__gt=now).update(
                lease_until=now + timedelta(seconds=self.ttl)
            )
            if renewed and self.cycle_pk:
                SyncCycle.objects.filter(pk=self.cycle_pk, state=SyncCycle.RUNNING).update(heartbeat_at=now)
        except Exception as exc:  # a busy database: try again next tick; the local deadline still bounds us
            logger.debug("lease of flow %s not renewed this time: %s", self.flow_id, exc)
            return None
        if not renewed:
            self.lost = True
            logger.warning("cycle %s lost the lease of flow %s", self.owner, self.flow_id)
            return False
        self._deadline = started + self.ttl
        return True

    # -- checks -------------------------------------------------------------------------------
    def valid(self):
        return not self.lost and time.monotonic() < self._deadline - SAFETY_MARGIN

    def check(self):
        """Raise LeaseLost unless this process may still act for the flow (before any send)."""
        if not self.valid():
            self.lost = True
            raise LeaseLost(f"the cycle's lease on flow {self.flow_id} expired or was taken over")

    def fence(self):
        """Inside a transaction: lock the flow row while the lease holds in the database, else LeaseLost.
        A takeover (an UPDATE of the same row) waits for this transaction to end."""
        held = Flow.objects.filter(pk=self.flow_id, lease_owner=self.owner, lease_until__gt=timezone.now()).update(
            lease_until=F("lease_until")
        )
        if not held:
            self.lost = True
            raise LeaseLost(f"the cycle's lease on flow {self.flow_id} was taken over")

    def holds(self):
        """Filter kwargs for a conditional UPDATE of a flow's batches: only while this lease holds."""
        return {"flow__lease_owner": self.owner, "flow__lease_until__gt": timezone.now()}
