import json

from django.core.management.base import BaseCommand

from ...scale.measure import as_rows, measure


class Command(BaseCommand):
    help = ("Render the admin's lists (batches, audit entries, cycles, mapping rules; filtered, searched, page 50) and the "
            "dashboard as support and as a customer user; print queries and render ms per page. Run seed_history first.")

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON list on stdout")
        parser.add_argument("--repeat", type=int, default=3, help="timed renders per page (the fastest counts)")
        parser.add_argument("--page", action="append", help="only this page (by name; repeatable)")

    def handle(self, **options):
        figures = measure(repeat=options["repeat"], only=options["page"])
        if options["json"]:
            self.stdout.write(json.dumps(as_rows(figures), indent=1))
            return
        self.stdout.write(f"{'page':<28} {'role':<9} {'queries':>7} {'ms':>8} {'db ms':>8} status")
        for f in figures:
            self.stdout.write(f"{f.page:<28} {f.role:<9} {f.queries:>7} {f.ms:>8.1f} {f.db_ms:>8.1f} {f.status}")
