"""Support invites a customer user in one form: user, customer role, membership and a one-time password-set link."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from portal.models import Membership

INVITE = "/auth/user/invite/"
User = get_user_model()


def invite(client, tenant, email="Nina@Acme.example"):
    return client.post(INVITE, {"email": email, "first_name": "Nina", "last_name": "Ng", "tenant": tenant.pk})


def test_support_invites_a_customer_user_who_sets_a_password_once_and_sees_only_their_tenant(
    support_client, tenant, other_tenant
):
    assert "Invite a customer user" in support_client.get("/auth/user/").content.decode()
    response = invite(support_client, tenant)
    assert response.status_code == 200
    user = User.objects.get(username="nina@acme.example")
    assert not user.has_usable_password() and user.is_staff and not user.is_superuser
    assert list(Membership.objects.filter(user=user).values_list("tenant", "role")) == [(tenant.pk, Membership.CUSTOMER)]
    assert list(user.groups.values_list("name", flat=True)) == ["customer"]
    url = re.search(r'value="http://testserver(/password-set/[^"]+)" id="password-set-link"', response.content.decode()).group(1)
    assert len(mail.outbox) == 1 and url in mail.outbox[0].body and mail.outbox[0].to == ["nina@acme.example"]

    browser = Client()
    form_page = browser.get(url, follow=True)  # Django redirects to a token-less URL first
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    done = browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": "a long pass phrase 42", "new_password2": "a long pass phrase 42"}
    )
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a long pass phrase 42")
    again = Client().get(url, follow=True)
    assert "new_password1" not in again.content.decode()  # the link works once

    browser = Client()
    browser.force_login(user)
    html = browser.get("/").content.decode()
    assert "Dashboard" in html


def test_invite_form_errors_are_plain(support_client, tenant, customer_user):
    response = invite(support_client, tenant, email="not-an-email")
    assert "Enter a valid email address." in response.content.decode()
    User.objects.create_user("taken@acme.example", email="taken@acme.example")
    response = invite(support_client, tenant, email="taken@acme.example")
    assert "already exists" in response.content.decode()
    assert not mail.outbox


def test_customer_users_cannot_invite(customer_client, tenant):
    assert customer_client.get(INVITE).status_code in (302, 403)
    assert invite(customer_client, tenant).status_code in (302, 403)
    assert not User.objects.filter(username="nina@acme.example").exists()
    assert "Invite a customer user" not in customer_client.get("/auth/user/").content.decode()


@pytest.mark.parametrize("field", ["is_superuser", "groups", "user_permissions"])
def test_invite_never_grants_more_than_the_customer_role(support_client, tenant, role_groups, field):
    from django.contrib.auth.models import Group

    extra = {"is_superuser": "on", "groups": Group.objects.get(name="support").pk, "user_permissions": 1}[field]
    support_client.post(INVITE, {"email": "eve@acme.example", "first_name": "Eve", "tenant": tenant.pk, field: extra})
    user = User.objects.get(username="eve@acme.example")
    assert not user.is_superuser and list(user.groups.values_list("name", flat=True)) == ["customer"]
    assert not user.user_permissions.exists()
