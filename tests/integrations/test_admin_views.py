"""The flow's coverage and preview pages in the admin, and their commands, over real HTTP against the sandbox.

The sandbox's seeded world (sandbox/catalog.py) has an Expensify category "Gifts" with no GL
code in every policy (and no rule for it), a closed business unit 900 whose accounts are all
inactive, and a non-posting account 300.6900; the demo rules route policies to business units
and cost center tags to subsidiaries (integrations/demo.py).
"""

import json
from decimal import Decimal
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from integrations.demo import add_rule
from integrations.models import Batch
from tests.flows.conftest import control, make_flow

POLICIES = ("HQ", "Field Sales", "Engineering EU")


# -- helpers ---------------------------------------------------------------------------------


def coverage_url(flow):
    return reverse("admin:integrations_flow_coverage", args=[flow.pk])


def preview_url(flow):
    return reverse("admin:integrations_flow_preview", args=[flow.pk])


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def approved_reports(box):
    return control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})


def categories(report):
    return {t["category"] for t in report["transactions"]}


def clean_report(box):
    """An approved report that maps and validates: no Gifts, and not Engineering EU Entertainment (300.6900 is
    non-posting)."""
    for report in approved_reports(box):
        if "Gifts" in categories(report):
            continue
        if report["policyName"] == "Engineering EU" and "Entertainment" in categories(report):
            continue
        return report
    raise AssertionError("the seeded sandbox has no clean approved report")


def gifts_report(box):
    return next(r for r in approved_reports(box) if "Gifts" in categories(r))


def jde_orchestrator_calls(box):
    calls = control(box, "GET", "calls").get("jde", {})
    return sum(n for endpoint, n in calls.items() if endpoint.startswith("orchestrator"))


def gap_rows(response):
    return [row["group"] for row in response.context["rows"]]


@pytest.fixture
def flow(box, db):
    return make_flow(box)


@pytest.fixture
def finance(flow, make_customer):
    """A customer finance user of the flow's tenant, logged in."""
    return client_for(make_customer(flow.tenant, username="fin"))


# -- coverage ---------------------------------------------------------------------------------


def test_coverage_lists_gifts_unmapped_in_each_policy_and_the_inactive_target(box, flow, finance):
    rule = add_rule(flow, match={"policy": "Field Sales", "category": "Meals"}, target={"business_unit": "900"})

    response = finance.get(coverage_url(flow))

    assert response.status_code == 200
    groups = gap_rows(response)
    gifts = {g.source["policy"]: g for g in groups if g.source.get("category") == "Gifts"}
    assert set(gifts) == set(POLICIES)
    for policy, group in gifts.items():
        assert (group.reason, group.field, group.value) == ("unmapped", "object", None)
        assert group.has_plain and len(group.tag_variants) == 6  # 3 cost centers + 3 projects
        assert f'policy "{policy}"' in group.message and 'category "Gifts"' in group.message
    inactive = [g for g in groups if g.reason == "inactive"]
    assert {g.value for g in inactive} >= {"900.6110", "900.6110.CC10"}
    plain = next(g for g in inactive if g.value == "900.6110")
    assert plain.source == {"policy": "Field Sales", "category": "Meals"} and plain.field == "account"
    assert rule.pk in plain.rule_ids
    assert "900.6110 is inactive" in plain.message

    html = response.content.decode()
    count = len(response.context["gaps"])
    assert count == sum(len(g.gaps) for g in groups) and f"{count} gaps" in html
    assert reverse("admin:mappings_mappingrule_change", args=[rule.pk]) in html
    # the "add a rule" link is pre-filled with the flow and the source values
    hq = next(row for row in response.context["rows"] if row["group"] is gifts["HQ"])
    url = urlsplit(hq["add_url"])
    assert url.path == reverse("admin:mappings_mappingrule_add")
    query = parse_qs(url.query)
    assert query["category"] == ["Gifts"] and query["policy"] == ["HQ"] and query["flow"] == [str(flow.pk)]
    form = finance.get(hq["add_url"]).context["adminform"].form
    assert form.initial["category"] == "Gifts" and form.initial["policy"] == "HQ"


def test_a_rule_for_gifts_closes_the_gap_and_a_fully_mapped_flow_says_so(box, flow, finance):
    before = gap_rows(finance.get(coverage_url(flow)))
    assert any(g.source.get("category") == "Gifts" for g in before)
    assert any(g.reason == "non-posting" and g.value == "300.6900" for g in before)

    add_rule(flow, match={"category": "Gifts"}, target={"object": "6900"})
    after = gap_rows(finance.get(coverage_url(flow)))
    assert not any(g.source.get("category") == "Gifts" and g.reason == "unmapped" for g in after)
    # ... but in Engineering EU it now lands on the non-posting 300.6900, like Entertainment does
    assert {g.source["category"] for g in after if g.value == "300.6900"} == {"Gifts", "Entertainment"}

    add_rule(flow, match={"policy": "Engineering EU"}, target={"subsidiary": "CC10"})  # a default cost center
    done = finance.get(coverage_url(flow))
    assert done.context["gaps"] == []
    assert "All source values in use are mapped" in done.content.decode()


def test_coverage_shows_a_target_error_with_system_and_code_not_a_500(box, flow, finance):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "tokenrequest", "action": "status", "status": 405})
    response = finance.get(coverage_url(flow))
    assert response.status_code == 200
    [message] = messages_of(response)
    assert "JD Edwards" in message and "JDE-405-ALLOWED-HOSTS" in message
    assert response.context["failed"] and "could not finish" in response.content.decode()


# -- preview ----------------------------------------------------------------------------------


def test_preview_of_an_approved_report_shows_the_balanced_document_and_posts_nothing(box, flow, finance):
    report = clean_report(box)
    control(box, "DELETE", "calls")

    response = finance.get(preview_url(flow), {"record": report["reportID"]})

    assert response.status_code == 200
    [result] = response.context["results"]
    assert result["ok"], result.get("hold")
    exponent = 0 if report["currency"] == "JPY" else 2
    total = Decimal(report["total"]).scaleb(-exponent)
    expense = [ln for ln in result["rows"] if not ln["balancing"]]
    balancing = [ln for ln in result["rows"] if ln["balancing"]]
    assert len(expense) == len(report["transactions"])
    assert sum(ln["amount"] for ln in expense) == total
    assert balancing and sum(ln["amount"] for ln in balancing) == -total
    assert {ln["account"] for ln in balancing} <= {"100.2100", "100.2150"}
    assert result["debit_total"] == result["credit_total"] == total and result["balance"] == 0
    assert result["currency"] == report["currency"] and result["external_ref"] == f"EXP-{report['reportID']}"
    document = json.loads(result["document_json"])
    assert document["BatchReference"] == f"EXP-{report['reportID']}" and document["Currency"] == report["currency"]
    assert [ln["Account"] for ln in document["Lines"]] == [ln["account"] for ln in result["rows"]]
    html = response.content.decode()
    assert "balancing line" in html and f"EXP-{report['reportID']}" in html
    # nothing posted, stored or marked
    assert jde_orchestrator_calls(box) == 0
    assert control(box, "GET", "jde/F0911Z1") == []
    assert not Batch.objects.exists()
    assert next(r for r in approved_reports(box) if r["reportID"] == report["reportID"])["labels"] == report["labels"]


def test_preview_of_a_report_with_gifts_shows_the_hold(box, flow, finance):
    report = gifts_report(box)
    response = finance.get(preview_url(flow), {"record": report["reportID"]})
    [result] = response.context["results"]
    assert not result["ok"]
    assert result["hold"]["code"] == "MAP-UNMAPPED-CATEGORY"
    assert 'unmapped category "Gifts"' in result["hold"]["message"] and result["hold"]["help"]
    html = response.content.decode()
    assert "MAP-UNMAPPED-CATEGORY" in html and "How to fix" in html
    assert jde_orchestrator_calls(box) == 0 and not Batch.objects.exists()


def test_preview_of_the_next_records(box, flow, finance):
    response = finance.get(preview_url(flow), {"limit": 3})
    results = response.context["results"]
    assert len(results) == 3
    assert all(r["ok"] or r["hold"]["code"] for r in results)
    assert jde_orchestrator_calls(box) == 0 and not Batch.objects.exists()


def test_preview_form_alone_runs_nothing(box, flow, finance):
    control(box, "DELETE", "calls")
    response = finance.get(preview_url(flow))
    assert response.status_code == 200 and not response.context["ran"]
    assert "Expensify report ID" in response.content.decode()
    assert control(box, "GET", "calls") in ({}, {"expensify": {}, "jde": {}})


def test_preview_shows_a_source_error_with_system_and_code(box, flow, finance):
    control(box, "POST", "faults", json={"system": "expensify", "endpoint": "*", "action": "status", "status": 401})
    response = finance.get(preview_url(flow), {"record": "R00000001"})
    assert response.status_code == 200
    [message] = messages_of(response)
    assert "Expensify" in message and "EXPENSIFY-AUTH" in message


# -- access, links, actions -------------------------------------------------------------------


def test_customer_of_another_tenant_gets_404(box, flow, make_customer, other_tenant):
    stranger = client_for(make_customer(other_tenant, username="stranger"))
    control(box, "DELETE", "calls")
    assert stranger.get(coverage_url(flow)).status_code == 404
    assert stranger.get(preview_url(flow), {"record": "1"}).status_code == 404
    assert control(box, "GET", "calls") in ({}, {"expensify": {}, "jde": {}})  # nothing was asked of the systems


def test_anonymous_is_sent_to_login(flow):
    response = Client().get(coverage_url(flow))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_change_page_links_both_and_the_actions_open_them(box, flow, finance):
    html = finance.get(reverse("admin:integrations_flow_change", args=[flow.pk])).content.decode()
    assert coverage_url(flow) in html and preview_url(flow) in html
    changelist = reverse("admin:integrations_flow_changelist")
    for action, url in (("check_mapping_coverage", coverage_url(flow)), ("preview_documents", preview_url(flow))):
        response = finance.post(changelist, {"action": action, "_selected_action": [flow.pk]})
        assert response.status_code == 302 and response["Location"] == url


# -- the commands -----------------------------------------------------------------------------


def test_mapping_coverage_command_lists_gaps_and_exits_1(box, flow):
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("mapping_coverage", str(flow.pk), stdout=out)
    assert exit_.value.code == 1
    text = out.getvalue()
    for policy in POLICIES:
        assert f'[unmapped] policy "{policy}", category "Gifts"' in text
    assert "gap(s) in the mappings of Expenses to JDE" in text

    add_rule(flow, match={"category": "Gifts"}, target={"object": "6900"})
    add_rule(flow, match={"policy": "Engineering EU"}, target={"subsidiary": "CC10"})
    out = StringIO()
    call_command("mapping_coverage", str(flow.pk), stdout=out)  # no SystemExit: exit code 0
    assert "All source values in use are mapped" in out.getvalue()


def test_mapping_coverage_command_reports_a_system_error(box, flow):
    control(box, "POST", "faults", json={"system": "jde", "endpoint": "tokenrequest", "action": "status", "status": 405})
    with pytest.raises(CommandError) as error:
        call_command("mapping_coverage", str(flow.pk), stdout=StringIO())
    assert error.value.returncode == 2
    assert "JD Edwards" in str(error.value) and "JDE-405-ALLOWED-HOSTS" in str(error.value)


def test_sync_dry_run_prints_the_document_and_posts_nothing(box, flow):
    report = clean_report(box)
    control(box, "DELETE", "calls")
    out = StringIO()
    call_command("sync", str(flow.pk), "--dry-run", "--record", str(report["reportID"]), stdout=out)
    [result] = json.loads(out.getvalue())
    assert result["ok"] and result["source_id"] == str(report["reportID"])
    document = result["document"]
    assert document["BatchReference"] == f"EXP-{report['reportID']}"
    amounts = [Decimal(ln["Amount"]) for ln in document["Lines"]]
    assert sum(amounts) == 0 and sum(a for a in amounts if a > 0) == Decimal(result["debit_total"])
    assert jde_orchestrator_calls(box) == 0
    assert control(box, "GET", "jde/F0911Z1") == []
    assert not Batch.objects.exists()


def test_sync_dry_run_shows_the_hold(box, flow):
    out = StringIO()
    call_command("sync", str(flow.pk), "--dry-run", "--record", str(gifts_report(box)["reportID"]), stdout=out)
    [result] = json.loads(out.getvalue())
    assert not result["ok"] and result["hold"]["code"] == "MAP-UNMAPPED-CATEGORY"
