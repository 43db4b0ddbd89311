"""A held batch explains itself (line, field, source values) and offers the actions its state allows;
money at the currency's precision; action messages count right; no raw JSON in front of finance users."""

import re
from decimal import Decimal

import pytest

from audit.models import AuditEntry
from integrations.demo import add_rule
from integrations.models import Batch, BatchState
from tests.factories import make_audit_entry, make_batch, make_cycle, make_flow

S = BatchState
BATCHES = "/integrations/batch/"


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    # Not tasks.queue_cycle: a module first imported during the test (the URLconf's API views) would keep the fake.
    monkeypatch.setattr("integrations.operations._queue", lambda flows: None)


def report(*expenses):
    return {
        "reportID": "R77",
        "currency": "USD",
        "total": sum(e["convertedAmount"] for e in expenses),
        "policyName": "HQ",
        "accountEmail": "ann@acme.example",
        "transactions": list(expenses),
    }


def expense(tid, category, cents, gl=""):
    return {
        "transactionID": tid,
        "category": category,
        "merchant": f"{category} shop",
        "convertedAmount": cents,
        "categoryGlCode": gl,
        "reimbursable": True,
        "tag": "",
    }


@pytest.fixture
def flow(tenant):
    flow = make_flow(tenant, name="Expenses to JDE")
    add_rule(flow, match={"policy": "HQ"}, target={"business_unit": "100"})
    return flow


def held(flow, payload, code, message, **fields):
    return make_batch(
        flow.tenant, flow=flow, state=S.HELD, payload=payload, posting={}, error_code=code, last_error=message, **fields
    )


def page(client, batch):
    response = client.get(BATCHES + f"{batch.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_held_batch_names_the_failing_line_and_field_with_source_values(support_client, flow):
    payload = report(expense("T-OK", "Travel", 12000, gl="6120"), expense("T-BAD", "Team lunch", 4550))
    batch = held(flow, payload, "MAP-UNMAPPED-CATEGORY", 'unmapped category "Team lunch" in policy "HQ"')
    html = page(support_client, batch)
    assert "1 of 2 line(s) at fault: line T-BAD (category &quot;Team lunch&quot;)" in html
    assert "<td><strong>Team lunch</strong></td>" in html  # the field at fault, with its source value
    assert "100.6120" in html  # the good line maps to JD Edwards' BU.OBJECT
    assert '<tr class="problem"><td>T-BAD</td>' in html
    # the fix is one click away: a rule pre-filled with the flow and the value at fault
    add = re.search(r'<a href="(/mappings/mappingrule/add/\?[^"]+)">Add a mapping rule for category', html).group(1)
    form = support_client.get(add.replace("&amp;", "&")).content.decode()
    assert 'value="Team lunch"' in form



def test_the_rule_added_from_a_held_batch_comes_back_to_the_batch_and_only_to_this_site(support_client, flow):
    batch = held(flow, report(expense("T-BAD", "Team lunch", 4550)), "MAP-UNMAPPED-CATEGORY", 'unmapped category "Team lunch"')
    add = re.search(r'<a href="(/mappings/mappingrule/add/\?[^"]+)">Add a mapping rule for category', page(support_client, batch))
    url = add.group(1).replace("&amp;", "&")
    assert f"next=%2Fintegrations%2Fbatch%2F{batch.pk}%2Fchange%2F" in url
    form = support_client.get(url).content.decode()  # support's form has the tenant pre-filled as well
    assert f'<option value="{flow.tenant_id}" selected>' in form and f'<option value="{flow.pk}" selected>' in form
    rule = {"tenant": flow.tenant_id, "flow": flow.pk, "category": "Team lunch", "target_object": "6110", "active": "on",
            "_save": "Save"}
    response = support_client.post(url, rule)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response.url == BATCHES + f"{batch.pk}/change/"
    elsewhere = url.split("next=")[0] + "next=https%3A%2F%2Fevil.example%2F"
    response = support_client.post(elsewhere, {**rule, "category": "Team dinner"})
    assert response.status_code == 302 and response.url.startswith("/mappings/mappingrule/")

def test_target_check_hold_points_at_the_line_mapping_to_the_refused_account(support_client, flow):
    payload = report(expense("T-1", "Travel", 12000, gl="6120"), expense("T-2", "Hotel", 9000, gl="6999"))
    batch = held(flow, payload, "JDE-ACCOUNT-UNKNOWN", "account 100.6999 is not in F0901")
    html = page(support_client, batch)
    assert "1 of 2 line(s) at fault: line T-2 (account" not in html  # account is not a source field
    assert "1 of 2 line(s) at fault: line T-2" in html


def test_customer_gets_retry_release_skip_buttons_and_no_support_actions(customer_client, support_client, flow):
    batch = held(flow, report(expense("T", "Meals", 100)), "RECON-MISMATCH", "the target holds a different journal")
    html = page(customer_client, batch)
    assert ">Retry</button>" in html and ">Release</button>" in html and ">Skip (never post)</button>" in html
    assert "Accept correction" not in html and ">Hold</button>" not in html  # hold: not from HELD
    assert ">Accept correction</button>" in page(support_client, batch)
    url = BATCHES + f"{batch.pk}/act/accept/"
    assert customer_client.post(url).status_code == 403
    batch.refresh_from_db()
    assert batch.state == S.HELD


def test_customer_releases_own_held_batch_with_a_button(customer_client, flow):
    batch = held(flow, report(expense("T", "Meals", 100)), "MAP-UNMAPPED-CATEGORY", "unmapped")
    response = customer_client.post(BATCHES + f"{batch.pk}/act/release/", follow=True)
    batch.refresh_from_db()
    assert batch.state == S.NEW and batch.error_code == ""
    assert "1 batch(es) released." in [str(m) for m in response.context["messages"]]
    assert AuditEntry.objects.get(event="batch.released").actor == "carla"


def test_customer_cannot_act_on_another_tenants_batch(customer_client, other_tenant):
    theirs = make_batch(other_tenant, state=S.HELD)
    assert customer_client.post(BATCHES + f"{theirs.pk}/act/retry/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == S.HELD


def test_support_forces_a_failed_batch_and_accepts_a_correction(support_client, flow):
    failed = make_batch(flow.tenant, flow=flow, state=S.FAILED)
    assert ">Force: post now</button>" in page(support_client, failed)
    support_client.post(BATCHES + f"{failed.pk}/act/force/")
    failed.refresh_from_db()
    assert failed.state == S.READY
    correction = held(
        flow,
        {"reportID": "1"},
        "SRC-CHANGED-AFTER-POST",
        "changed after posting",
        correction_payload={"reportID": "1", "total": 5},
    )
    support_client.post(BATCHES + f"{correction.pk}/act/accept/")
    correction.refresh_from_db()
    assert correction.state == S.POSTED


def test_messages_count_right_on_a_list_filtered_by_state(support_client, flow):
    held_ones = [make_batch(flow.tenant, flow=flow, state=S.HELD) for _ in range(2)]
    posted = make_batch(flow.tenant, flow=flow, state=S.POSTED)
    response = support_client.post(
        BATCHES + "?state__exact=held", {"action": "retry", "_selected_action": [b.pk for b in held_ones]}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["2 batch(es) queued for retry."]
    response = support_client.post(BATCHES, {"action": "release", "_selected_action": [held_ones[0].pk, posted.pk]}, follow=True)
    texts = [str(m) for m in response.context["messages"]]
    assert texts == ["0 batch(es) released. 2 not in a state that allows it."] or texts == [
        "1 batch(es) released. 1 not in a state that allows it."
    ]
    assert not any("-" in t.split()[0] for t in texts)


def test_customer_has_no_force_or_accept_in_bulk_actions(customer_client, support_client, flow):
    make_batch(flow.tenant, flow=flow)
    html = customer_client.get(BATCHES).content.decode()
    assert 'value="retry"' in html and 'value="force"' not in html and 'value="accept_corrections_action"' not in html
    assert 'value="accept_corrections_action"' in support_client.get(BATCHES).content.decode()


def test_list_money_at_currency_precision_and_short_problem_column(support_client, flow):
    make_batch(flow.tenant, flow=flow, state=S.POSTED, amount=Decimal("85.2800"), currency="USD", error_code="", source_id="USD1")
    make_batch(flow.tenant, flow=flow, state=S.POSTED, amount=Decimal("1500.0000"), currency="JPY", source_id="JPY1")
    long = "unmapped category " + "x" * 200
    make_batch(flow.tenant, flow=flow, state=S.HELD, last_error=long)
    html = support_client.get(BATCHES).content.decode()
    assert "85.28 USD" in html and "85.2800" not in html
    assert "1,500 JPY" in html
    assert f'title="[MAP-UNMAPPED-CATEGORY] {long}"' in html  # full text on hover, short in the column
    assert re.search(r'column-problem">\s*<div class="text"><a href="\?o=\d+">Problem</a>', html)  # headed Problem


def test_posted_batch_reads_as_tables_with_json_only_behind_a_toggle(support_client, flow):
    batch = make_batch(flow.tenant, flow=flow, state=S.POSTED, payload={"reportID": "R9", "reportName": "Trip"})
    html = page(support_client, batch)
    assert "<th>debit</th>" in html and "100.6110" in html and "100.2100" in html
    assert "Trip" in html
    before_details = html.split("<details")[0]
    assert "<pre" not in before_details.split('id="content"')[-1]
    assert "technical details" in html


def test_cycle_counts_and_failure_reason_read_in_plain_words(support_client, tenant):
    cycle = make_cycle(
        tenant,
        state="failed",
        progress="finished",
        message="JD Edwards refused the login\ntrace...",
        counts={"fetched": 10, "posted": 8, "held": 2},
    )
    listing = support_client.get("/integrations/synccycle/").content.decode()
    assert "failed: JD Edwards refused the login" in listing
    assert ">finished<" not in listing
    detail = support_client.get(f"/integrations/synccycle/{cycle.pk}/change/").content.decode()
    assert "<th>fetched</th>" in detail and "<td>10</td>" in detail
    flow_page = support_client.get(f"/integrations/flow/{cycle.flow_id}/change/").content.decode()
    assert "failed: JD Edwards refused the login" in flow_page


def test_audit_before_after_as_labelled_values(support_client, tenant):
    entry = make_audit_entry(tenant, before={"state": "held", "error_code": "X-1"}, after={"state": "new"})
    html = support_client.get(f"/audit/auditentry/{entry.pk}/change/").content.decode()
    assert "<th scope='row'>error code</th><td>X-1</td>" in html or '<th scope="row">error code</th><td>X-1</td>' in html
    assert Batch.objects.count() == 0
