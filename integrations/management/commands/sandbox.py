from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the local fakes of the vendor APIs (sandbox/) over HTTP until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--size", type=int, default=50, help="how many source records to generate")

    def handle(self, *args, **opts):
        from sandbox.server import Sandbox

        box = Sandbox(seed=opts["seed"], size=opts["size"])
        self.stdout.write(f"sandbox on http://{opts['host']}:{opts['port']}  (credentials: /_sandbox/credentials)")
        try:
            box.serve_forever(opts["host"], opts["port"])
        except KeyboardInterrupt:
            self.stdout.write("sandbox stopped")
