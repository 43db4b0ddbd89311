"""Every create, change and delete of a rule writes an audit entry with actor, before and after."""

import pytest

from audit.models import AuditEntry
from mappings import audit
from mappings.models import MappingRule

from .conftest import add_rule

pytestmark = pytest.mark.django_db


def entries(event=None):
    qs = AuditEntry.objects.filter(event__startswith="mapping.").order_by("id")
    return list(qs.filter(event=event) if event else qs)


def test_create_change_delete_are_audited_with_old_and_new_values(tenant, flow, django_user_model):
    user = django_user_model.objects.create_user("fiona")
    with audit.acting(user) as ctx:
        rule = add_rule(tenant, flow, category="Meals", target_object="6110")
    (created,) = entries("mapping.created")
    assert created.actor == "fiona" and created.action_id == ctx.action_id and created.tenant_id == tenant.pk
    assert created.before is None and created.after["category"] == "Meals" and created.after["target_object"] == "6110"
    assert created.flow_id == flow.pk and created.source_ref == f"mapping_rule:{rule.pk}"

    rule = MappingRule.objects.get(pk=rule.pk)
    rule.target_object = "6115"
    with audit.acting(user):
        rule.full_clean()
        rule.save()
    (changed,) = entries("mapping.changed")
    assert changed.before["target_object"] == "6110" and changed.after["target_object"] == "6115"
    assert "target_object" in changed.message

    rule.save()  # no change: no entry
    assert len(entries("mapping.changed")) == 1

    with audit.acting("support-bot"):
        rule.delete()
    (deleted,) = entries("mapping.deleted")
    assert deleted.before["target_object"] == "6115" and deleted.after is None and deleted.actor == "support-bot"


def test_bulk_delete_and_cascade_from_a_flow_are_audited(tenant, flow):
    add_rule(tenant, flow, category="Meals", target_object="6110")
    add_rule(tenant, flow, category="Lodging", target_object="6120")
    add_rule(tenant, category="Airfare", target_object="6100")
    MappingRule.objects.filter(category="Airfare").delete()
    flow_id = flow.pk
    flow.delete()
    deleted = entries("mapping.deleted")
    assert sorted((e.before["category"], e.before["flow_id"]) for e in deleted) == [
        ("Airfare", None), ("Lodging", flow_id), ("Meals", flow_id)]


def test_outside_a_context_the_actor_is_system():
    assert audit.current().actor == "system"
