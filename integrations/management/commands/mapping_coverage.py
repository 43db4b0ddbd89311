import json

from django.core.management.base import BaseCommand, CommandError

from mappings.reference import NoLoader

from ...coverage import flow_coverage
from ...failures import describe_failure
from ...systems.errors import IntegrationError
from ..flow_lookup import find_flow


class Command(BaseCommand):
    help = (
        "List source values in use (categories, tags...) that have no mapping or map to an unknown, inactive or "
        "non-posting target. Exit code 0: everything in use is mapped; 1: gaps listed; 2: a system could not be asked."
    )

    def add_arguments(self, parser):
        parser.add_argument("flow", help="flow id, name, or kind")
        parser.add_argument("--json", action="store_true", help="print the gaps as JSON")

    def handle(self, *args, **opts):
        flow = find_flow(opts["flow"])
        try:
            gaps = flow_coverage(flow)
        except (IntegrationError, NoLoader) as exc:
            raise CommandError(f"Coverage of {flow.name} not checked: {describe_failure(exc, flow)}", returncode=2)
        if opts["json"]:
            self.stdout.write(json.dumps([g.as_dict() for g in gaps], indent=2))
        else:
            for gap in gaps:
                self.stdout.write(f"[{gap.reason}] {gap.message}")
            if gaps:
                self.stdout.write(f"{len(gaps)} gap(s) in the mappings of {flow.name}.")
            else:
                self.stdout.write(f"All source values in use are mapped in {flow.name}.")
        if gaps:
            raise SystemExit(1)
