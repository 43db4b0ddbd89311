"""Logins are throttled with django-axes (issue 9, point 2): per account and per address, visible,
releasable and audited; a successful login resets the count so the demo and tests stay usable."""

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.test import Client

from audit.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42x"


@pytest.fixture(autouse=True)
def fresh_state(settings):
    settings.AXES_FAILURE_LIMIT = 5
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def carla(customer_user):
    customer_user.set_password(PASSWORD)
    customer_user.save()
    return customer_user


def attempt(username, password, ip):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/login/", {"username": username, "password": password, "next": "/"})
    return response, client


def logged_in(response):
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


def test_an_account_is_locked_after_the_limit_whatever_the_address(carla, tenant):
    for i in range(5):
        response, _ = attempt("carla", f"wrong-{i}", f"10.0.0.{i + 1}")
        assert response.status_code in (200, 429)
    response, _ = attempt("carla", PASSWORD, "10.0.1.99")
    assert response.status_code == 429 and not logged_in(response)
    entries = AuditEntry.objects.filter(event="login.locked_out")
    assert entries.count() == 1 and entries.get().tenant_id == tenant.pk
    assert "carla" in entries.get().message and PASSWORD not in entries.get().message


def test_an_address_is_locked_after_the_limit_whatever_the_account(carla):
    for i in range(5):
        attempt(f"guess{i}", "wrong", "10.9.9.9")
    response, _ = attempt("carla", PASSWORD, "10.9.9.9")
    assert response.status_code == 429 and not logged_in(response)
    response, _ = attempt("carla", PASSWORD, "10.9.9.10")  # the account itself is not locked
    assert logged_in(response)
    assert AuditEntry.objects.filter(event="login.locked_out", tenant__isnull=True).exists()  # unknown names: no tenant


def test_the_limit_is_a_setting(carla, settings):
    settings.AXES_FAILURE_LIMIT = 2
    attempt("carla", "wrong", "10.0.0.1")
    attempt("carla", "wrong", "10.0.0.2")
    assert attempt("carla", PASSWORD, "10.0.0.3")[0].status_code == 429


def test_a_success_resets_the_count(carla):
    for _ in range(4):
        attempt("carla", "wrong", "10.0.0.1")
    assert logged_in(attempt("carla", PASSWORD, "10.0.0.1")[0])
    for _ in range(4):
        attempt("carla", "wrong", "10.0.0.1")
    assert logged_in(attempt("carla", PASSWORD, "10.0.0.1")[0])


def test_support_sees_and_releases_a_lockout_and_it_is_audited(carla, support_client):
    for i in range(5):
        attempt("carla", "wrong", f"10.0.0.{i + 1}")
    page = support_client.get("/axes/accessattempt/")
    assert page.status_code == 200 and "carla" in page.content.decode()
    locked = list(AccessAttempt.objects.filter(username="carla").values_list("pk", flat=True))
    response = support_client.post("/axes/accessattempt/", {"action": "delete_selected", "post": "yes", "index": "0",
                                                             "_selected_action": locked})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="carla").exists()
    assert logged_in(attempt("carla", PASSWORD, "10.0.0.1")[0])
    released = AuditEntry.objects.get(event="login.lockout_released", after__ip_address="10.0.0.1")
    assert released.actor == "sam"


def test_customers_cannot_see_login_attempts(carla, customer_client):
    attempt("carla", "wrong", "10.0.0.1")
    assert customer_client.get("/axes/accessattempt/").status_code in (302, 403)
    assert factories  # builders shared with the rest of the suite


def test_the_client_address_behind_trusted_proxies(settings):
    from django.test import RequestFactory

    from portal.login_throttle import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7")
    settings.LOGIN_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.5"  # no proxy trusted: a forged header changes nothing
    settings.LOGIN_TRUSTED_PROXIES = 1
    assert client_ip(request) == "198.51.100.7"
