"""Each enabled flow has exactly one django-q2 Schedule calling its cycle task."""

import pytest
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from integrations.models import Flow
from integrations.scheduling import TASK, schedule_name, sync_schedule
from tests.factories import make_flow


def schedules(flow_or_id):
    flow_id = getattr(flow_or_id, "pk", flow_or_id)
    return list(Schedule.objects.filter(name=schedule_name(flow_id)))


def only_schedule(flow):
    found = schedules(flow)
    assert len(found) == 1, found
    return found[0]


def test_created_on_save(tenant):
    flow = make_flow(tenant, interval_minutes=15)
    schedule = only_schedule(flow)
    assert schedule.func == TASK == "integrations.tasks.run_flow"
    assert schedule.args == str(flow.pk)
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 15
    assert schedule.repeats == -1 and schedule.next_run is not None


def test_disabled_flow_has_none(tenant):
    flow = make_flow(tenant, enabled=False)
    assert schedules(flow) == []


def test_minutes_change_updates_the_same_schedule(tenant):
    flow = make_flow(tenant, interval_minutes=15)
    before = only_schedule(flow)
    flow.interval_minutes = 5
    flow.save()
    after = only_schedule(flow)
    assert after.pk == before.pk
    assert after.minutes == 5


def test_interval_to_cron_and_back(tenant):
    flow = make_flow(tenant, interval_minutes=60)
    flow.schedule_type, flow.cron = Flow.CRON, "0 18 * * 1-5"
    flow.full_clean()
    flow.save()
    schedule = only_schedule(flow)
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "0 18 * * 1-5"
    assert schedule.next_run.hour == 18 and schedule.next_run.weekday() < 5
    flow.cron = "30 6 * * *"
    flow.save()
    assert only_schedule(flow).cron == "30 6 * * *"
    flow.schedule_type = Flow.INTERVAL
    flow.save()
    schedule = only_schedule(flow)
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 60 and not schedule.cron


def test_unchanged_save_leaves_the_schedule_alone(tenant):
    flow = make_flow(tenant, interval_minutes=15)
    before = only_schedule(flow)
    flow.name = "Renamed"
    flow.save()
    after = only_schedule(flow)
    assert after.next_run == before.next_run


def test_removed_when_disabled_and_back_when_enabled(tenant):
    flow = make_flow(tenant)
    flow.enabled = False
    flow.save()
    assert schedules(flow) == []
    flow.enabled = True
    flow.save()
    only_schedule(flow)


def test_removed_when_deleted(tenant):
    flow = make_flow(tenant)
    flow_id = flow.pk
    flow.delete()
    assert schedules(flow_id) == []


def test_exactly_one_per_enabled_flow(tenant, other_tenant):
    flows = [make_flow(tenant), make_flow(tenant, enabled=False), make_flow(other_tenant), make_flow(other_tenant)]
    for flow in flows:  # saving again never duplicates
        flow.save()
        sync_schedule(flow)
    names = list(Schedule.objects.values_list("name", flat=True))
    assert sorted(names) == sorted(schedule_name(f.pk) for f in flows if f.enabled)


def test_a_deleted_schedule_is_recreated_on_next_save(tenant):
    flow = make_flow(tenant)
    Schedule.objects.all().delete()
    flow.save()
    only_schedule(flow)


def test_queryset_update_is_caught_up_by_sync(tenant):
    # .update() skips signals; sync_schedule makes the schedule match again
    flow = make_flow(tenant)
    Flow.objects.filter(pk=flow.pk).update(enabled=False)
    flow.refresh_from_db()
    sync_schedule(flow)
    assert schedules(flow) == []


@pytest.mark.parametrize("cron", ["", "every day", "61 * * * *", "* * *"])
def test_invalid_cron_is_a_form_error(tenant, cron):
    flow = make_flow(tenant)
    flow.schedule_type, flow.cron = Flow.CRON, cron
    with pytest.raises(ValidationError) as exc:
        flow.full_clean()
    assert "cron" in exc.value.message_dict


def test_zero_interval_is_a_form_error(tenant):
    flow = make_flow(tenant)
    flow.interval_minutes = 0
    with pytest.raises(ValidationError) as exc:
        flow.full_clean()
    assert "interval_minutes" in exc.value.message_dict


def test_admin_change_updates_the_schedule(support_client, tenant):
    flow = make_flow(tenant, interval_minutes=15)
    response = support_client.post(
        f"/integrations/flow/{flow.pk}/change/",
        {
            "tenant": tenant.pk,
            "name": flow.name,
            "kind": flow.kind,
            "source": flow.source_id,
            "target": flow.target_id,
            "enabled": "on",
            "schedule_type": "cron",
            "interval_minutes": 15,
            "cron": "0 7 * * *",
            "options": "{}",
            "cursor": "{}",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    schedule = only_schedule(flow)
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "0 7 * * *"
