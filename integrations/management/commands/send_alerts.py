"""Send the due tenant digests and recovery mails (``integrations.ops.alerts``).

Run it every few minutes from cron, or once with ``--schedule`` to install a django-q2
schedule that runs it every ``--minutes`` (default 5) in the task cluster. Sending more
often than the quiet period is harmless: a tenant gets at most one digest per period.
"""

from django.core.management.base import BaseCommand

from integrations.ops.alerts import send_all

SCHEDULE_NAME = "ml-connector alerts"


class Command(BaseCommand):
    help = "Send the tenant alert digests (held and failed batches) and the recovery mails that are due."

    def add_arguments(self, parser):
        parser.add_argument("--schedule", action="store_true", help="Install (or update) the django-q2 schedule instead.")
        parser.add_argument("--minutes", type=int, default=5, help="Schedule interval in minutes (with --schedule).")

    def handle(self, *args, schedule=False, minutes=5, **options):
        if schedule:
            from django_q.models import Schedule

            Schedule.objects.update_or_create(
                name=SCHEDULE_NAME,
                defaults={"func": "integrations.ops.alerts.send_all", "schedule_type": Schedule.MINUTES,
                          "minutes": max(1, minutes), "repeats": -1},
            )
            self.stdout.write(f"Alerts scheduled every {max(1, minutes)} minute(s) (django-q2 schedule {SCHEDULE_NAME!r}).")
            return
        digests, recoveries = send_all()
        self.stdout.write(f"{digests} digest(s) and {recoveries} recovery mail(s) sent.")
