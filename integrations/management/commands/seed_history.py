import time

from django.core.management.base import BaseCommand

from ...scale.history import Plan, seed


class Command(BaseCommand):
    help = ("Fill the database fast with a year of traffic for the admin to be measured on: tenants 'Year <n>' with "
            "connections and flows, cycles, batches in every state, their audit trail, mapping rules. Appends on reruns.")

    def add_arguments(self, parser):
        parser.add_argument("--tenants", type=int, default=3)
        parser.add_argument("--batches", type=int, default=200_000)
        parser.add_argument("--audit", type=int, default=1_000_000, help="audit entries")
        parser.add_argument("--cycles", type=int, default=None, help="default: one per 10 batches")
        parser.add_argument("--rules", type=int, default=200, help="mapping rules per tenant")
        parser.add_argument("--days", type=int, default=365, help="the rows are spread over this many days up to now")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, **options):
        began = time.monotonic()
        plan = Plan(tenants=options["tenants"], batches=options["batches"], audit=options["audit"], cycles=options["cycles"],
                    rules=options["rules"], days=options["days"], seed=options["seed"],
                    progress=lambda text: self.stdout.write(text))
        figures = seed(plan)
        total = time.monotonic() - began
        rows = ", ".join(f"{n:,} {name}" for name, n in figures.rows.items())
        self.stdout.write(self.style.SUCCESS(f"seeded {rows} over {plan.tenants} tenants in {total:.1f} s"))
