"""Each enabled flow has exactly one django-q2 Schedule that calls its cycle task.

The schedule is derived state: ``sync_schedule(flow)`` makes it match the flow (create,
update, or remove), and is called on every save and delete, so it can never drift.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Schedule

TASK = "integrations.tasks.run_flow"


def schedule_name(flow_id):
    return f"flow:{flow_id}"


def validate_cron(expression):
    from croniter import croniter

    if not expression or not croniter.is_valid(expression):
        raise ValidationError(f'"{expression}" is not a valid cron expression (five fields, e.g. "0 18 * * 1-5").')


def sync_schedule(flow):
    name = schedule_name(flow.pk)
    if not flow.enabled:
        Schedule.objects.filter(name=name).delete()
        return None
    fields = {"func": TASK, "args": str(flow.pk), "repeats": -1}
    if flow.schedule_type == flow.CRON:
        fields.update(schedule_type=Schedule.CRON, cron=flow.cron, minutes=None)
    else:
        fields.update(schedule_type=Schedule.MINUTES, minutes=max(1, flow.interval_minutes), cron=None)
    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        return Schedule.objects.create(name=name, next_run=next_run_for(flow), **fields)
    changed = [k for k, v in fields.items() if getattr(schedule, k) != v]
    if changed:
        for key in changed:
            setattr(schedule, key, fields[key])
        schedule.next_run = next_run_for(flow)
        schedule.save()
    return schedule


def next_run_for(flow):
    now = timezone.now()
    if flow.schedule_type == flow.CRON:
        from croniter import croniter

        return croniter(flow.cron, now).get_next(datetime)
    return now + timedelta(minutes=max(1, flow.interval_minutes))


def remove_schedule(flow_id):
    Schedule.objects.filter(name=schedule_name(flow_id)).delete()
