import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from .conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def test_sync_runs_one_cycle_printing_progress_and_a_summary(box, flow):
    out, err = StringIO(), StringIO()
    call_command("sync", str(flow.pk), stdout=out, stderr=err)
    summary = json.loads(out.getvalue())
    assert summary["state"] == "done" and summary["posted"] > 0
    assert summary["posted"] == len({r["VNEDTN"] for r in control(box, "GET", "jde/F0911Z1")})
    assert "page 1:" in err.getvalue() and "cycle finished" in err.getvalue()


def test_sync_finds_a_flow_by_name_and_names_what_is_missing(box, flow):
    out = StringIO()
    call_command("sync", flow.name, stdout=out, stderr=StringIO())
    assert json.loads(out.getvalue())["flow"] == flow.pk
    with pytest.raises(CommandError, match='No flow "nope"'):
        call_command("sync", "nope")
