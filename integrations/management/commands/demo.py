import json
import secrets
import subprocess
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

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
                return self.run_once(flows)
            self.serve(tenant, flows, opts["web"], opts["log"])
        finally:
            box.stop()

    def run_once(self, flows):
        out = {"flows": {}}
        kinds = [flow.kind for flow in flows]
        for flow in flows:
            if flow.kind in implemented_kinds():
                result = run_cycle(flow, trigger="demo", progress=self.progress, wait=30, actor="demo")
                # a kind with several flows (the Procurify ones, one per record kind) is keyed "kind:records"
                key = f"{flow.kind}:{flow.options.get('records')}" if kinds.count(flow.kind) > 1 else flow.kind
                out["flows"][key] = result.summary()
        self.stdout.write(json.dumps(out))

    def serve(self, tenant, flows, web, log_path):
        User = get_user_model()
        password = secrets.token_urlsafe(9)
        admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@ml-connector.local"})
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
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

