"""Support and a customer user sign in with their passwords and read the dashboard: the numbers are the seeded
world's (one real cycle over the sandbox), and a customer never sees another tenant."""

from django.db.models import Sum

from integrations.models import Batch, BatchState
from integrations.ops.display import money_with_currency
from tests.browser.conftest import sign_in

S = BatchState


def tile(page, label):
    """The number on the dashboard tile labelled ``label``."""
    return page.locator(".dashboard-ops .tile", has_text=label).locator("strong").inner_text()


def posted_totals(flow):
    rows = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED]).values("currency").annotate(total=Sum("amount"))
    return {r["currency"]: money_with_currency(r["total"], r["currency"]) for r in rows}


def test_support_reads_every_tenant_and_the_seeded_numbers(page, world):
    flow, result = world["flow"], world["result"]
    sign_in(page, "sam")
    held = Batch.objects.filter(flow=flow, state=S.HELD).count()
    assert held == result.held
    assert tile(page, "needing attention") == str(held)
    assert tile(page, "Held (needs a person)") == str(held)
    assert tile(page, "Confirmed at source") == str(Batch.objects.filter(flow=flow, state=S.CONFIRMED).count())
    flows = page.locator("#dashboard-flows tbody tr")
    assert flows.count() == 2  # both tenants' flows
    demo = flows.filter(has_text="Expensify to JD Edwards")
    assert "Demo Co" in demo.inner_text() and f"{held} held (needs a person)" in demo.locator("a.problem").inner_text()
    assert "Globex Inc" in flows.filter(has_text="Globex expenses").inner_text()
    captions = page.locator(".charts figcaption").all_inner_texts()
    totals = posted_totals(flow)
    assert sorted(captions) == sorted(f"{currency}: {text} posted" for currency, text in totals.items())
    assert totals["USD"] == f"{result.amount_posted['USD']:,} USD"  # what the cycle itself counted


def test_customer_sees_only_their_own_tenant(page, world):
    sign_in(page, "carla")
    body = page.locator("#content").inner_text()
    assert "Expensify to JD Edwards" in body
    assert "Globex" not in body and "Tenant" not in page.locator("#dashboard-flows thead").inner_text()
    assert tile(page, "needing attention") == str(world["result"].held)
    page.goto("/integrations/batch/")
    assert page.locator("#result_list tbody tr").count() == Batch.objects.filter(flow__tenant=world["tenant"]).count()
    theirs = world["other"].flows.get()
    response = page.goto(f"/integrations/flow/{theirs.pk}/change/")
    assert response.status == 404 or "doesn’t exist" in page.content()

