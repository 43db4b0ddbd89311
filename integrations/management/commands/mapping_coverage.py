import json

from django.core.management.base import BaseCommand

from ...coverage import flow_coverage
from ..flow_lookup import find_flow


class Command(BaseCommand):
    help = "List source values in use (categories, tags...) that have no mapping or map to an inactive target."

    def add_arguments(self, parser):
        parser.add_argument("flow", help="flow id, name, or kind")
        parser.add_argument("--json", action="store_true", help="print the gaps as JSON")

    def handle(self, *args, **opts):
        flow = find_flow(opts["flow"])
        gaps = flow_coverage(flow)
        if opts["json"]:
            self.stdout.write(json.dumps([g.as_dict() for g in gaps], indent=2))
        else:
            for gap in gaps:
                self.stdout.write(f"[{gap.reason}] {gap.message}")
            self.stdout.write(f"{len(gaps)} gap(s) in the mappings of {flow.name}.")
        if gaps:
            raise SystemExit(1)
