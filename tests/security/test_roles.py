"""Roles cannot escalate (issue 9, point 1): the user change form, the password form, groups and
permissions, the membership admin and its tenant inline."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from audit.models import AuditEntry
from portal import roles
from portal.models import Membership
from tests import factories

pytestmark = pytest.mark.django_db
User = get_user_model()


def fresh(user):
    return User.objects.get(pk=user.pk)


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def user_form(user, **changes):
    """What the change form posts for ``user``, with ``changes`` applied."""
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"), "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S")}
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            data[flag] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def support_group(role_groups):
    return role_groups[roles.SUPPORT_GROUP]


# -- the user change form ---------------------------------------------------------------------------------------

def test_support_cannot_make_itself_superuser(support_client, support_user, support_group):
    response = support_client.post(f"/auth/user/{support_user.pk}/change/",
                                   user_form(support_user, is_superuser="on", groups=[support_group.pk]))
    assert response.status_code in (302, 403, 404)  # 302: "no such user", back to the index
    assert not fresh(support_user).is_superuser


def test_support_editing_a_customer_cannot_grant_flags_groups_or_permissions(support_client, customer_user, support_group):
    perm = Permission.objects.get(codename="change_connection")
    response = support_client.post(f"/auth/user/{customer_user.pk}/change/", user_form(
        customer_user, first_name="Carla", is_superuser="on", is_staff="on", groups=[support_group.pk],
        user_permissions=[perm.pk]))
    assert response.status_code == 302
    user = fresh(customer_user)
    assert user.first_name == "Carla"
    assert not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [roles.CUSTOMER_GROUP]
    assert not user.user_permissions.exists() and not user.has_perm("integrations.change_connection")


def test_support_sees_no_permission_picker(support_client, customer_user):
    form = support_client.get(f"/auth/user/{customer_user.pk}/change/").context["adminform"].form
    assert {"is_superuser", "is_staff", "groups", "user_permissions"}.isdisjoint(form.fields)
    add_form = support_client.get("/auth/user/add/").context["adminform"].form
    assert {"is_superuser", "is_staff", "groups", "user_permissions"}.isdisjoint(add_form.fields)


def test_support_does_not_see_superusers_or_support_users(support_client, superuser, customer_user, tenant):
    other_support = factories.make_user("sue", is_staff=True)
    Membership.objects.create(user=other_support, tenant=tenant, role=Membership.SUPPORT)
    listed = {u.username for u in support_client.get("/auth/user/").context["cl"].result_list}
    assert listed == {customer_user.username}
    for target in (superuser, other_support):
        assert support_client.get(f"/auth/user/{target.pk}/change/").status_code in (302, 403, 404)


def test_a_user_created_by_support_has_no_power(support_client):
    response = support_client.post("/auth/user/add/", {"username": "newbie", "usable_password": "true",
                                                        "password1": "Quite-long-Passw0rd!", "password2": "Quite-long-Passw0rd!",
                                                        "is_superuser": "on", "is_staff": "on"})
    assert response.status_code == 302
    user = User.objects.get(username="newbie")
    assert not user.is_superuser and not user.is_staff and not user.groups.exists()


def test_a_superuser_cannot_give_a_customer_more_than_the_customer_role(superuser, customer_user, support_group):
    client = client_for(superuser)
    perm = Permission.objects.get(codename="change_connection")
    customer_group = Group.objects.get(name=roles.CUSTOMER_GROUP)
    extras = ({"groups": [customer_group.pk, support_group.pk]}, {"groups": [customer_group.pk], "user_permissions": [perm.pk]})
    for extra in extras:
        response = client.post(f"/auth/user/{customer_user.pk}/change/", user_form(customer_user, **extra))
        assert response.status_code == 200 and "only the customer role" in response.content.decode()
    assert not fresh(customer_user).has_perm("integrations.change_connection")
    # Making the user a superuser is a superuser's call, and allowed.
    response = client.post(f"/auth/user/{customer_user.pk}/change/", user_form(customer_user, is_superuser="on"))
    assert response.status_code == 302 and fresh(customer_user).is_superuser


# -- the password form ------------------------------------------------------------------------------------------

def test_support_cannot_change_a_superusers_or_support_users_password(support_client, superuser, tenant):
    other_support = factories.make_user("sue", is_staff=True)
    Membership.objects.create(user=other_support, tenant=tenant, role=Membership.SUPPORT)
    for target in (superuser, other_support):
        before = fresh(target).password
        response = support_client.post(f"/auth/user/{target.pk}/password/",
                                       {"password1": "Taken-0ver-Passw0rd", "password2": "Taken-0ver-Passw0rd",
                                        "usable_password": "true"})
        assert response.status_code in (403, 404)
        assert fresh(target).password == before


def test_support_can_reset_a_customers_password(support_client, customer_user):
    response = support_client.post(f"/auth/user/{customer_user.pk}/password/",
                                   {"password1": "Fresh-Start-2026x", "password2": "Fresh-Start-2026x",
                                    "usable_password": "true"})
    assert response.status_code == 302
    assert fresh(customer_user).check_password("Fresh-Start-2026x")


def test_a_superuser_can_change_a_superusers_password(superuser):
    other = factories.make_user("root2", is_staff=True, is_superuser=True)
    response = client_for(superuser).post(f"/auth/user/{other.pk}/password/",
                                          {"password1": "Fresh-Start-2026x", "password2": "Fresh-Start-2026x",
                                           "usable_password": "true"})
    assert response.status_code == 302 and fresh(other).check_password("Fresh-Start-2026x")


# -- memberships ------------------------------------------------------------------------------------------------

def test_support_cannot_give_the_support_role(support_client, customer_user, tenant, other_tenant):
    form = support_client.get("/portal/membership/add/").context["adminform"].form
    assert [value for value, _ in form.fields["role"].choices] == [Membership.CUSTOMER]
    response = support_client.post("/portal/membership/add/", {"user": customer_user.pk, "tenant": other_tenant.pk,
                                                                "role": Membership.SUPPORT})
    assert response.status_code == 200
    assert not Membership.objects.filter(user=customer_user, role=Membership.SUPPORT).exists()
    assert not fresh(customer_user).groups.filter(name=roles.SUPPORT_GROUP).exists()


def test_support_cannot_promote_a_customer_membership(support_client, customer_user, tenant):
    membership = Membership.objects.get(user=customer_user)
    response = support_client.post(f"/portal/membership/{membership.pk}/change/",
                                   {"user": customer_user.pk, "tenant": tenant.pk, "role": Membership.SUPPORT})
    assert response.status_code == 200
    assert Membership.objects.get(pk=membership.pk).role == Membership.CUSTOMER


def test_support_cannot_change_or_remove_a_support_membership(support_client, support_user, tenant):
    other_support = factories.make_user("sue", is_staff=True)
    membership = Membership.objects.create(user=other_support, tenant=tenant, role=Membership.SUPPORT)
    response = support_client.post(f"/portal/membership/{membership.pk}/change/",
                                   {"user": other_support.pk, "tenant": tenant.pk, "role": Membership.CUSTOMER})
    assert response.status_code == 403
    assert support_client.post(f"/portal/membership/{membership.pk}/delete/", {"post": "yes"}).status_code == 403
    support_client.post("/portal/membership/", {"action": "delete_selected", "index": "0", "post": "yes",
                                                 "_selected_action": [membership.pk]})
    assert Membership.objects.get(pk=membership.pk).role == Membership.SUPPORT


def test_support_cannot_give_the_support_role_through_the_tenant_inline(support_client, customer_user, tenant, other_tenant):
    data = {"name": other_tenant.name, "slug": other_tenant.slug, "active": "on", "time_zone": "UTC", "base_currency": "USD",
            "alert_emails": "", "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-user": customer_user.pk, "memberships-0-role": Membership.SUPPORT}
    response = support_client.post(f"/portal/tenant/{other_tenant.pk}/change/", data)
    assert response.status_code == 200
    assert not Membership.objects.filter(role=Membership.SUPPORT, user=customer_user).exists()


def test_a_superuser_gives_the_support_role(superuser, customer_user, other_tenant):
    response = client_for(superuser).post("/portal/membership/add/", {"user": customer_user.pk, "tenant": other_tenant.pk,
                                                                       "role": Membership.SUPPORT})
    assert response.status_code == 302
    assert fresh(customer_user).groups.filter(name=roles.SUPPORT_GROUP).exists()


def test_a_membership_save_takes_away_what_a_customer_should_not_hold(customer_user, tenant, other_tenant, support_group):
    customer_user.user_permissions.add(Permission.objects.get(codename="change_connection"))
    customer_user.groups.add(support_group)
    Membership.objects.create(user=customer_user, tenant=other_tenant, role=Membership.CUSTOMER)
    user = fresh(customer_user)
    assert list(user.groups.values_list("name", flat=True)) == [roles.CUSTOMER_GROUP]
    assert not user.user_permissions.exists() and not user.has_perm("integrations.change_connection")


def test_support_deactivates_and_resets_customer_users_from_memberships(support_client, customer_user, support_user):
    customer = Membership.objects.get(user=customer_user)
    support = Membership.objects.get(user=support_user)
    response = support_client.post("/portal/membership/", {"action": "reset_passwords", "index": "0",
                                                           "_selected_action": [customer.pk, support.pk]})
    assert response.status_code == 200
    issued = dict(response.context["issued"])
    assert set(issued) == {customer_user.username}  # a support user's password is a superuser's to reset
    assert fresh(customer_user).check_password(issued[customer_user.username])
    assert not fresh(support_user).has_usable_password() or not fresh(support_user).check_password(issued[customer_user.username])
    support_client.post("/portal/membership/", {"action": "deactivate_users", "index": "0",
                                                 "_selected_action": [customer.pk, support.pk]})
    assert not fresh(customer_user).is_active and fresh(support_user).is_active
    events = set(AuditEntry.objects.values_list("event", flat=True))
    assert {"user.password_reset", "user.deactivated"} <= events
    assert issued[customer_user.username] not in " ".join(AuditEntry.objects.values_list("message", flat=True))
