import json

from django.core.management.base import BaseCommand, CommandError

from mappings.reference import NoLoader
from portal.scrub import scrub

from ...engine import run_cycle
from ...failures import describe_failure
from ...preview import preview
from ...systems.errors import IntegrationError
from ..flow_lookup import find_flow


class Command(BaseCommand):
    help = "Run one cycle of a flow now (progress on stderr, summary on stdout), or preview it with --dry-run."

    def add_arguments(self, parser):
        parser.add_argument("flow", help="flow id, name, or kind")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="print, as JSON, the documents that would be posted (or each hold with its code and fix); "
            "post, store and mark nothing",
        )
        parser.add_argument("--record", help="with --dry-run: preview this one source record (e.g. an Expensify report ID)")
        parser.add_argument("--limit", type=int, default=20, help="with --dry-run: how many records to preview")
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            help="seconds to wait for a running cycle of the same flow before skipping (default 60)",
        )

    def handle(self, *args, **opts):
        flow = find_flow(opts["flow"])
        if opts["dry_run"]:
            try:
                results = preview(flow, source_id=opts["record"], limit=opts["limit"])
            except (IntegrationError, NoLoader) as exc:
                raise CommandError(scrub(f"Preview of {flow.name} failed: {describe_failure(exc, flow)}"), returncode=2)
            self.stdout.write(json.dumps(results, indent=2, default=str))
            return
        result = run_cycle(
            flow, trigger="command", wait=opts["wait"], progress=lambda m: self.stderr.write(scrub(m)), actor="manage.py sync"
        )
        self.stdout.write(
            json.dumps(
                {
                    "flow": flow.pk,
                    "kind": flow.kind,
                    "state": result.state,
                    **result.summary(),
                    "message": scrub(result.message),
                },
                indent=2,
            )
        )
