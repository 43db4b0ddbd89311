"""One fuzz example: a reseeded sandbox, a tenant of its own, a cycle, and the checks every flow shares.

``soundness`` is the promise of issue #15 point 2: the cycle did not fail; every record the source
offered is a batch (none lost) that is posted, or held (or skipped) with a reason a person can read;
the good records of the same run posted; every write the target received is sound (``sent``)."""

import datetime as dt
import itertools
import os

from integrations.engine.intake import SOURCE_ID_LENGTH, stored_id
from integrations.engine.sanitize import storable
from integrations.models import Batch, SyncCycle
from integrations.systems import acumatica, bill, ifs, jde, procurify
from portal.models import Tenant

from . import sent

ANCHOR = dt.date(2026, 11, 1)
# Examples per test and flow: 0.2 to 1.5 s each here, by load (a tenant, a reseeded sandbox, a cycle over HTTP).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
S = Batch.State
FINAL = (S.POSTED, S.CONFIRMED, S.HELD, S.SKIPPED)
_tenants = itertools.count(1)


def fresh(server, *, seed=7, size=10, config=None):
    """Reseed the module's sandbox for one example and record what it receives from now on."""
    server.reset(seed=seed, size=size, anchor=ANCHOR)
    server.merge_config({"expensify": {"rate_limit": [[1000, 1]]}, **(config or {})})
    server.record_requests = True
    for clear in (acumatica.clear_token_cache, ifs.clear_token_cache, jde.clear_token_cache,
                  procurify.clear_token_cache, bill.clear_session_cache):
        clear()
    return server


def tenant():
    n = next(_tenants)
    return Tenant.objects.create(name=f"Fuzz {n}", slug=f"fuzz-{n}", alert_emails="finance@fuzz.example")


def soundness(box, flow, result, *, offered, good, target, mirror=False):
    """Every problem with this cycle, as sentences (an empty list when it kept every promise)."""
    if result.state != SyncCycle.DONE:
        return [f"cycle {result.state}: {result.message}"]
    problems = []
    batches = {b.source_id: b for b in Batch.objects.filter(flow=flow)}
    # A mirror's batch is a version of its record, ``<key>@<fingerprint>``: a record is kept when some version is.
    # An id longer than its column is kept shortened (engine.intake.stored_id): its start is what is left of it.
    stored = {b.rpartition("@")[0] for b in batches} if mirror else set(batches)
    starts = {b[: SOURCE_ID_LENGTH - 17] for b in batches if "~" in b}

    def kept(i):
        text = storable(str(i))
        return text in stored or stored_id(text, SOURCE_ID_LENGTH) in stored or text[: SOURCE_ID_LENGTH - 17] in starts
    problems += [f"record {str(i)[:60]!r} offered but never stored (lost)" for i in offered if not kept(i)]
    for b in batches.values():
        if b.state not in FINAL:
            problems.append(f"batch {b.source_id[:40]!r} left {b.state} [{b.error_code}] {b.last_error[:120]}")
        elif b.state == S.HELD and not (b.error_code and b.last_error.strip()):
            problems.append(f"batch {b.source_id[:40]!r} held without a reason")
    for i in good:
        b = batches.get(storable(str(i)))
        if b is not None and b.state not in (S.POSTED, S.CONFIRMED):
            problems.append(f"good record {i!r} not posted: {b.state} [{b.error_code}] {b.last_error[:160]}")
    problems += sent.breaches(box, target)
    return problems


def posted_ids(flow):
    return {b.source_id for b in Batch.objects.filter(flow=flow, state__in=(S.POSTED, S.CONFIRMED))}
