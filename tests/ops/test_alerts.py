"""Tenant alert e-mails: one held/failed digest per quiet period with scoped links, one recovery mail per failure."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from audit import log as audit
from audit.alerts import held_digest
from integrations.models import BatchState, SyncCycle
from integrations.ops.alerts import send_all, send_digests, send_recoveries
from tests.factories import make_batch, make_cycle, make_flow

S = BatchState
LATER = timedelta(minutes=61)  # past the default ALERT_QUIET_MINUTES (60)


@pytest.fixture
def flows(tenant, other_tenant, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.com"
    settings.ALERT_QUIET_MINUTES = 60
    tenant.alert_emails = "finance@acme.example"
    tenant.save()
    other_tenant.alert_emails = "ap@globex.example"
    other_tenant.save()
    return make_flow(tenant, name="Acme expenses"), make_flow(other_tenant, name="Globex expenses")


def mails_to(address):
    return [m for m in mail.outbox if address in m.to]


def test_one_digest_per_tenant_with_links_to_its_own_filtered_lists(flows):
    mine, theirs = flows
    for _ in range(3):
        make_batch(mine.tenant, flow=mine, state=S.HELD)
    make_batch(mine.tenant, flow=mine, state=S.FAILED, error_code="JDE-TIMEOUT")
    make_batch(theirs.tenant, flow=theirs, state=S.HELD, error_code="GLOBEX-CODE")
    assert send_digests() == 2
    (acme,) = mails_to("finance@acme.example")
    assert "3 held, 1 failed" in acme.subject
    assert f"https://portal.example.com/integrations/batch/?flow__id__exact={mine.pk}&state__exact=held" in acme.body
    assert f"flow__id__exact={mine.pk}&state__exact=failed" in acme.body
    assert "MAP-UNMAPPED-CATEGORY x3" in acme.body and "JDE-TIMEOUT x1" in acme.body
    assert f"flow__id__exact={theirs.pk}" not in acme.body and "Globex" not in acme.body and "GLOBEX-CODE" not in acme.body
    (globex,) = mails_to("ap@globex.example")
    assert f"flow__id__exact={theirs.pk}" in globex.body and "Acme" not in globex.body


def test_at_most_one_digest_per_quiet_period_however_many_cycles(flows):
    mine, _ = flows
    make_batch(mine.tenant, flow=mine, state=S.HELD)
    assert send_digests() == 1
    for _ in range(5):  # every cycle holds one more; the alert task runs after each
        make_batch(mine.tenant, flow=mine, state=S.HELD)
        send_digests()
    assert len(mails_to("finance@acme.example")) == 1
    assert send_digests(now=timezone.now() + LATER) == 1  # the next period: one more, with all six
    assert "6 held" in mails_to("finance@acme.example")[-1].subject


def test_nothing_new_no_reminder_and_no_mail_without_problems(flows):
    mine, _ = flows
    assert send_digests() == 0  # no problems at all
    make_batch(mine.tenant, flow=mine, state=S.HELD)
    assert send_digests() == 1
    assert send_digests(now=timezone.now() + LATER) == 0  # the same held batch is not mailed every hour
    assert len(mail.outbox) == 1


def test_a_failed_cycle_is_in_the_digest(flows):
    mine, _ = flows
    make_cycle(mine.tenant, flow=mine, state=SyncCycle.FAILED, message="JD Edwards refused the login", finished_at=timezone.now())
    assert send_digests() == 1
    body = mails_to("finance@acme.example")[0].body
    assert "last cycle failed: JD Edwards refused the login" in body
    assert f"/integrations/synccycle/?flow__id__exact={mine.pk}&state__exact=failed" in body


def test_recovery_mail_once_when_a_failing_flow_posts_again(flows):
    mine, _ = flows
    make_batch(mine.tenant, flow=mine, state=S.FAILED, error_code="JDE-TIMEOUT")
    send_digests()
    assert send_recoveries() == 0  # nothing posted since
    make_batch(mine.tenant, flow=mine, state=S.POSTED, amount=Decimal("1.00"), currency="USD",
               posted_at=timezone.now() + timedelta(seconds=1))
    assert send_recoveries() == 1
    assert send_recoveries() == 0 and send_recoveries() == 0
    recovery = [m for m in mail.outbox if "posts again" in m.subject]
    assert len(recovery) == 1 and recovery[0].to == ["finance@acme.example"]
    assert f"flow__id__exact={mine.pk}&state__exact=posted" in recovery[0].body


def test_recovery_after_a_connection_outage(flows):
    mine, _ = flows
    audit.record(mine.tenant_id, "alert.outage", flow_id=mine.pk, message="outage alert sent: [JDE-AUTH]")  # engine.outage
    make_batch(mine.tenant, flow=mine, state=S.POSTED, posted_at=timezone.now() + timedelta(seconds=1))
    assert send_all() == (0, 1)
    assert "Acme expenses posts again" in mail.outbox[0].subject


def test_per_cycle_held_digest_can_be_folded_into_the_tenant_digest(flows, settings):
    mine, _ = flows
    batch = make_batch(mine.tenant, flow=mine, state=S.HELD)
    settings.ALERT_HELD_PER_CYCLE = False
    assert held_digest(mine.tenant, mine, [batch]) == 0 and mail.outbox == []
    settings.ALERT_HELD_PER_CYCLE = True
    assert held_digest(mine.tenant, mine, [batch]) == 1


def test_command_sends_and_installs_a_schedule(flows):
    from django_q.models import Schedule

    mine, _ = flows
    make_batch(mine.tenant, flow=mine, state=S.HELD)
    call_command("send_alerts")
    assert len(mail.outbox) == 1
    call_command("send_alerts", "--schedule", "--minutes", "10")
    call_command("send_alerts", "--schedule")
    (schedule,) = Schedule.objects.filter(func="integrations.ops.alerts.send_all")
    assert schedule.minutes == 5
