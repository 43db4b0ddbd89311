"""Mapping coverage and dry run of every Procurify <-> JD Edwards flow, through the management commands,
over real HTTP: they report and preview, and write nothing anywhere."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from integrations.models import Batch
from integrations.systems.jde import clear_token_cache as clear_jde_tokens
from integrations.systems.procurify import clear_token_cache as clear_procurify_tokens
from sandbox.procurify_data import MISSING_IN_JDE

from .conftest import control
from .test_procurify_cadence import all_directions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_jde_tokens(), clear_procurify_tokens()
    yield
    clear_jde_tokens(), clear_procurify_tokens()


def command(*args):
    out = StringIO()
    try:
        call_command(*args, stdout=out, stderr=StringIO())
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def writes(box):
    calls = control(box, "GET", "calls")
    return calls.get("jde", {}).get("orchestrator", 0) + sum(
        n for name, n in calls.get("procurify", {}).items() if name.endswith((":create", ":update")))


def test_coverage_of_the_bills_names_the_missing_account_and_writes_nothing(box, db):
    bills = all_directions(box)[0]
    code, out = command("mapping_coverage", str(bills.pk), "--json")
    gaps = json.loads(out)
    assert code == 1 and {"source": {"account_code": MISSING_IN_JDE}, "field": "account", "value": MISSING_IN_JDE,
                          "reason": "unknown", "message": f"account {MISSING_IN_JDE} not found in F0901",
                          "rule_ids": []} in gaps
    assert writes(box) == 0 and not Batch.objects.exists()


def test_every_procurify_flow_has_coverage_and_a_dry_run_that_writes_nothing(box, db):
    for flow in all_directions(box):
        code, out = command("mapping_coverage", str(flow.pk))
        assert code in (0, 1) and flow.name in out, (flow.options, out)
        code, out = command("sync", str(flow.pk), "--dry-run", "--limit", "3")
        previews = json.loads(out)
        assert code == 0 and previews and all("ok" in p for p in previews), (flow.options, out[:500])
    assert writes(box) == 0 and not Batch.objects.exists()
