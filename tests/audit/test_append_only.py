"""The audit trail cannot be changed or deleted: not by the model, its queryset, or the admin."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from audit.models import AppendOnlyError, AuditEntry
from tests.factories import make_audit_entry


@pytest.fixture
def entry(tenant):
    return make_audit_entry(tenant, message="original")


def test_save_on_a_stored_entry_raises(entry):
    entry.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert AuditEntry.objects.get(pk=entry.pk).message == "original"


def test_save_of_a_fetched_entry_raises(entry):
    fetched = AuditEntry.objects.get(pk=entry.pk)
    with pytest.raises(AppendOnlyError):
        fetched.save()


def test_instance_delete_raises(entry):
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize(
    "operation",
    [
        lambda qs: qs.update(message="x"),
        lambda qs: qs.delete(),
        lambda qs: qs.bulk_update(list(qs), ["message"]),
        lambda qs: qs.filter(event="test.event").update(message="x"),
        lambda qs: qs.all().delete(),
    ],
    ids=["update", "delete", "bulk_update", "filtered update", "all().delete"],
)
def test_queryset_writes_raise(entry, operation):
    with pytest.raises(AppendOnlyError):
        operation(AuditEntry.objects.all())
    assert AuditEntry.objects.get(pk=entry.pk).message == "original"


def test_new_entries_can_be_added(tenant):
    AuditEntry.objects.bulk_create([AuditEntry(tenant=tenant, event="a"), AuditEntry(tenant=tenant, event="b")])
    assert AuditEntry.objects.count() == 2


def test_actor_survives_the_users_deletion(tenant, support_user):
    from audit import log

    e = log.record(tenant.pk, "x", actor=log.actor_name(support_user))
    support_user.delete()
    assert AuditEntry.objects.get(pk=e.pk).actor == "sam"


def test_admin_has_no_add_change_or_delete(superuser, entry, client):
    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/")
    request.user = superuser
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert "delete_selected" not in model_admin.get_actions(request)
    client.force_login(superuser)
    assert client.get("/audit/auditentry/add/").status_code == 403
    assert client.get(f"/audit/auditentry/{entry.pk}/delete/").status_code == 403
    view = client.get(f"/audit/auditentry/{entry.pk}/change/")
    assert view.status_code == 200 and b"original" in view.content
    assert b'name="_save"' not in view.content  # read-only view
    assert client.post(f"/audit/auditentry/{entry.pk}/change/", {"message": "x"}).status_code == 403
    changelist = client.post("/audit/auditentry/", {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert changelist.status_code in (200, 302)
    assert AuditEntry.objects.get(pk=entry.pk).message == "original"
