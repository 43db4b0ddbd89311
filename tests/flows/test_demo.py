"""`manage.py demo --once`: one JSON object on stdout, and a second run posts nothing new."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from integrations.management.processes import alive, descendants
from integrations.models import Batch, WebhookEvent


def run_demo():
    out, err = StringIO(), StringIO()
    call_command("demo", "--once", "--fast", stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_once_reports_every_flow_and_a_second_run_posts_nothing():
    first, progress = run_demo()
    assert set(first["flows"]) == {"expensify_to_jde", "expensify_to_ifs", "expensify_to_acumatica",
                                   "acumatica_to_expensify", "jde_to_procurify:accounts", "procurify_to_jde:vendors",
                                   "jde_to_procurify:suppliers", "procurify_to_jde:bills",
                                   "jde_to_procurify:purchase_orders", "jde_to_bill:vendors", "jde_to_bill:bills",
                                   "jde_to_bill:invoices", "bill_to_jde"}
    # BILL paid two of the connector's bills: their webhooks reached the demo's own portal, the vouchers posted
    assert first["webhooks"] == 2 and first["flows"]["bill_to_jde"]["posted"] == 2
    assert WebhookEvent.objects.filter(event_type="payment.updated").count() == 2
    assert "cycle finished" in progress  # progress went to stderr, not into the JSON
    posted = Batch.objects.filter(state__in=["posted", "confirmed"])
    for kind, stats in first["flows"].items():
        assert set(stats) == {"fetched", "posted", "held", "skipped", "failed", "in_doubt", "amount_posted"}
        assert stats["posted"] > 0 and stats["fetched"] == stats["posted"] + stats["held"], (kind, stats, progress[-3000:])
        if kind.startswith("expensify_to"):
            total = sum(b.amount for b in posted.filter(flow__kind=kind))
            assert total == sum(Decimal(v) for v in stats["amount_posted"].values())

    posted_before = posted.count()
    second, _ = run_demo()
    # Each run starts a fresh sandbox world: the two-way supplier sync (it compares both sides with what it last
    # left them with) rightly sees vendors and suppliers changed back, so those two may write again. That a second
    # round in one world writes nothing is test_procurify_to_jde's demo test.
    # BILL vendors mirror those JD Edwards suppliers (their e-mail may come from Procurify), so they follow.
    two_way = {"jde_to_procurify:suppliers", "procurify_to_jde:vendors", "jde_to_bill:vendors"}
    assert {kind: stats["posted"] for kind, stats in second["flows"].items() if kind not in two_way} == dict.fromkeys(
        set(first["flows"]) - two_way, 0)
    assert posted.count() == posted_before + sum(second["flows"][k]["posted"] for k in two_way)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_serves_the_portal_runs_the_first_cycle_and_ctrl_c_stops_everything(tmp_path):
    """The README's first command ends in `manage.py demo`: web server, task cluster and sandbox together."""
    import os
    import re
    import signal
    import sqlite3
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{db}"
    web = f"127.0.0.1:{_free_port()}"
    log = open(tmp_path / "demo.log", "w+")
    server_log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "manage.py", "demo", "--fast", "--web", web, "--sandbox-port", str(_free_port()),
                             "--log", str(server_log)],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        password, deadline = None, time.time() + 90
        while password is None and time.time() < deadline:
            time.sleep(0.5)
            log.seek(0)
            found = re.search(r"user: admin\s+password: (\S+)", log.read())
            password = found and found.group(1)
        assert password, "the demo printed no admin login"
        session = requests.Session()
        for _ in range(60):
            try:
                login = session.get(f"http://{web}/login/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        token = session.cookies["csrftoken"]
        page = session.post(f"http://{web}/login/?next=/", timeout=5, headers={"Referer": login.url},
                            data={"username": "admin", "password": password, "csrfmiddlewaretoken": token})
        assert page.status_code == 200 and "Log out" in page.text
        state = None
        # The task cluster (2 workers) runs the first cycle of every demo flow, 13 of them: minutes on a busy machine.
        deadline = time.time() + 300
        while state != "done" and time.time() < deadline:  # the task cluster runs the queued first cycle
            time.sleep(0.5)
            with sqlite3.connect(db) as conn:
                row = conn.execute("select state from integrations_synccycle order by id desc limit 1").fetchone()
            state = row and row[0]
        assert state == "done"
        log.seek(0)
        console = log.read()
        assert "GET /login/" not in console and "Traceback" not in console  # the login stays in view
        assert "GET /login/" in server_log.read_text()  # request logs go to the server log
    finally:
        family = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        proc.wait(timeout=30)
    assert len(family) >= 3  # the web server, the cluster and its workers
    for _ in range(60):  # every one of them is gone too
        living = [pid for pid in family if alive(pid)]
        if not living:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"processes of the demo survived Ctrl-C: {living}")
    log.close()

