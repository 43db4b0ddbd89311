"""Factories of the mappings models for the shared tenant-scoping test (``tests.factories.FACTORIES``)."""

from django.utils import timezone

from mappings.models import MappingRule, ReferenceEntry
from tests.factories import factory, make_connection, make_flow, n


@factory(MappingRule)
def make_mapping_rule(tenant, flow=None, **fields):
    """A validated rule (like the admin saves it); flow-scoped to a new flow of the tenant unless given."""
    fields.setdefault("category", f"Category {n()}")
    fields.setdefault("target_object", "6110")
    rule = MappingRule(tenant=tenant, flow=flow or make_flow(tenant), **fields)
    rule.full_clean()
    rule.save()
    return rule


@factory(ReferenceEntry)
def make_reference_entry(tenant, connection=None, **fields):
    connection = connection or make_connection(tenant, "jde")
    return ReferenceEntry.objects.create(connection=connection, kind=fields.pop("kind", "account"),
                                         key=fields.pop("key", f"100.{n()}"), refreshed_at=timezone.now(), **fields)
