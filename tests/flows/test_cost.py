"""Cost that does not grow wrongly, counted exactly: API calls per page/report and queries per report."""

import math

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch
from integrations.querycount import count_all_queries

from .conftest import ANCHOR, control, make_flow

PAGE = 500


@pytest.fixture
def big_box(sandbox):
    sandbox.reset(seed=11, size=3000, anchor=ANCHOR)
    sandbox.config.setdefault("expensify", {})["rate_limit"] = [[1000, 1]]
    yield sandbox
    sandbox.reset(seed=7, size=40, anchor=ANCHOR)


# Committed transactions, as in production: the lease renewer works on its own connection and must see
# (and be able to update) the flow row the cycle took; inside one test transaction it would block on it.
@pytest.mark.django_db(transaction=True)
def test_calls_and_queries_over_two_thousand_reports(big_box):
    reports = control(big_box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})
    assert len(reports) >= 2000
    flow = make_flow(big_box, options={"page_size": PAGE})
    control(big_box, "DELETE", "calls")
    with count_all_queries() as queries:
        result = run_cycle(flow)
    calls = control(big_box, "GET", "calls")
    n = len(reports)
    pages = math.ceil(n / PAGE)
    assert result.fetched == n
    assert result.posted + result.held == n

    expensify = sum(calls["expensify"].values())
    # per page: export + download + mark-as-fetched; per page of posted reports: mark-as-exported;
    # once per cycle: the policies' tag lists and a final empty export when the last page is full.
    assert expensify <= 3 * pages + math.ceil(result.posted / PAGE) + 3, calls["expensify"]

    jde = calls["jde"]
    assert jde["orchestrator"] == result.posted  # exactly one post per posted report
    account_pages = jde.get("dataservice", 0) + jde.get("dataservice/next", 0)
    assert jde["tokenrequest"] == 1
    assert sum(jde.values()) == result.posted + 1 + account_pages
    assert account_pages <= 3  # the chart of accounts, read once per cycle

    per_report = queries.count / n
    print(f"\n{n} reports: {expensify} Expensify calls, {sum(jde.values())} JDE calls, "
          f"{queries.count} queries ({per_report:.2f} per report): {dict(queries.kinds)}")
    # Every thread's queries (the sending threads' slot takes too). Measured 0.37 on PostgreSQL; SQLite adds
    # its explicit BEGIN statements.
    assert queries.count <= 2 * result.posted
    assert Batch.objects.filter(flow=flow).count() == n
