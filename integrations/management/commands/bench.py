"""``python manage.py bench``: end-to-end throughput of every implemented flow kind, one JSON object per kind on stdout.

Runs on scratch databases (SQLite files; PostgreSQL with --postgres or when BENCH_DATABASE_URL or
DATABASE_URL names a PostgreSQL server), against the sandbox in its own process with the vendor
rate limits lifted. See ``integrations.bench`` for how each figure is measured.
"""

import argparse
import json
import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...bench.runner import Bench
from ...bench.scratch import choose_server


def _sizes(text):
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"--reports expects sizes separated by commas, e.g. 1000,10000 (got {text!r})")
    if not sizes or min(sizes) < 1:
        raise CommandError("--reports needs at least one size of 1 or more")
    return sizes


class Command(BaseCommand):
    help = ("End-to-end benchmark of every implemented flow kind: records/s, API calls, queries and seconds per record, "
            "peak memory, the overhead over a bare replay of the same HTTP requests, posts/s with latency on the "
            "target. One JSON object per kind on stdout, progress on stderr.")

    def add_arguments(self, parser):
        parser.add_argument("--reports", default="1000,10000",
                            help="sizes (reports generated in the sandbox; about 70%% are approved), comma-separated")
        parser.add_argument("--quick", action="store_true", help="sizes 200,1000")
        parser.add_argument("--latency-ms", type=float, default=100.0,
                            help="latency added to every write on the target for the posts/s runs; 0 skips them")
        parser.add_argument("--latency-reports", type=int, default=300,
                            help="size of the latency runs (at most the smallest size)")
        parser.add_argument("--page-size", type=int, default=500)
        parser.add_argument("--seed", type=int, default=11)
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--postgres", action="store_true",
                           help="scratch PostgreSQL databases (server from BENCH_DATABASE_URL or DATABASE_URL, "
                                "else postgres://postgres@127.0.0.1:5432)")
        where.add_argument("--sqlite", action="store_true", help="scratch SQLite files even if a PostgreSQL URL is set")
        # Internal: the conductor starts one worker process per run with a spec file.
        parser.add_argument("--worker", help=argparse.SUPPRESS)

    def handle(self, *args, **opts):
        if opts["worker"]:
            return self.work(opts["worker"])
        sizes = [200, 1000] if opts["quick"] else _sizes(opts["reports"])
        bench = Bench(root=settings.BASE_DIR, say=self.say, sizes=sizes, latency_ms=opts["latency_ms"],
                      latency_reports=opts["latency_reports"], seed=opts["seed"], page_size=opts["page_size"],
                      server_url=choose_server(opts["postgres"], opts["sqlite"]))
        try:
            bench.run(lambda obj: self.stdout.write(json.dumps(obj)))
        except RuntimeError as exc:
            raise CommandError(str(exc))

    def say(self, message):
        self.stderr.write(f"bench: {message}")
        self.stderr.flush()

    def work(self, spec_path):
        """Inside a worker process (started by the conductor with DATABASE_URL set to a scratch clone)."""
        from ...bench.runner import WORKER_ENV
        from ...bench.worker import run

        if os.environ.get(WORKER_ENV) != "1":
            raise CommandError("--worker is internal: run `manage.py bench` (it starts its workers on scratch databases)")
        with open(spec_path) as f:
            spec = json.load(f)

        def say(message):
            print(f"bench [{spec['label']}] {message}", file=sys.stderr, flush=True)

        result = run(spec, say)
        tmp = spec["out"] + ".part"
        with open(tmp, "w") as f:
            json.dump(result, f)
        os.replace(tmp, spec["out"])

