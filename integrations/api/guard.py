"""What keeps the REST trigger cheap to call too often: one queued cycle per flow, a rate per token.

* ``queue_once(flow)``: while a cycle the API queued for this flow waits or runs, a trigger
  gets that task back instead of queuing another (and so no extra cycle, no extra audit
  row). The pending task id lives in the cache under ``pending_key(flow_id)`` until the
  task finishes (``tasks.run_flow`` clears it) or, should its worker die, for
  ``Q_TIMEOUT + 600`` seconds (the queue's redelivery time). A cycle running from
  another trigger (schedule, admin) counts too: the caller gets that cycle back.
* ``rate_limited(flow)``: at most ``TRIGGER_RATE_LIMIT`` calls per ``TRIGGER_RATE_WINDOW``
  seconds per token (fixed window in the cache, shared by every web process); beyond it
  the seconds until the window ends, for ``Retry-After``.
"""

import time

from django.conf import settings
from django.core.cache import cache

_PLACEHOLDER = "queuing"


def pending_key(flow_id):
    return f"api-trigger:pending:{flow_id}"


def _pending_ttl():
    return int(getattr(settings, "Q_TIMEOUT", 1800)) + 600


def queue_once(flow, queue):
    """``(task_id, created)``: the new task, or the one already queued or running for ``flow``."""
    key = pending_key(flow.pk)
    if cache.add(key, _PLACEHOLDER, _pending_ttl()):  # atomic: exactly one caller queues
        try:
            task_id = queue(flow)
        except BaseException:
            cache.delete(key)
            raise
        cache.set(key, task_id, _pending_ttl())
        return task_id, True
    task_id = cache.get(key)
    for _ in range(20):  # another request is between add and set: its id is a moment away
        if task_id != _PLACEHOLDER:
            break
        time.sleep(0.05)
        task_id = cache.get(key)
    if task_id is None:  # finished meanwhile: the next call queues again; this one got in just after
        return queue_once(flow, queue)
    return (None if task_id == _PLACEHOLDER else task_id), False


def running_cycle(flow):
    from ..models import SyncCycle

    return SyncCycle.objects.filter(flow=flow, state=SyncCycle.RUNNING).values_list("cycle_id", flat=True).first()


def finished(flow_id):
    cache.delete(pending_key(flow_id))


def rate_limited(flow):
    """Seconds to wait when this token is over its rate, else 0 (the call is counted)."""
    limit = int(getattr(settings, "TRIGGER_RATE_LIMIT", 30))
    window = max(1, int(getattr(settings, "TRIGGER_RATE_WINDOW", 60)))
    if limit <= 0:
        return 0
    now = time.time()
    slot = int(now // window)
    key = f"api-trigger:rate:{flow.pk}:{flow.trigger_token_hash[:16]}:{slot}"
    cache.add(key, 0, window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window + 5)
        count = 1
    if count <= limit:
        return 0
    return max(1, int((slot + 1) * window - now + 0.999))
