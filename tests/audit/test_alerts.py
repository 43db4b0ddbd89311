from types import SimpleNamespace

import pytest
from django.core import mail

from audit.alerts import MAX_LISTED, held_digest


def held(n, code="MAP-UNMAPPED-CATEGORY"):
    return [SimpleNamespace(source_kind="expensify_report", source_id=str(1000 + i), error_code=code,
                            last_error=f"problem {i}", error_help=f"fix for {code}") for i in range(n)]


@pytest.fixture
def flow():
    tenant = SimpleNamespace(alert_email_list=["a@x.example", "b@x.example"])
    return SimpleNamespace(tenant=tenant, name="Expenses", get_kind_display=lambda: "Expensify -> JDE")


def test_one_message_for_many_held_batches_with_counts_and_a_cap(flow):
    batches = held(MAX_LISTED + 10) + held(2, code="JDE-ACCOUNT-INACTIVE")
    assert held_digest(flow.tenant, flow, batches) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["a@x.example", "b@x.example"]
    assert "62 batches held" in message.subject
    assert f"MAP-UNMAPPED-CATEGORY x{MAX_LISTED + 10}" in message.body and "JDE-ACCOUNT-INACTIVE x2" in message.body
    assert message.body.count("\n- expensify_report") == MAX_LISTED
    assert "and 12 more" in message.body
    assert message.body.count("fix for MAP-UNMAPPED-CATEGORY") == 1  # each fix once, not per batch


def test_no_mail_without_held_batches_or_addresses(flow):
    assert held_digest(flow.tenant, flow, []) == 0
    flow.tenant.alert_email_list = []
    assert held_digest(flow.tenant, flow, held(3)) == 0
    assert mail.outbox == []
