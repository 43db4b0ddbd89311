"""Every list filter and date hierarchy of the foundation admins runs on an index."""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path

APPS = {"portal", "integrations", "audit", "mappings"}
ADMINS = sorted(((m, a) for m, a in admin.site._registry.items() if m._meta.app_label in APPS), key=lambda i: i[0]._meta.label)


def indexed(model, field):
    if field.primary_key or field.unique or getattr(field, "db_index", False) or field.many_to_one or field.one_to_one:
        return True
    leading = [idx.fields[0].lstrip("-") for idx in model._meta.indexes]
    leading += [c.fields[0] for c in model._meta.constraints if getattr(c, "fields", None)]
    return field.name in leading


def filter_paths(model_admin):
    for item in model_admin.list_filter:
        if isinstance(item, str):
            yield item
        elif isinstance(item, (tuple, list)):
            yield item[0]
    if model_admin.date_hierarchy:
        yield model_admin.date_hierarchy


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=[m._meta.label for m, _ in ADMINS])
def test_filters_are_indexed(model, model_admin):
    for path in filter_paths(model_admin):
        current = model
        for field in get_fields_from_path(model, path):
            where = f"{current.__name__}.{field.name}"
            assert indexed(current, field), f"{model._meta.label}: filter {path!r} has no index on {where}"
            current = field.related_model or current


def test_the_check_is_live():
    from integrations.models import Batch

    assert not indexed(Batch, Batch._meta.get_field("source_kind"))
    assert indexed(Batch, Batch._meta.get_field("state"))  # leading column of (state, next_attempt_at)
