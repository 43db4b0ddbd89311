"""The coverage and preview (dry run) pages, and mapping_coverage, for an Expensify -> IFS Cloud flow.

The IFS sandbox (sandbox/ifs_data.py) has account 6990 inactive and cost center CC90 expired; the
demo's IFS rules map cost center tags to code part B and project tags to code part C; the account
(code part A) falls back to each category's GL code, and "Gifts" has none.
"""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from integrations.demo import add_rule
from integrations.models import Batch
from integrations.systems.ifs import clear_token_cache
from tests.flows.conftest import control, make_flow

from .test_admin_views import approved_reports, categories, client_for, gap_rows, gifts_report

POLICIES = ("HQ", "Field Sales", "Engineering EU")


@pytest.fixture
def flow(box, db):
    clear_token_cache()
    return make_flow(box, kind="expensify_to_ifs")


@pytest.fixture
def finance(flow, make_customer):
    return client_for(make_customer(flow.tenant, username="fin"))


def ifs_writes(box):
    return control(box, "GET", "calls").get("ifs", {}).get("action:VoucherTemplate_CreateVoucher", 0)


def test_coverage_lists_gifts_without_an_account_and_an_inactive_code_part(box, flow, finance):
    from mappings.reference import refresh_reference

    rule = add_rule(flow, match={"policy": "HQ", "category": "Meals"}, target={"ifs_code_b": "CC30"})
    control(box, "POST", "ifs/code-parts", json={"part": "B", "value": "CC30", "active": False})
    refresh_reference(flow.target)
    response = finance.get(reverse("admin:integrations_flow_coverage", args=[flow.pk]))
    assert response.status_code == 200
    groups = gap_rows(response)
    gifts = {g.source["policy"]: g for g in groups if g.source.get("category") == "Gifts" and g.reason == "unmapped"}
    assert set(gifts) == set(POLICIES)
    assert all((g.field, g.value) == ("ifs_code_a", None) for g in gifts.values())
    inactive = [g for g in groups if g.reason == "inactive"]
    assert any(g.value == "CC30" and g.field == "ifs_code_b" and rule.pk in g.rule_ids for g in inactive)


def test_preview_shows_the_voucher_exactly_as_it_would_be_sent_and_writes_nothing(box, flow, finance):
    report = next(r for r in approved_reports(box) if "Gifts" not in categories(r))
    response = finance.get(reverse("admin:integrations_flow_preview", args=[flow.pk]), {"record": report["reportID"]})
    [result] = response.context["results"]
    assert result["ok"], result.get("hold")
    document = json.loads(result["document_json"])
    assert document["ReferenceNumber"] == f"EXP-{report['reportID']}" and document["CurrencyCode"] == report["currency"]
    assert document["template"] == "MLC-ACCRUAL" and document["projection"] == "VoucherEntryHandling"
    debits = sum(Decimal(r.get("CurrencyDebitAmount") or 0) for r in document["Rows"])
    credits = sum(Decimal(r.get("CurrencyCreditAmount") or 0) for r in document["Rows"])
    exponent = 0 if report["currency"] == "JPY" else 2
    assert debits == credits == Decimal(report["total"]).scaleb(-exponent)
    assert ifs_writes(box) == 0 and control(box, "GET", "ifs/vouchers") == [] and not Batch.objects.exists()


def test_preview_of_gifts_shows_the_hold_and_a_missing_value_the_wait(box, flow, finance):
    url = reverse("admin:integrations_flow_preview", args=[flow.pk])
    gifts = gifts_report(box)
    [held] = finance.get(url, {"record": gifts["reportID"]}).context["results"]
    assert held["hold"]["code"] == "MAP-UNMAPPED-CATEGORY"
    control(box, "DELETE", "ifs/code-parts/B/CC10")
    tagged = next(r for r in approved_reports(box) if "Gifts" not in categories(r)
                  and any((t.get("tag") or "").startswith("CC10") for t in r["transactions"]))
    [waiting] = finance.get(url, {"record": tagged["reportID"]}).context["results"]
    assert waiting["hold"]["code"] == "IFS-CODE-PART-MISSING"
    assert "waiting for code part B (Cost Center) value CC10" in waiting["hold"]["message"]


# A cycle posts from several threads, each on its own connection: they must see committed rows.
@pytest.mark.django_db(transaction=True)
def test_a_preview_never_moves_a_waiting_batch(box, flow, finance):
    from integrations.engine import run_cycle

    control(box, "DELETE", "ifs/code-parts/B/CC20")
    run_cycle(flow)
    waiting = set(Batch.objects.filter(error_code="IFS-CODE-PART-MISSING").values_list("pk", flat=True))
    assert waiting
    control(box, "POST", "ifs/code-parts", json={"part": "B", "value": "CC20"})
    finance.get(reverse("admin:integrations_flow_preview", args=[flow.pk]), {"limit": 3})
    assert set(Batch.objects.filter(error_code="IFS-CODE-PART-MISSING").values_list("pk", flat=True)) == waiting


def test_mapping_coverage_command_for_the_ifs_flow(box, flow):
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("mapping_coverage", str(flow.pk), stdout=out)
    assert exit_.value.code == 1
    text = out.getvalue()
    assert 'category "Gifts": no mapping rule sets IFS code part A (account) (ifs_code_a)' in text
    add_rule(flow, match={"category": "Gifts"}, target={"ifs_code_a": "6900"})
    out = StringIO()
    call_command("mapping_coverage", str(flow.pk), stdout=out)
    assert "All source values in use are mapped" in out.getvalue()
