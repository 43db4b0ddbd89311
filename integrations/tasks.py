"""django-q2 entry points. Thin: the work is in ``engine``."""

from django_q.tasks import async_task


def run_flow(flow_id, trigger="schedule"):
    from .engine import run_cycle
    from .models import Flow

    try:
        flow = Flow.objects.select_related("tenant", "source", "target").filter(pk=flow_id).first()
        if flow is None or not flow.enabled or not flow.tenant.active:
            return {"skipped": "flow disabled or deleted"}
        result = run_cycle(flow, trigger=trigger)
    finally:
        if trigger == "api":  # the REST trigger queues again from now on (integrations.api.guard)
            from .api.guard import finished

            finished(flow_id)
    if result.more_work:  # the time budget ran out with work left: carry on in a fresh task
        queue_cycle(flow, trigger="continue")
    return result.summary()


def queue_cycle(flow, trigger="manual"):
    return async_task(
        "integrations.tasks.run_flow", flow.pk, trigger, task_name=f"flow {flow.pk} ({trigger})", group=f"flow:{flow.pk}"
    )
