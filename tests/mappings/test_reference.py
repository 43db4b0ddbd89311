"""The per-connection reference-data cache: refresh, loaders registry, the in-memory checks."""

import pytest

from audit.models import AuditEntry
from mappings import reference
from mappings.models import ReferenceEntry
from mappings.reference import Entry, NoLoader, ReferenceSet, refresh_reference

from .conftest import JDE_CHART, load_chart

pytestmark = pytest.mark.django_db


def test_refresh_replaces_the_cache_and_reports_what_changed(flow):
    conn = flow.target
    first = load_chart(conn)
    assert (first.created, first.updated, first.deleted) == (len(JDE_CHART), 0, 0)
    changed = [dict(e) for e in JDE_CHART if e["key"] != "100.6100"]
    changed[0] = {**changed[0], "active": False}
    changed.append(Entry(kind="account", key="400.6110", description="New region"))
    second = refresh_reference(conn, lambda c: changed)
    assert (second.created, second.updated, second.deleted, second.unchanged) == (1, 1, 1, len(JDE_CHART) - 2)
    keys = set(ReferenceEntry.objects.filter(connection=conn).values_list("key", flat=True))
    assert "100.6100" not in keys and "400.6110" in keys
    assert not ReferenceEntry.objects.get(connection=conn, key=changed[0]["key"]).active
    entry = AuditEntry.objects.filter(event="reference.refreshed").first()
    assert entry.tenant_id == flow.tenant_id and entry.after["created"] == 1


def test_refresh_uses_the_registered_loader_of_the_connection_system(flow, monkeypatch):
    calls = []
    monkeypatch.setitem(reference.LOADERS, "jde", lambda conn: calls.append(conn) or [{"kind": "account", "key": "1.2"}])
    result = refresh_reference(flow.target)
    assert calls == [flow.target] and result.created == 1
    monkeypatch.delitem(reference.LOADERS, "jde")
    with pytest.raises(NoLoader):
        refresh_reference(flow.target)


def test_register_loader_fills_the_registry(monkeypatch):
    monkeypatch.setattr(reference, "LOADERS", {})
    loader = lambda conn: []  # noqa: E731
    reference.register_loader("ifs", loader)
    assert reference.LOADERS == {"ifs": loader}


def test_reference_set_for_a_connection_is_rebuilt_after_a_refresh(flow):
    load_chart(flow.target)
    before = ReferenceSet.for_connection(flow.target)
    assert ReferenceSet.for_connection(flow.target) is before  # cached while unchanged
    refresh_reference(flow.target, lambda c: [{"kind": "account", "key": "100.6110", "active": False}])
    after = ReferenceSet.for_connection(flow.target)
    assert after is not before
    assert after.check_resolved({"business_unit": "100", "object": "6110"})[0].reason == "inactive"


def test_reference_set_checks_other_systems_by_kind():
    refset = ReferenceSet([
        {"kind": "code_a", "key": "6200"}, {"kind": "code_b", "key": "CC10", "active": False},
    ], system="ifs", name="IFS prod")
    problems = refset.check_partial({"ifs_code_a": "6200", "ifs_code_b": "CC10", "ifs_code_c": "P1"})
    assert [(p.field, p.reason) for p in problems] == [("ifs_code_b", "inactive")]
    assert 'IFS code part B "CC10" is inactive in IFS prod' in problems[0].message
    assert refset.checkable("ifs_code_a") and not refset.checkable("ifs_code_c")
