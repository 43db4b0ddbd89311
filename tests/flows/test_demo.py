"""`manage.py demo --once`: one JSON object on stdout, and a second run posts nothing new."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from integrations.models import Batch


def run_demo():
    out, err = StringIO(), StringIO()
    call_command("demo", "--once", stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_once_reports_every_flow_and_a_second_run_posts_nothing():
    first, progress = run_demo()
    stats = first["flows"]["expensify_to_jde"]
    assert set(stats) == {"fetched", "posted", "held", "skipped", "failed", "amount_posted"}
    assert stats["posted"] > 0 and stats["fetched"] == stats["posted"] + stats["held"]
    assert "cycle finished" in progress  # progress went to stderr, not into the JSON
    posted = Batch.objects.filter(state__in=["posted", "confirmed"])
    total = sum(b.amount for b in posted)
    assert total == sum(Decimal(v) for v in stats["amount_posted"].values())

    second, _ = run_demo()
    assert second["flows"]["expensify_to_jde"]["posted"] == 0
    assert Batch.objects.filter(state__in=["posted", "confirmed"]).count() == posted.count()
