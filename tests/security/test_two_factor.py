"""Two-factor login for anyone who sees more than one tenant (issue 9, point 3)."""

import re
import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.models import Membership
from tests import factories
from tests.portal.test_settings import PRODUCTION_ENV, settings_in_subprocess

pytestmark = pytest.mark.django_db

PAGE = "/integrations/batch/"


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code does not slow the next try in these tests


def code_for(device, steps_ahead=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def login(user):
    client = Client()
    client.force_login(user)
    return client


def enrol(client, user):
    page = client.get("/two-factor/")
    assert page.status_code == 200 and page.context["mode"] == "enrol"
    assert "<svg" in page.context["qr"] and page.context["qr"] in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"] == device.key
    return client.post("/two-factor/", {"code": code_for(device), "next": PAGE}), device


def test_support_must_enrol_before_any_admin_page(required, support_user):
    client = login(support_user)
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/")
    assert client.get("/").status_code == 302
    done, device = enrol(client, support_user)
    assert done.status_code == 302 and done["Location"] == PAGE
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(PAGE).status_code == 200


def test_an_enrolled_support_user_gives_a_code_at_each_login(required, support_user):
    _, device = enrol(login(support_user), support_user)
    client = login(support_user)
    assert client.get(PAGE).status_code == 302
    page = client.get("/two-factor/")
    assert page.context["mode"] == "verify" and page.context["qr"] == "" and device.key not in page.content.decode()
    wrong = client.post("/two-factor/", {"code": "000000" if code_for(device, 1) != "000000" else "111111"})
    assert wrong.status_code == 200 and "not valid" in wrong.content.decode()
    assert client.get(PAGE).status_code == 302
    assert client.post("/two-factor/", {"code": code_for(device, 1)}).status_code == 302
    assert client.get(PAGE).status_code == 200


def test_a_superuser_and_a_customer_of_two_tenants_must_enrol(required, superuser, make_customer, tenant, other_tenant):
    for user in (superuser, make_customer(tenant, other_tenant, username="multi")):
        assert login(user).get(PAGE).status_code == 302


def test_a_customer_of_one_tenant_may_go_without_or_enrol_by_choice(required, customer_user):
    client = login(customer_user)
    assert client.get(PAGE).status_code == 200
    page = client.get("/two-factor/")
    assert page.context["mode"] == "enrol" and not page.context["required"]
    enrol(client, customer_user)
    assert login(customer_user).get(PAGE).status_code == 302  # enrolled: asked for a code from now on


def test_without_the_setting_nobody_is_stopped(settings, support_user):
    settings.OTP_REQUIRED = False
    assert login(support_user).get(PAGE).status_code == 200


def test_the_admin_links_to_two_factor(support_client):
    assert re.search(r'href="/two-factor/"', support_client.get("/").content.decode())


def test_the_api_is_not_behind_two_factor(required, support_user):
    assert login(support_user).post("/api/v1/flows/1/trigger").status_code == 401


def test_production_requires_two_factor_by_default():
    assert settings_in_subprocess(["OTP_REQUIRED"], **PRODUCTION_ENV) == {"OTP_REQUIRED": True}
    assert settings_in_subprocess(["OTP_REQUIRED"]) == {"OTP_REQUIRED": False}


def test_enrolment_is_per_user(required, support_user, tenant):
    enrol(login(support_user), support_user)
    other = Membership.objects.create(user=factories.make_user("sue", is_staff=True), tenant=tenant,
                                      role=Membership.SUPPORT).user
    page = login(other).get("/two-factor/")
    assert page.context["mode"] == "enrol" and page.context["secret"] != TOTPDevice.objects.get(user=support_user).key
