"""The group search: one call for a claimed group's references, before its posts.

A target without an idempotency key makes each post search for its reference first: two calls
per record. A handler that can search many references in one call sets ``lookup_group_size``
(its groups are at least that big) and ``look_up(batches)``, which keeps the answer for the posts
of the group. It runs after the claim and before any post of the group, on a sending thread (the
slot it takes is then kept for that thread's posts). It is an optimisation only: when it fails or
does not cover a batch, that batch's post searches for itself, so nothing is lost or sent twice.
"""

import logging

logger = logging.getLogger(__name__)


def group_size(handler):
    """The smallest group the handler wants for its group search (0: it has none)."""
    return int(getattr(handler, "lookup_group_size", 0) or 0)


def look_up(ctx, batches):
    """Let the handler search the group's references; any failure leaves each post to search alone."""
    if not batches or not ctx.lease.valid():
        return
    try:
        ctx.handler.look_up(batches)
    except Exception as exc:  # never fatal: each post falls back to its own search
        logger.warning("group search of %d batch(es) failed, each post searches for itself: %s", len(batches), exc)
