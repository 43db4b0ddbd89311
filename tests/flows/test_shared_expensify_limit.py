"""Every flow on the same Expensify credentials keeps within Expensify's request rate together."""

import threading

import pytest
from django.db import connections

from integrations.engine import run_cycle
from integrations.models import Connection, SyncCycle
from integrations.systems.acumatica import clear_token_cache
from integrations.systems.jde import clear_token_cache as clear_jde_tokens

from .conftest import control, make_acumatica_flow, make_flow

pytestmark = pytest.mark.django_db(transaction=True)
WINDOWS = [[2, 1], [4, 3]]  # Expensify's two windows (5/10 s, 20/60 s) scaled down so the test runs in seconds


def test_two_expensify_flows_at_once_get_no_rate_limit_error(box):
    clear_token_cache()
    clear_jde_tokens()
    box.config["expensify"]["rate_limit"] = WINDOWS
    # One post at a time on each target: this is about the source's shared rate (and SQLite's in-memory test
    # database answers "table is locked" to parallel writers of two cycles at once).
    to_jde = make_flow(box, target_options={"concurrency": 1})
    Connection.objects.filter(pk=to_jde.source_id).update(options={"rate_limit": WINDOWS})
    # the second flow has its own connection row holding the same partner credentials
    to_acumatica = make_acumatica_flow(box, tenant=to_jde.tenant, target_options={"concurrency": 1})
    Connection.objects.filter(pk=to_acumatica.source_id).update(options={"rate_limit": WINDOWS})
    results = {}

    def run(flow):
        flow.refresh_from_db()
        try:
            # SQLite's shared in-memory test database can answer "table is locked" to two writing threads (a
            # cycle then fails and the next one carries on); PostgreSQL does not. Retry a few cycles.
            for _ in range(5):
                results[flow.kind] = run_cycle(flow)
                if results[flow.kind].state == SyncCycle.DONE:
                    break
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(f,)) for f in (to_jde, to_acumatica)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert {k: r.state for k, r in results.items()} == {"expensify_to_jde": SyncCycle.DONE,
                                                       "expensify_to_acumatica": SyncCycle.DONE}
    calls = sum(control(box, "GET", "calls")["expensify"].values())
    assert calls > sum(n for n, _ in WINDOWS)  # enough traffic that an unshared limit would have overrun
    assert control(box, "GET", "expensify/rate_limited") == {"rate_limited": 0}
    # each report went to one of the two flows only (the shared fetch label), and every one was taken
    assert results["expensify_to_jde"].fetched + results["expensify_to_acumatica"].fetched > 0
