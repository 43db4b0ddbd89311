"""The sandbox server: every fake under ``/<system>/...`` plus ``/_sandbox/`` control.

Plain ``wsgiref`` with a thread per request (daemon threads) and HTTP/1.0 (the
connection closes after each response). A custom request handler can drop a
connection without writing anything, which is how ``drop_before``/``drop_after``
faults look to a client: a reset/closed socket, not an HTTP error.

Dispatch for ``/<system>/<rest>``: ``endpoint = fake.endpoint(req)`` (None -> 404),
``calls[system][endpoint] += 1``, then the faults decide (see ``sandbox.faults``):
latency, restart, an injected status (the fake's ``fault_body`` supplies the vendor's
error body) before or after the real ``fake.handle(req)``, a drop before or after it.

Unless a fake sets ``concurrent = True``, the server serializes its ``handle``,
``control`` and ``reset`` calls with a per-fake lock, so fakes can keep plain state.

Usage in tests::

    box = Sandbox(seed=7, size=40, anchor=date(2026, 11, 1)).start()
    requests.post(box.system_url("expensify") + "/Integration-Server/ExpensifyIntegrations", ...)
    box.stop()
"""

import copy
import dataclasses
import datetime as dt
import importlib
import inspect
import logging
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from . import control as control_api
from .faults import CallCounter, FaultRegistry
from .http import DropConnection, HttpError, Request, Response, json_response

log = logging.getLogger("sandbox")

SYSTEMS = ("expensify", "jde", "ifs", "acumatica", "procurify", "bill")


def _find_fake_class(module, name):
    explicit = getattr(module, "Fake", None)
    if inspect.isclass(explicit) and getattr(explicit, "name", None) == name:
        return explicit
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if (obj.__module__ == module.__name__ and getattr(obj, "name", None) == name
                and callable(getattr(obj, "handle", None)) and callable(getattr(obj, "endpoint", None))):
            return obj
    return None


def load_fakes():
    """``{name: FakeClass}`` for every system module present in this package.

    A system whose module does not exist yet is skipped; a module that exists but
    fails to import raises (a half-broken fake should not hide behind 404s).
    """
    found = {}
    for name in SYSTEMS:
        module_name = f"{__package__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        cls = _find_fake_class(module, name)
        if cls is not None:
            found[name] = cls
    return found


class _Handler(ServerHandler):
    """wsgiref's handler, except that ``DropConnection`` writes nothing at all."""

    dropped = False

    def run(self, application):
        try:
            self.setup_environ()
            self.result = application(self.environ, self.start_response)
            self.finish_response()
        except DropConnection:
            self.dropped = True
            self.result = None
        except (ConnectionAbortedError, BrokenPipeError, ConnectionResetError):
            return
        except Exception:
            try:
                self.handle_error()
            except Exception:
                self.close()
                raise


class _RequestHandler(WSGIRequestHandler):
    def handle(self):
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
        handler.request_handler = self
        handler.run(self.server.get_app())
        if handler.dropped:
            self.close_connection = True
            # Nothing was written; socketserver closes the socket after handle() returns.

    def log_message(self, format, *args):  # noqa: A002 - wsgiref's signature
        log.debug("%s - %s", self.address_string(), format % args)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # socketserver's default backlog is 5: with eight clients opening a connection per request
    # (HTTP/1.0), connects beyond it were dropped and retried by the kernel a second later.
    request_queue_size = 128
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request, client_address):
        log.debug("connection error from %s", client_address, exc_info=True)


class Sandbox:
    def __init__(self, seed=1, size=50, anchor=None, config=None, systems=None):
        self.seed = seed
        self.size = size
        self.anchor = _as_date(anchor) or dt.date.today()
        self.calls = CallCounter()
        self.faults = FaultRegistry()
        # Off by default: a test that checks what was sent turns it on (``record_requests = True``) and reads
        # ``requests`` (system, endpoint, method, path, body bytes); reset empties it.
        self.record_requests = False
        self.requests = []
        self.config = {}
        self.url = None
        self._server = None
        self._thread = None
        self._clock_offset = 0.0
        self._initial_config = copy.deepcopy(config or {})
        self.fakes = {}
        self._locks = {}
        for name, cls in self._resolve_systems(systems).items():
            fake = cls(self)
            self.fakes[name] = fake
            self._locks[name] = threading.RLock()
        self._restore_config()
        for name, fake in self.fakes.items():
            with self._locks[name]:
                fake.reset(self.seed, self.size, self.anchor)

    @staticmethod
    def _resolve_systems(systems):
        if isinstance(systems, dict):
            return dict(systems)
        available = load_fakes()
        if systems is None:
            return available
        out = {}
        for item in systems:
            if inspect.isclass(item):
                out[item.name] = item
            elif item in available:
                out[item] = available[item]
            else:
                raise KeyError(f"no sandbox fake for system {item!r} (available: {', '.join(available) or 'none'})")
        return out

    # -- world -------------------------------------------------------------------------
    def clock(self):
        """Seconds since the epoch as the fakes see it (``advance`` moves it forward)."""
        return time.time() + self._clock_offset

    def advance(self, seconds):
        """Move the fakes' clock forward, e.g. past a token's lifetime."""
        self._clock_offset += float(seconds)
        return self.clock()

    def _restore_config(self):
        self.config.clear()
        for name, fake in self.fakes.items():
            self.config[name] = copy.deepcopy(getattr(fake, "default_config", None) or {})
        for key, value in copy.deepcopy(self._initial_config).items():
            if isinstance(value, dict) and isinstance(self.config.get(key), dict):
                self.config[key].update(value)
            else:
                self.config[key] = value

    def merge_config(self, values):
        """Merge ``{system: {key: value}}`` into the live configuration."""
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(self.config.get(key), dict):
                self.config[key].update(value)
            else:
                self.config[key] = value
        return self.config

    def reset(self, seed=None, size=None, anchor=None):
        """Regenerate every fake's data; clear faults, call counts, the clock offset and
        configuration changes made since construction."""
        if seed is not None:
            self.seed = int(seed)
        if size is not None:
            self.size = int(size)
        if anchor is not None:
            self.anchor = _as_date(anchor)
        self.faults.clear()
        self.calls.reset()
        self._clock_offset = 0.0
        self.requests = []
        self._restore_config()
        for name, fake in self.fakes.items():
            with self._locks[name]:
                fake.reset(self.seed, self.size, self.anchor)

    def credentials(self):
        out = {}
        for name, fake in self.fakes.items():
            getter = getattr(fake, "credentials", None)
            out[name] = getter() if getter else {}
        return out

    def system_url(self, name):
        if self.url is None:
            raise RuntimeError("the sandbox is not serving yet: call start()")
        return f"{self.url}/{name}"

    # -- serving -------------------------------------------------------------------------
    def _make_server(self, host, port):
        server = _Server((host, port), _RequestHandler)
        server.set_app(self.wsgi_app)
        bound_host, bound_port = server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return server

    def start(self, host="127.0.0.1", port=0):
        if self._server is not None:
            return self
        self._server = self._make_server(host, port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sandbox {self.url}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def serve_forever(self, host="127.0.0.1", port=8765):
        self._server = self._make_server(host, port)
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- WSGI ------------------------------------------------------------------------------
    def wsgi_app(self, environ, start_response):
        response = self.dispatch(environ)
        headers = [(k, str(v)) for k, v in response.headers.items() if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(response.body))))
        start_response(response.status_line, headers)
        return [response.body]

    def dispatch(self, environ):
        """Route one request; returns a Response or raises DropConnection."""
        req = Request.from_environ(environ)
        parts = req.path.lstrip("/").split("/", 1)
        head, rest = parts[0], "/" + (parts[1] if len(parts) > 1 else "")
        try:
            if head == "_sandbox":
                req.path = rest
                return control_api.handle(self, req, rest.lstrip("/"))
            fake = self.fakes.get(head)
            if fake is None:
                return json_response({"error": f"no system {head!r} in this sandbox",
                                      "systems": sorted(self.fakes)}, 404)
            req.path = rest
            return self._dispatch_fake(head, fake, req)
        except DropConnection:
            raise
        except HttpError as exc:
            return exc.response()
        except Exception as exc:  # a bug in a fake: answer 500 with the reason, keep serving
            log.exception("sandbox error on %s %s", req.method, req.path)
            return json_response({"error": f"sandbox internal error: {type(exc).__name__}: {exc}"}, 500)

    def _dispatch_fake(self, name, fake, req):
        lock = self._lock_for(name, fake)
        with lock:
            endpoint = fake.endpoint(req)
        if endpoint is None:
            return json_response({"error": f"{name}: no endpoint {req.method} {req.path}"}, 404)
        self.calls.increment(name, endpoint)
        if self.record_requests:
            self.requests.append(RecordedRequest(name, endpoint, req.method, req.path, req.body))
        decision = self.faults.decide(name, endpoint)
        if decision.latency:
            time.sleep(decision.latency)
        if decision.restart and callable(getattr(fake, "restart", None)):
            with lock:
                fake.restart()
        if decision.action == "drop_before":
            raise DropConnection()
        if decision.action == "status":
            return self._fault_response(fake, decision, req, lock)
        with lock:
            try:
                response = fake.handle(req)
            except HttpError as exc:
                response = exc.response()
        if not isinstance(response, Response):
            response = Response(200, response)
        if decision.action == "drop_after":
            raise DropConnection()
        if decision.action == "status_after":
            return self._fault_response(fake, decision, req, lock)
        return response

    def _lock_for(self, name, fake):
        if getattr(fake, "concurrent", False):
            return _NoLock()
        return self._locks[name]

    def _fault_response(self, fake, decision, req, lock):
        status = decision.status
        body = None
        supplier = getattr(fake, "fault_body", None)
        if callable(supplier):
            with lock:
                body = supplier(status, req)
        if isinstance(body, Response):
            response = body
            response.status = status
        elif body is None:
            response = json_response({"error": f"injected fault: HTTP {status}"}, status)
        else:
            response = Response(status, body)
        if status in (429, 503) and decision.retry_after is not None:
            response.headers["Retry-After"] = _retry_after_text(decision.retry_after)
        return response


@dataclasses.dataclass(frozen=True)
class RecordedRequest:
    system: str
    endpoint: str
    method: str
    path: str
    body: bytes


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _retry_after_text(value):
    value = float(value)
    return str(int(value)) if value == int(value) else f"{value:g}"


def _as_date(value):
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
