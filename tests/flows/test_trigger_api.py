"""POST /api/v1/flows/<id>/trigger for a JD Edwards Orchestrator cron."""

import pytest
from django_q.models import OrmQ

from integrations.models import Connection, Flow
from portal.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def flows():
    tenant = Tenant.objects.create(name="T", slug="t")
    src = Connection.objects.create(tenant=tenant, system="expensify", name="E", base_url="http://127.0.0.1:9/expensify",
                                    credentials={"partnerUserID": "u", "partnerUserSecret": "s"})
    dst = Connection.objects.create(tenant=tenant, system="jde", name="J", base_url="http://127.0.0.1:9/jde",
                                    credentials={"username": "u", "password": "p", "environment": "JDV920", "role": "*ALL"})
    made = []
    for name in ("one", "two"):
        flow = Flow.objects.create(tenant=tenant, name=name, kind="expensify_to_jde", source=src, target=dst)
        token = flow.new_trigger_token()
        flow.save()
        made.append((flow, token))
    return made


def post(client, flow_id, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(f"/api/v1/flows/{flow_id}/trigger", **headers)


def test_valid_token_queues_a_cycle_and_answers_202(client, flows):
    flow, token = flows[0]
    response = post(client, flow.pk, token)
    assert response.status_code == 202
    body = response.json()
    assert body["task_id"] and body["flow"] == flow.pk
    queued = OrmQ.objects.all()
    assert queued.count() == 1
    assert queued.first().task["func"] == "integrations.tasks.run_flow"
    assert queued.first().task["args"][0] == flow.pk


def test_bad_or_missing_token_is_401(client, flows):
    flow, token = flows[0]
    assert post(client, flow.pk, token + "x").status_code == 401
    assert post(client, flow.pk).status_code == 401
    assert OrmQ.objects.count() == 0


def test_unauthenticated_caller_cannot_tell_existing_from_unknown_flows(client, flows):
    flow, _ = flows[0]
    existing = post(client, flow.pk, "not-a-token")
    unknown = post(client, 987654, "not-a-token")
    assert existing.status_code == unknown.status_code == 401
    assert existing.json() == unknown.json()


def test_unknown_flow_with_a_valid_token_is_404(client, flows):
    (flow, token), (other, _) = flows
    assert post(client, 987654, token).status_code == 404
    assert post(client, other.pk, token).status_code == 404  # a token opens only its own flow
    assert OrmQ.objects.count() == 0


def test_only_the_hash_of_the_token_is_stored(flows):
    flow, token = flows[0]
    flow.refresh_from_db()
    assert token not in flow.trigger_token_hash and len(flow.trigger_token_hash) == 64
    assert flow.check_trigger_token(token) and not flow.check_trigger_token(token[:-1])


def test_disabled_flow_is_not_queued(client, flows):
    flow, token = flows[0]
    flow.enabled = False
    flow.save()
    assert post(client, flow.pk, token).status_code == 409
    assert OrmQ.objects.count() == 0


def test_get_is_not_allowed(client, flows):
    flow, token = flows[0]
    assert client.get(f"/api/v1/flows/{flow.pk}/trigger", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 405
