"""A held batch fixed end to end in the browser, as a customer finance user would: from the dashboard to the held
batch, its failing line and field, a mapping rule from the page's pre-filled link, Retry, and the batch posted with
the target's document id."""

import pytest
from playwright.sync_api import expect

from integrations.models import Batch, BatchState
from mappings.models import MappingRule
from tests.browser.conftest import sign_in
from tests.flows.conftest import control

S = BatchState


@pytest.fixture
def queue_runs_at_once(monkeypatch):
    """Retry queues a cycle; no task cluster runs in a test, so django-q runs the task in the request itself
    (the same task function the cluster would run)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


def test_customer_fixes_an_unmapped_category_and_the_batch_posts(page, world, queue_runs_at_once):
    flow = world["flow"]
    batch = Batch.objects.filter(flow=flow, state=S.HELD, error_code="MAP-UNMAPPED-CATEGORY").order_by("pk").first()
    bad_line = next(t for t in batch.payload["transactions"] if t["category"] == "Gifts")
    sign_in(page, "carla")

    # dashboard -> the flow's held batches -> this batch
    page.locator("#dashboard-flows a.problem", has_text="held").click()
    page.wait_for_url("**/integrations/batch/?**state__exact=held**")
    row = page.locator("#result_list tbody tr", has_text=batch.source_id)
    assert "unmapped category" in row.locator("td.field-problem").inner_text()
    row.locator("th a").click()
    page.wait_for_url(f"**/integrations/batch/{batch.pk}/change/**")

    # the failing line and field, with the source values
    assert batch.source_id in page.locator("#content h2").first.inner_text()
    faults = page.locator(".field-hold_lines")
    assert f'line {bad_line["transactionID"]} (category "Gifts")' in faults.inner_text()
    problem = faults.locator("tr.problem")
    assert problem.count() == 1 and bad_line["transactionID"] in problem.inner_text()
    assert problem.locator("strong", has_text="Gifts").is_visible()  # the field at fault

    # the rule, from the pre-filled link: only the account is left to give
    faults.get_by_role("link", name='Add a mapping rule for category "Gifts"').click()
    page.wait_for_url("**/mappings/mappingrule/add/**")
    assert page.locator("#id_category").input_value() == "Gifts"
    assert page.locator("#id_flow option:checked").inner_text() == flow.name
    page.fill("#id_target_object", "6200")
    page.locator("input[name=_save]").click()
    # saved, the page is the batch again: Retry, and it posts (the cycle runs as the task cluster would run it)
    page.wait_for_url(f"**/integrations/batch/{batch.pk}/change/")
    expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")
    rule = MappingRule.objects.get(tenant=world["tenant"], category="Gifts")
    assert rule.flow_id == flow.pk and rule.target_object == "6200"
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".messagelist")).to_contain_text("1 batch(es) queued for retry.")
    batch.refresh_from_db()
    assert batch.state in (S.POSTED, S.CONFIRMED), (batch.state, batch.last_error)
    assert batch.target_document_id
    page.reload()
    assert page.locator(".field-state .readonly").inner_text() in ("Posted", "Confirmed at source")
    assert page.locator(".field-target_document_id .readonly").inner_text() == batch.target_document_id
    # the journal is in JD Edwards once, under the batch's reference, with the Gifts line on the new account
    rows = control(world["box"], "GET", "jde/F0911Z1", params={"reference": batch.external_ref})
    assert len({r["VNEDBT"] for r in rows}) == 1 and any(r["VNOBJ"].strip() == "6200" for r in rows), rows
    # only what the person retried moved: the other report held for Gifts waits for its own Retry
    others = Batch.objects.filter(flow=flow, error_code="MAP-UNMAPPED-CATEGORY").exclude(pk=batch.pk)
    assert others.exists() and all(b.state == S.HELD for b in others)

