"""One reference, one document, whatever flow stored it: flows sharing a target never post what
another flow took, and the database refuses a second batch for a reference."""

import pytest
from django.db import IntegrityError
from django.db.models import ProtectedError

from audit.models import AuditEntry
from integrations.demo import install_demo_rules
from integrations.engine import run_cycle
from integrations.models import Batch, Flow, SyncCycle

from .conftest import journals_by_reference, make_flow, posts

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def sibling(flow, name, **options):
    other = Flow.objects.create(tenant=flow.tenant, name=name, kind=flow.kind, source=flow.source, target=flow.target,
                                options={**flow.options, **options})
    install_demo_rules(other)
    return other


def test_flows_on_the_same_connections_never_post_what_another_flow_took(box):
    first = make_flow(box)
    result = run_cycle(first)
    assert result.posted == 28
    taken = {b.external_ref: b.pk for b in Batch.objects.filter(flow=first)}
    assert len(taken) == 31
    journals_before = journals_by_reference(box)
    posts_before = posts(box)

    # A second flow on the same two connections.
    second = sibling(first, "Second flow")
    assert run_cycle(second).state == SyncCycle.DONE
    # The first disabled and a new one created in its place.
    Flow.objects.filter(pk=first.pk).update(enabled=False)
    recreated = sibling(first, "Expenses to JDE (new)")
    assert run_cycle(recreated).state == SyncCycle.DONE
    # A flow whose fetch label differs: Expensify offers it every report again.
    relabelled = sibling(first, "Relabelled flow", fetch_label="other-label")
    relabelled_result = run_cycle(relabelled)
    assert relabelled_result.state == SyncCycle.DONE
    assert relabelled_result.fetched == 31 and relabelled_result.posted == 0 and relabelled_result.skipped == 31

    # Nothing was sent again, and JD Edwards holds each journal once.
    assert posts(box) == posts_before
    journals = journals_by_reference(box)
    assert set(journals) == set(journals_before)
    assert all(len(numbers) == 1 for numbers in journals.values())
    for other in (second, recreated, relabelled):
        assert not Batch.objects.filter(flow=other).exists()
    # The first flow's batches are untouched.
    assert {b.external_ref: b.pk for b in Batch.objects.filter(flow=first)} == taken
    owned = AuditEntry.objects.filter(flow=relabelled, event="record.owned_elsewhere")
    assert owned.count() == 31
    assert {e.source_ref.split(":", 1)[1] for e in owned} == {ref.split("-", 1)[1] for ref in taken}


def test_the_database_refuses_a_second_batch_for_a_reference_on_the_same_target(box):
    first = make_flow(box)
    run_cycle(first)
    existing = Batch.objects.filter(flow=first, state=S.CONFIRMED).first()
    second = sibling(first, "Second flow")
    with pytest.raises(IntegrityError):
        Batch.objects.create(flow=second, target=first.target, source_kind=existing.source_kind, source_id="another-id",
                             external_ref=existing.external_ref)
    assert Batch.objects.filter(external_ref=existing.external_ref).count() == 1
    # A flow that stored records cannot be deleted (re-creating it must not forget them); one without can.
    with pytest.raises(ProtectedError):
        first.delete()
    assert Flow.objects.filter(pk=first.pk).exists()
    second.delete()
    assert not Flow.objects.filter(pk=second.pk).exists()


@pytest.mark.parametrize("stored", [1, 300])
def test_references_stored_by_another_flow_are_found_by_reference_not_by_walking_the_target(stored):
    """A page asks which of its references another flow already stored for the same target. The answer counts only
    that target and other flows; and it is looked up by the reference's own index, not by reading every batch of
    the target (on SQLite, the target's index made each page's lookup grow with the table)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from integrations.engine.intake import Intake
    from tests.factories import make_batch, make_flow, make_tenant

    tenant = make_tenant()
    mine = make_flow(tenant)
    other_flow = make_flow(tenant, source=mine.source, target=mine.target)
    elsewhere_target = make_flow(tenant, source=mine.source)  # same references, another JD Edwards
    for i in range(stored):
        make_batch(tenant, flow=other_flow, state=S.POSTED, external_ref=f"EXP-{i}", source_id=f"A{i}")
        make_batch(tenant, flow=elsewhere_target, state=S.POSTED, external_ref=f"EXP-{i}", source_id=f"B{i}")
    make_batch(tenant, flow=mine, state=S.POSTED, external_ref="EXP-mine", source_id="C1")
    asked = {f"EXP-{i}" for i in range(stored)} | {"EXP-mine", "EXP-new"}
    intake = Intake(type("Ctx", (), {"flow": mine})())

    with CaptureQueriesContext(connection) as queries:
        found = intake.stored_elsewhere(asked)

    assert found == {f"EXP-{i}" for i in range(stored)}
    assert len(queries) == 1
    if connection.vendor != "sqlite":
        return  # PostgreSQL plans by its table statistics: a table this small is read whole, which is right there
    plan = " ".join(str(row[-1]) for row in connection.cursor().execute("EXPLAIN QUERY PLAN " + queries[0]["sql"]))
    assert "external_ref" in plan and "target" not in plan and "ORDER BY" not in plan, plan
