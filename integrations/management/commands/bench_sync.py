import json
import resource
import time

from django.core.management.base import BaseCommand
from django.db import connection

from ...demo import setup_demo
from ...engine import run_cycle
from ...querycount import count_queries


class Command(BaseCommand):
    help = ("End-to-end benchmark: one Expensify -> JD Edwards cycle over real HTTP against an in-process sandbox. "
            "Creates a throw-away tenant; run it on a scratch database (scripts/bench does).")

    def add_arguments(self, parser):
        parser.add_argument("--reports", type=int, default=3000, help="reports generated (about 70%% are approved)")
        parser.add_argument("--page-size", type=int, default=500)
        parser.add_argument("--seed", type=int, default=11)

    def handle(self, *args, **opts):
        from sandbox.server import Sandbox

        box = Sandbox(seed=opts["seed"], size=opts["reports"]).start()
        # The vendor's 5-per-10s limit would dominate the figure; it is measured separately (calls per page).
        box.config.setdefault("expensify", {})["rate_limit"] = [[100000, 1]]
        try:
            stamp = time.strftime("%Y%m%d%H%M%S")
            _, (flow,) = setup_demo(box, progress=self.stderr.write, slug=f"bench-{stamp}", name=f"Benchmark {stamp}",
                                    rate_limit=[[100000, 1]], flow_options={"page_size": opts["page_size"]},
                                    kinds=("expensify_to_jde",))
            box.calls.reset()
            start = time.perf_counter()
            with count_queries() as queries:
                result = run_cycle(flow, trigger="benchmark", progress=self.stderr.write)
            elapsed = time.perf_counter() - start
            calls = box.calls.snapshot()
        finally:
            box.stop()
        n = max(result.fetched, 1)
        self.stdout.write(json.dumps({
            "reports_fetched": result.fetched,
            "posted": result.posted,
            "held": result.held,
            "seconds": round(elapsed, 2),
            "reports_per_second": round(result.fetched / elapsed, 1),
            "queries": queries.count,
            "queries_per_report": round(queries.count / n, 2),
            "api_calls": calls,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "database": connection.vendor,
        }, indent=2))
