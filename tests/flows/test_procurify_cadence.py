"""Cadence of the Procurify <-> JD Edwards flows: each direction its own schedule with a 1 to 4 hour
default, configurable, and the JD Edwards Orchestrator REST trigger running any of them over real HTTP."""

import pytest
from django_q.models import OrmQ, Schedule

from integrations.models import Batch, Flow, SyncCycle
from integrations.scheduling import schedule_name
from integrations.systems.jde import clear_token_cache as clear_jde_tokens
from integrations.systems.procurify import clear_token_cache as clear_procurify_tokens
from integrations.tasks import run_flow

from .conftest import control
from .test_jde_to_procurify import make_mirror

pytestmark = pytest.mark.django_db(transaction=True)

DIRECTIONS = [  # (kind, options, default minutes)
    ("procurify_to_jde", {}, 60),
    ("procurify_to_jde", {"records": "vendors"}, 240),
    ("jde_to_procurify", {"records": "accounts"}, 240),
    ("jde_to_procurify", {"records": "suppliers"}, 240),
    ("jde_to_procurify", {"records": "purchase_orders", "location": "Vancouver HQ", "department": "Operations"}, 60),
]


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_jde_tokens(), clear_procurify_tokens()
    yield
    clear_jde_tokens(), clear_procurify_tokens()


def all_directions(box, **fields):
    """Every Procurify flow of one tenant (one per direction and record kind)."""
    base = make_mirror(box, "accounts")
    jde, procurify = base.source, base.target
    base.delete()
    flows = []
    for index, (kind, options, _) in enumerate(DIRECTIONS):
        source, target = (procurify, jde) if kind == "procurify_to_jde" else (jde, procurify)
        flows.append(Flow.objects.create(tenant=jde.tenant, name=f"direction {index}", kind=kind, source=source,
                                         target=target, options=options, **fields))
    return flows


def test_each_direction_has_its_own_schedule_with_a_1_to_4_hour_default(box, db):
    flows = all_directions(box)
    for flow, (_, _, minutes) in zip(flows, DIRECTIONS, strict=True):
        assert flow.interval_minutes == minutes and 60 <= minutes <= 240
        assert Schedule.objects.get(name=schedule_name(flow.pk)).minutes == minutes
    assert len({s.name for s in Schedule.objects.all()}) == len(flows)


def test_a_chosen_interval_or_cron_is_kept_and_can_change_later(box, db):
    flow = all_directions(box, interval_minutes=30)[0]
    assert flow.interval_minutes == 30
    flow.schedule_type, flow.cron = Flow.CRON, "15 */2 * * *"
    flow.save()
    schedule = Schedule.objects.get(name=schedule_name(flow.pk))
    assert schedule.schedule_type == Schedule.CRON and schedule.cron == "15 */2 * * *"


def test_the_orchestrator_trigger_runs_any_direction(box, client):
    flows = all_directions(box)
    for flow in flows:  # the suppliers and accounts first: orders need their vendors and account codes
        token = flow.new_trigger_token()
        flow.save()
        response = client.post(f"/api/v1/flows/{flow.pk}/trigger", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 202, response.content
        queued = [q.task for q in OrmQ.objects.all() if q.task["args"][0] == flow.pk]
        assert len(queued) == 1 and queued[0]["func"] == "integrations.tasks.run_flow"
        run_flow(*queued[0]["args"])
        cycle = SyncCycle.objects.filter(flow=flow).latest("pk")
        assert cycle.trigger == "api" and cycle.state == SyncCycle.DONE, (flow.kind, flow.options, cycle.message)
        assert Batch.objects.filter(flow=flow).exists(), (flow.kind, flow.options)
    assert control(box, "GET", "calls")["jde"].get("orchestrator", 0) > 0  # bills and vendors reached JD Edwards
