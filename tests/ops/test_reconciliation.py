"""The reconciliation report of a flow: source versus posted per currency, to the cent, with the records that explain it."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Batch, BatchState
from integrations.ops.reconciliation import build_report
from tests.factories import make_batch, make_flow

S = BatchState


def report(payload_total, currency="USD"):
    return {"reportID": "x", "total": payload_total, "currency": currency}


@pytest.fixture
def books(tenant, other_tenant):
    flow = make_flow(tenant, name="Acme expenses")
    now = timezone.now()
    make_batch(tenant, flow=flow, state=S.POSTED, amount=Decimal("85.28"), currency="USD", posted_at=now)
    make_batch(tenant, flow=flow, state=S.CONFIRMED, amount=Decimal("14.72"), currency="USD", posted_at=now)
    make_batch(tenant, flow=flow, state=S.POSTED, amount=Decimal("10.00"), currency="EUR", posted_at=now)
    # held at intake: no amount on the batch, read from the payload (Expensify minor units)
    make_batch(tenant, flow=flow, state=S.HELD, source_id="R-HELD", payload=report(3333), currency="USD")
    make_batch(
        tenant,
        flow=flow,
        state=S.IN_DOUBT,
        source_id="R-DOUBT",
        amount=Decimal("0.01"),
        currency="USD",
        payload=report(1),
        error_code="",
        last_error="",
    )
    # posted 20.00, then the source changed it to 25.50
    make_batch(
        tenant,
        flow=flow,
        state=S.HELD,
        source_id="R-CHANGED",
        amount=Decimal("20.00"),
        currency="USD",
        payload=report(2000),
        correction_payload=report(2550),
        posted_at=now,
        target_document_id="JE 4711",
        error_code="SRC-CHANGED-AFTER-POST",
    )
    # a cell that would run as a formula in a spreadsheet
    make_batch(
        tenant,
        flow=flow,
        state=S.SKIPPED,
        source_id='=HYPERLINK("http://evil")',
        amount=Decimal("1.00"),
        currency="EUR",
        payload=report(100, "EUR"),
    )
    # outside the period: not counted
    old = make_batch(tenant, flow=flow, state=S.HELD, source_id="R-OLD", amount=Decimal("999"), currency="USD")
    type(old).objects.filter(pk=old.pk).update(created_at=now - timedelta(days=400))
    theirs = make_flow(other_tenant, name="Globex expenses")
    make_batch(other_tenant, flow=theirs, state=S.HELD, source_id="GLOBEX-SECRET", amount=Decimal("5"), currency="USD")
    return flow, theirs


def period():
    today = timezone.localdate()
    return today - timedelta(days=3), today


def test_totals_per_currency_to_the_cent_and_the_records_that_explain_them(books):
    flow, _ = books
    rep = build_report(flow, *period())
    usd, eur = (next(t for t in rep.totals if t.currency == c) for c in ("USD", "EUR"))
    # source: 85.28 + 14.72 + 33.33 (held) + 0.01 (in doubt) + 25.50 (the changed record's new version)
    assert usd.source_total == Decimal("158.84")
    assert usd.posted_total == Decimal("120.00")  # 85.28 + 14.72 + 20.00 (the old version is what the target has)
    assert usd.difference == Decimal("38.84")
    assert (eur.source_total, eur.posted_total, eur.difference) == (Decimal("11.00"), Decimal("10.00"), Decimal("1.00"))
    reasons = {r.batch.source_id: r for r in rep.records}
    assert set(reasons) == {"R-HELD", "R-DOUBT", "R-CHANGED", '=HYPERLINK("http://evil")'}
    assert (
        reasons["R-CHANGED"].difference == Decimal("5.50")
        and "changed at the source after posting" in reasons["R-CHANGED"].reason
    )
    assert reasons["R-HELD"].source_amount == Decimal("33.33") and reasons["R-HELD"].reason.startswith("held")
    assert "in doubt" in reasons["R-DOUBT"].reason
    # the differences of the listed records add up to the totals' differences
    assert sum(r.difference for r in rep.records) == usd.difference + eur.difference
    assert not rep.balanced


def test_page_reachable_from_the_flow_and_the_dashboard(support_client, books):
    flow, _ = books
    url = reverse("admin:integrations_flow_reconciliation", args=[flow.pk])
    assert url in support_client.get(reverse("admin:integrations_flow_change", args=[flow.pk])).content.decode()
    assert url in support_client.get("/").content.decode()
    start, end = period()
    html = support_client.get(url, {"start": start, "end": end}).content.decode()
    assert "158.84 USD" in html and "120.00 USD" in html and "38.84 USD" in html
    assert "R-CHANGED" in html and "JE 4711" in html and "R-OLD" not in html


def test_csv_has_totals_and_records_with_formulas_neutralised(support_client, books):
    flow, _ = books
    start, end = period()
    response = support_client.get(
        reverse("admin:integrations_flow_reconciliation", args=[flow.pk]), {"start": start, "end": end, "format": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    totals = {r["currency"]: r for r in rows if r["section"] == "total"}
    assert (totals["USD"]["source amount"], totals["USD"]["posted amount"], totals["USD"]["difference"]) == (
        "158.84",
        "120.00",
        "38.84",
    )
    records = {r["record"]: r for r in rows if r["section"] == "record"}
    assert records["R-CHANGED"]["difference"] == "5.50" and records["R-CHANGED"]["target document"] == "JE 4711"
    assert "'=HYPERLINK" in response.content.decode() and not any(v.startswith("=") for r in rows for v in r.values())


def test_xlsx_download(support_client, books):
    flow, _ = books
    response = support_client.get(reverse("admin:integrations_flow_reconciliation", args=[flow.pk]), {"format": "xlsx"})
    assert response.status_code == 200 and response.content[:2] == b"PK"  # a zip: an XLSX workbook


def test_customer_sees_only_their_own_flows(customer_client, books):
    flow, theirs = books
    assert customer_client.get(reverse("admin:integrations_flow_reconciliation", args=[theirs.pk])).status_code == 404
    assert (
        customer_client.get(reverse("admin:integrations_flow_reconciliation", args=[theirs.pk]), {"format": "csv"}).status_code
        == 404
    )
    html = customer_client.get(reverse("admin:integrations_flow_reconciliation", args=[flow.pk])).content.decode()
    assert "R-HELD" in html and "GLOBEX-SECRET" not in html


def test_queries_are_bounded_whatever_the_volume(support_client, books, django_assert_max_num_queries):
    flow, _ = books
    url = reverse("admin:integrations_flow_reconciliation", args=[flow.pk])
    support_client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(12):
        support_client.get(url)
    for i in range(40):
        make_batch(flow.tenant, flow=flow, state=S.HELD, source_id=f"MORE-{i}", amount=Decimal("1.10"), currency="USD")
        make_batch(flow.tenant, flow=flow, state=S.POSTED, amount=Decimal("2.20"), currency="USD", posted_at=timezone.now())
    with django_assert_max_num_queries(12):
        assert "MORE-39" in support_client.get(url).content.decode()
    with django_assert_max_num_queries(12):
        support_client.get(url, {"format": "csv"})


def test_arrival_times_read_in_the_tenant_time_zone_the_period_is_counted_in(support_client, books):
    flow, _ = books
    flow.tenant.time_zone = "America/Chicago"
    flow.tenant.save()
    record = Batch.objects.filter(flow=flow, source_id="R-CHANGED").get()
    arrived = datetime(2026, 3, 2, 3, 37, tzinfo=UTC)  # 21:37 the day before in Chicago
    Batch.objects.filter(pk=record.pk).update(created_at=arrived)
    url = reverse("admin:integrations_flow_reconciliation", args=[flow.pk])
    html = support_client.get(url, {"start": "2026-03-01", "end": "2026-03-01"}).content.decode()
    assert "2026-03-01 21:37" in html and "2026-03-02 03:37" not in html
    response = support_client.get(url, {"start": "2026-03-01", "end": "2026-03-01", "format": "csv"})
    rows = {r["record"]: r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert list(rows["R-CHANGED"].values())[-1] == "2026-03-01 21:37"
