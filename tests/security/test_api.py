"""The REST trigger under load and every /api/ path answering JSON (issue 9, points 6 and 9)."""

import pytest
from django.core.cache import cache
from django.test import Client
from django_q.models import OrmQ

from audit.models import AuditEntry
from integrations import tasks
from integrations.models import SyncCycle
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def flow_token():
    tenant = factories.make_tenant("trig")
    flow = factories.make_flow(tenant)
    token = flow.new_trigger_token()
    flow.save()
    return flow, token


def trigger(client, flow, token, slash=""):
    return client.post(f"/api/v1/flows/{flow.pk}/trigger{slash}", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_repeated_triggers_coalesce_into_the_queued_task(flow_token):
    flow, token = flow_token
    client = Client(enforce_csrf_checks=True)
    first = trigger(client, flow, token)
    audit_rows = AuditEntry.objects.count()
    answers = [trigger(client, flow, token) for _ in range(20)]
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert {a.status_code for a in answers} == {202}
    assert {a.json()["task_id"] for a in answers} == {first.json()["task_id"]}
    assert {a.json()["status"] for a in answers} == {"already queued"}
    assert OrmQ.objects.count() == 1
    assert AuditEntry.objects.count() == audit_rows


def test_the_trigger_queues_again_once_its_cycle_has_finished(flow_token):
    flow, token = flow_token
    client = Client()
    first = trigger(client, flow, token).json()["task_id"]
    flow.enabled = False  # the task runs and finds nothing to do; what matters is that it finished
    flow.save()
    tasks.run_flow(flow.pk, "api")
    flow.enabled = True
    flow.save()
    again = trigger(client, flow, token)
    assert again.status_code == 202 and again.json()["status"] == "queued"
    assert again.json()["task_id"] != first
    assert OrmQ.objects.count() == 2


def test_a_running_cycle_is_returned_instead_of_a_new_task(flow_token):
    flow, token = flow_token
    cycle = factories.make_cycle(flow.tenant, flow=flow, state=SyncCycle.RUNNING)
    answer = trigger(Client(), flow, token)
    assert answer.status_code == 202
    assert answer.json()["status"] == "already running" and answer.json()["cycle_id"] == cycle.cycle_id.hex
    assert OrmQ.objects.count() == 0


def test_a_token_past_its_rate_gets_429_with_retry_after(flow_token, settings):
    settings.TRIGGER_RATE_LIMIT = 5
    settings.TRIGGER_RATE_WINDOW = 60
    flow, token = flow_token
    client = Client()
    answers = [trigger(client, flow, token) for _ in range(8)]
    assert [a.status_code for a in answers] == [202] * 5 + [429] * 3
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert answers[-1].json()["error"]
    assert OrmQ.objects.count() == 1


def test_a_bad_token_does_not_use_up_the_good_tokens_rate(flow_token, settings):
    settings.TRIGGER_RATE_LIMIT = 2
    flow, token = flow_token
    client = Client()
    for _ in range(5):
        assert trigger(client, flow, "wrong").status_code == 401
    assert trigger(client, flow, token).status_code == 202


def test_the_trigger_takes_a_trailing_slash(flow_token):
    flow, token = flow_token
    assert trigger(Client(enforce_csrf_checks=True), flow, token, slash="/").status_code == 202


@pytest.mark.parametrize(
    "path",
    ["/api/v1/flows/abc/trigger", "/api/v1/flows/abc/trigger/", "/api/v1/nothing", "/api/v1/", "/api/v1", "/api/", "/api",
     "/api/v2/flows/1/trigger", "/api/v1/flows/999999/trigger/extra"],
)
@pytest.mark.parametrize("method", ["get", "post", "put", "delete"])
def test_unknown_api_paths_answer_a_json_404(path, method):
    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_a_wrong_method_on_the_trigger_is_a_json_405(flow_token, method, slash):
    flow, token = flow_token
    response = getattr(Client(), method)(f"/api/v1/flows/{flow.pk}/trigger{slash}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["error"]


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_missing_token_is_a_json_401_even_with_a_session_cookie(flow_token, slash, superuser):
    flow, _ = flow_token
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)  # a browser session must not turn this into a CSRF page
    response = client.post(f"/api/v1/flows/{flow.pk}/trigger{slash}")
    assert response.status_code == 401
    assert response.json()["error"] and response["WWW-Authenticate"]
