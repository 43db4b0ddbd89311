"""``manage.py prove_clusters``: issue #15 point 1, two task clusters over every flow of two tenants under faults.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/12 \\
        python manage.py prove_clusters --records 10000 --tenants 2 --seed 1

Needs PostgreSQL (a scratch database is made on the server of DATABASE_URL, or of --database-server,
and dropped afterwards) and Redis (REDIS_URL or --redis-url: the broker both clusters share; the run
empties its django-q2 queue there, so give it a database number of its own). Without them in the
environment the command starts itself again with --database-server and --redis-url set. Prints progress,
then one JSON summary; exits 1 when a record was posted twice or lost, a batch is left open or a vendor
limit was breached.
"""

import os
import signal
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.bench.scratch import DEFAULT_POSTGRES, is_postgres

DEFAULT_REDIS = "redis://127.0.0.1:6379/12"


class Command(BaseCommand):
    help = "Two django-q2 clusters on PostgreSQL and Redis run every flow of two tenants under faults, one killed."

    def add_arguments(self, parser):
        parser.add_argument("--records", type=int, default=10_000, help="source records in total (about)")
        parser.add_argument("--tenants", type=int, default=2)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--kill-after", type=float, default=None,
                            help="seconds after the clusters start; default: once 35%% of the records settled")
        parser.add_argument("--down", type=float, default=5.0, help="seconds the killed cluster stays down")
        parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to settle every record")
        parser.add_argument("--workers", type=int, default=2, help="worker processes per cluster")
        parser.add_argument("--fault-every", type=float, default=1.0, help="seconds between injected faults")
        parser.add_argument("--database-server", default=os.environ.get("DATABASE_URL") or DEFAULT_POSTGRES)
        parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
        parser.add_argument("--keep", action="store_true", help="keep the scratch database")

    def handle(self, *args, **opts):
        from integrations.proof.runner import Options, prove

        server, redis_url = opts["database_server"], opts["redis_url"]
        if not is_postgres(server):
            raise CommandError(f"--database-server must be a PostgreSQL URL, not {server!r}")
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or settings.REDIS_URL != redis_url:
            self._again(server, redis_url)
        options = Options(records=opts["records"], tenants=opts["tenants"], seed=opts["seed"],
                          kill_after=opts["kill_after"], down=opts["down"], timeout=opts["timeout"],
                          workers=opts["workers"], fault_every=opts["fault_every"], keep=opts["keep"])
        root = Path(__file__).resolve().parents[3]
        # SIGTERM (a CI timeout) unwinds like Ctrl-C: the clusters, sandboxes and scratch database are cleaned up.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        summary = prove(options, root, server, redis_url, progress=lambda m: self.stdout.write(m))
        if not summary["ok"]:
            sys.exit(1)

    def _again(self, server, redis_url):
        """This process's settings read another database or broker: start again with the ones asked for."""
        if os.environ.get("PROVE_CLUSTERS_AGAIN"):
            raise CommandError("settings do not take DATABASE_URL / REDIS_URL from the environment")
        env = {**os.environ, "DATABASE_URL": server, "REDIS_URL": redis_url, "PROVE_CLUSTERS_AGAIN": "1"}
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
