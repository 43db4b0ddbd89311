import json
import secrets
import subprocess
import sys
import threading
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ... import demo_bill
from ...bench.sandbox import NO_LIMIT
from ...demo import setup_demo
from ...engine import run_cycle
from ...flows import implemented_kinds
from ...ops.demo_history import seed_history
from ...tasks import queue_cycle
from ..processes import stop_all


class Command(BaseCommand):
    help = ("Demo tenant against an in-process sandbox. --once: run every implemented flow once and print one JSON "
            "object on stdout. Without it: sandbox, task cluster and web server together until Ctrl-C.")

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--size", type=int, default=60, help="Expensify reports in the sandbox")
        parser.add_argument("--sandbox-port", type=int, default=None, help="default: any free port with --once, else 8765")
        parser.add_argument("--web", default="127.0.0.1:8000", help="address of the web server (without --once)")
        parser.add_argument("--fast", action="store_true",
                            help="lift the vendors' rate limits (sandbox and demo connections): for tests and CI, where "
                                 "waiting out Expensify's 20 calls a minute proves nothing new")
        parser.add_argument("--log", default="demo-server.log",
                            help="file for the web server's and task cluster's output, so the console keeps the login")

    def progress(self, message):
        self.stderr.write(message)

    def handle(self, *args, **opts):
        from sandbox.server import Sandbox

        call_command("migrate", verbosity=0, interactive=False)
        port = opts["sandbox_port"] if opts["sandbox_port"] is not None else (0 if opts["once"] else 8765)
        config = {"expensify": {"rate_limit": NO_LIMIT}} if opts["fast"] else None
        box = Sandbox(seed=opts["seed"], size=opts["size"], config=config).start(port=port)
        self.progress(f"sandbox serving the vendor fakes at {box.url}")
        try:
            limits = {"rate_limit": NO_LIMIT} if opts["fast"] else {}
            tenant, flows = setup_demo(box, progress=self.progress, **limits)
            if opts["once"]:
                return self.run_once(box, flows)
            self.serve(box, tenant, flows, opts["web"], opts["log"])
        finally:
            box.stop()

    def run_once(self, box, flows):
        """Each flow once, in order; a second flow of a kind is reported as ``kind:records``. BILL's webhooks
        reach this portal (served in a thread meanwhile): BILL pays two of the connector's bills just before
        the payments flow runs, which takes them from its webhook inbox."""
        out = {"flows": {}}
        kinds = [flow.kind for flow in flows]
        with demo_bill.portal_server() as portal:
            bill = _bill_connection(flows)
            if bill is not None:
                out["webhook_url"] = demo_bill.subscribe(bill, portal)
                self.progress(f"BILL sends payment webhooks to {out['webhook_url']}")
            for flow in flows:
                if flow.kind not in implemented_kinds():
                    continue
                if flow.kind == "bill_to_jde":
                    out["webhooks"] = self.bill_pays(box, flows)
                # a kind with several flows (one per record kind) is keyed "kind:records"
                key = f"{flow.kind}:{flow.options.get('records')}" if kinds.count(flow.kind) > 1 else flow.kind
                result = run_cycle(flow, trigger="demo", progress=self.progress, wait=30, actor="demo")
                out["flows"][key] = result.summary()
        self.stdout.write(json.dumps(out))

    def bill_pays(self, box, flows, wait_seconds=15):
        """BILL pays two bills; returns how many payment events reached the portal's inbox."""
        from ...models import WebhookEvent

        bills = next((f for f in flows if f.kind == "jde_to_bill" and f.options.get("records") == "bills"), None)
        paid = demo_bill.pay_bills(box, bills) if bills is not None else []
        ids = [p["id"] for p in paid]
        deadline = time.monotonic() + wait_seconds
        while ids and time.monotonic() < deadline:
            if WebhookEvent.objects.filter(entity_id__in=ids).values("entity_id").distinct().count() == len(ids):
                break
            time.sleep(0.1)
        received = WebhookEvent.objects.filter(entity_id__in=ids).count()
        self.progress(f"BILL paid {len(ids)} bills; {received} payment webhooks reached the portal")
        return received

    @staticmethod
    def pay_later(box, flows, payments=3, every=20.0):
        """Once the task cluster has posted bills, BILL pays one every ``every`` seconds (``payments`` in all):
        each ``payment.updated`` webhook queues the payments flow, which posts the voucher to JD Edwards."""
        from django.db import connection

        bills = next((f for f in flows if f.kind == "jde_to_bill" and f.options.get("records") == "bills"), None)
        paid = 0
        try:
            for _ in range(60):
                if bills is None or paid >= payments:
                    return
                time.sleep(every)
                try:
                    paid += len(demo_bill.pay_bills(box, bills, count=1))
                except Exception:  # the demo is stopping (sandbox gone): nothing more to pay
                    return
        finally:
            connection.close()

    def serve(self, box, tenant, flows, web, log_path):
        User = get_user_model()
        password = secrets.token_urlsafe(9)
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@ml-connector.local"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        bill = _bill_connection(flows)
        if bill is not None:  # BILL's webhooks come to this portal; BILL pays a few of the connector's bills
            self.progress(f"BILL sends payment webhooks to {demo_bill.subscribe(bill, f'http://{web}')}")
            threading.Thread(target=self.pay_later, args=(box, flows), daemon=True).start()
        for flow in flows:
            seed_history(flow)  # weeks of posted history, so the dashboard's chart is not empty
            queue_cycle(flow, trigger="demo")
        manage = [sys.executable, "manage.py"]
        # Own sessions: Ctrl-C reaches only this command, which then stops each child and all it forked.
        # Request and worker logs go to a file: the console keeps the address and login in view.
        log = open(log_path, "a", buffering=1)  # noqa: SIM115 (closed when the children are stopped)
        children = [
            subprocess.Popen(manage + ["qcluster"], start_new_session=True, stdout=log, stderr=subprocess.STDOUT),
            subprocess.Popen(manage + ["runserver", "--noreload", "--insecure", web], start_new_session=True, stdout=log,
                             stderr=subprocess.STDOUT),
        ]
        self.stderr.write("")
        self.stderr.write(f"  Portal:   http://{web}/   user: admin   password: {password}")
        self.stderr.write("            (a new password at each start of the demo; the old one no longer works)")
        self.stderr.write(f"  Logs:     requests and tasks in {log_path}")
        self.stderr.write(f"  Tenant:   {tenant.name}; flows: {', '.join(f.name for f in flows)} (first cycle queued)")
        self.stderr.write("  Ctrl-C stops the web server, the task cluster and the sandbox.")
        self.stderr.write("")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop_all(children)
            log.close()



def _bill_connection(flows):
    """The demo's BILL connection, when it has a BILL flow."""
    return next((f.target if f.kind == "jde_to_bill" else f.source for f in flows if f.kind in ("jde_to_bill", "bill_to_jde")),
                None)
