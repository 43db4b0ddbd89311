"""Calls in flight per credential: ``ConcurrencyLimiter`` and how ``HttpClient`` uses it.

The limit is measured where it matters, at a small HTTP server that counts the requests it is
serving at once, with worker processes and threads sharing the database (or Redis) as real
workers do. The Redis cases run when a Redis server answers (``TEST_REDIS_URL``, else
``REDIS_URL``, else the local default); they are skipped otherwise.
"""

import json
import logging
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection, connections

from integrations.systems.errors import RateLimited
from integrations.systems.expensify import ExpensifyClient
from integrations.systems.http import HttpClient
from integrations.systems.jde import JdeClient
from integrations.systems.limits import ConcurrencyLimiter, SlotTimeout
from integrations.systems.registry import DEFAULT_CONCURRENCY

ROOT = Path(__file__).resolve().parents[2]
BILL = {"dev_key": "DEVKEY-0001", "org_id": "00801ABC", "username": "ap@acme.example", "password": "pw-12345"}


# -- a server that counts what it serves at once ---------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse shows
    disable_nagle_algorithm = True  # else headers and body in two writes meet the client's delayed ACK (40 ms)

    def do_GET(self):  # noqa: N802 - http.server's naming
        meter = self.server
        with meter.lock:
            meter.now += 1
            meter.peak = max(meter.peak, meter.now)
            meter.total += 1
            meter.peers.add(self.client_address)
            meter.lines.append(self.requestline)
            meter.senders.append(self.headers.get("X-Worker"))
        try:
            time.sleep(meter.hold)
        finally:
            with meter.lock:
                meter.now -= 1
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class MeterServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hold=0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hold = hold
        self.lock = threading.Lock()
        self.now = self.peak = self.total = 0
        self.peers = set()  # (host, port) of each client connection
        self.lines = []  # request lines, absolute-form when the request came through as a proxy
        self.senders = []  # X-Worker of each request, in the order they arrived
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, host="127.0.0.1"):
        return f"http://{host}:{self.server_address[1]}"

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def meter():
    servers = []

    def make(hold=0.0):
        servers.append(MeterServer(hold))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


# -- where worker processes keep their slots -------------------------------------------------------------------------
def _redis_url():
    url = os.environ.get("TEST_REDIS_URL") or settings.REDIS_URL or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


@pytest.fixture(scope="module")
def sqlite_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("slots") / "shared.sqlite3"
    env = _child_env(f"sqlite:///{path}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return f"sqlite:///{path}"


def _child_env(database_url, redis_url=None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@pytest.fixture(params=["database", "redis"])
def worker_env(request, sqlite_file):
    """Environment for worker processes sharing one store: this suite's PostgreSQL test database when
    it runs on PostgreSQL, else a SQLite file; or Redis."""
    if request.param == "redis":
        url = _redis_url()
        if url is None:
            pytest.skip("no Redis server answers")
        return _child_env(sqlite_file, url)
    if connection.vendor == "postgresql":
        request.getfixturevalue("transactional_db")  # the workers' rows are committed: flush them after
        s = connection.settings_dict
        where = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        return _child_env(f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{where}")
    return _child_env(sqlite_file)


def _worker(env, mode, spec):
    args = [sys.executable, "-m", "tests.systems.concurrency_worker", mode, json.dumps(spec)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _result(proc, timeout=60):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


def _send_from_two_processes(env, server, options, threads=4, calls=6, lift_ceiling=False):
    """Both workers start sending together once both are up, and the server must see their requests
    interleaved: the limit is shared, not met by one process finishing before the other starts."""
    spec = {"base_url": server.url(), "system": "bill", "credentials": BILL, "options": options,
            "threads": threads, "calls": calls, "lift_ceiling": lift_ceiling}
    workers = [_worker(env, "send", {**spec, "name": name}) for name in "AB"]
    assert [w.stdout.readline().strip() for w in workers] == ["ready", "ready"]
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    results = [_result(w) for w in workers]
    switches = sum(1 for a, b in zip(server.senders, server.senders[1:], strict=False) if a != b)
    assert set(server.senders) == {"A", "B"} and switches >= 4
    return results


# -- across processes and threads ------------------------------------------------------------------------------------
def test_two_processes_with_four_threads_each_never_have_more_than_bills_three_calls_in_flight(worker_env, meter):
    server = meter(hold=0.06)
    results = _send_from_two_processes(worker_env, server, {"backoff_max": 0.05})
    assert [r["concurrency"] for r in results] == [3, 3]
    assert server.total == 48 and sum(r["calls"] for r in results) == 48  # nothing refused, nothing retried
    assert server.peak == 3  # never more than BILL allows, and the limit was used in full


def test_the_meter_sees_an_overrun_when_the_limit_is_raised(worker_env, meter):
    """The control for the test above: with room for 8 (BILL's ceiling of 3 lifted in the workers), eight threads
    in two processes do overlap."""
    server = meter(hold=0.06)
    _send_from_two_processes(worker_env, server, {"concurrency": 8, "backoff_max": 0.05}, lift_ceiling=True)
    assert server.total == 48
    assert server.peak > 3


@pytest.mark.django_db(transaction=True)
def test_threads_of_one_process_share_the_limit(meter):
    """Eight threads, two slots, on the (in-memory) test database, whose table locks make takers retry."""
    limiter = ConcurrencyLimiter("test:threads", 2, ttl=30)
    spans, lock = [], threading.Lock()

    def one_thread(_):
        try:
            for _ in range(5):
                with limiter.slot():
                    start = time.monotonic()
                    time.sleep(0.01)
                    with lock:
                        spans.append((start, time.monotonic()))
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one_thread, range(8)))
    assert len(spans) == 40
    assert _max_overlap(spans) == 2
    assert limiter.in_use() == 0


def _max_overlap(spans):
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda ev: (ev[0], ev[1]))
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


# -- a crashed holder ------------------------------------------------------------------------------------------------
def test_a_killed_holders_slot_frees_itself_when_its_lease_ends(worker_env):
    key, ttl = f"test:crash:{os.getpid()}:{time.time_ns()}", 4.0
    holder = _worker(worker_env, "hold", {"key": key, "ttl": ttl})
    try:
        taken = json.loads(holder.stdout.readline())["taken"]
    finally:
        holder.kill()  # SIGKILL: no finally block, no release
        holder.wait(timeout=10)
    late = _result(_worker(worker_env, "take", {"key": key, "ttl": ttl, "wait": 10}))
    assert late["busy"]  # the dead holder's lease still counted...
    assert taken + ttl - 0.05 <= late["taken"] < taken + ttl + 3  # ...until it ran out, and not much longer


# -- the limiter on its own -------------------------------------------------------------------------------------------
@pytest.fixture(params=["database", "redis"])
def backend(request):
    if request.param == "redis":
        url = _redis_url()
        if url is None:
            pytest.skip("no Redis server answers")
        return {"redis_url": url}
    request.getfixturevalue("db")
    return {"redis_url": ""}


def test_a_limit_of_two_gives_two_slots_then_waits_a_bounded_time(backend):
    limiter = ConcurrencyLimiter(f"test:two:{time.time_ns()}", 2, ttl=30, **backend)
    first, second = limiter.acquire(), limiter.acquire()
    assert limiter.in_use() == 2
    start = time.monotonic()
    with pytest.raises(SlotTimeout):
        limiter.acquire(wait=0.2)
    assert 0.2 <= time.monotonic() - start < 1.0
    limiter.release(first)
    with limiter.slot():
        assert limiter.in_use() == 2
    assert limiter.in_use() == 1
    limiter.release(second)
    assert limiter.in_use() == 0


def test_a_lease_ends_after_its_ttl_and_its_late_release_frees_nothing(backend):
    limiter = ConcurrencyLimiter(f"test:ttl:{time.time_ns()}", 1, ttl=0.3, **backend)
    stale = limiter.acquire()
    with pytest.raises(SlotTimeout):
        limiter.acquire(wait=0)
    time.sleep(0.35)
    fresh = limiter.acquire(wait=0)  # the holder never gave it back: its lease ran out
    limiter.release(stale)  # the first holder comes back late: the slot is someone else's now
    assert limiter.in_use() == 1
    limiter.release(fresh)
    assert limiter.in_use() == 0


@pytest.mark.django_db
def test_database_slots_follow_the_clock_and_a_smaller_limit():
    clock = SimpleNamespace(now=1000.0)
    key = "test:clock"
    limiter = ConcurrencyLimiter(key, 3, ttl=60, clock=lambda: clock.now, redis_url="")
    leases = [limiter.acquire(wait=0) for _ in range(3)]
    assert limiter.in_use() == 3
    smaller = ConcurrencyLimiter(key, 2, ttl=60, clock=lambda: clock.now, redis_url="")
    with pytest.raises(SlotTimeout):
        smaller.acquire(wait=0)  # slots 0 and 1 are taken; slot 2 is not one of its two
    clock.now += 60
    assert limiter.in_use() == 0
    assert smaller.acquire(wait=0)
    for lease in leases:
        limiter.release(lease)


def test_a_limit_needs_a_slot_and_a_long_key_still_fits():
    with pytest.raises(ValueError):
        ConcurrencyLimiter("test:none", 0, redis_url="")
    long_a = ConcurrencyLimiter("x" * 300 + "a", 1, redis_url="")
    long_b = ConcurrencyLimiter("x" * 300 + "b", 1, redis_url="")
    assert len(long_a.key) == len(long_b.key) == 200
    assert long_a.key != long_b.key


# -- HttpClient: limits, key, what a long wait becomes ----------------------------------------------------------------
def _client(system="bill", options=None, credentials=None, base_url="http://127.0.0.1:9"):
    conn = SimpleNamespace(base_url=base_url, credentials=dict(BILL if credentials is None else credentials),
                           options=options or {})
    return HttpClient(conn, system=system)


def test_every_system_has_its_default_and_the_option_overrides_it():
    assert DEFAULT_CONCURRENCY == {"jde": 8, "ifs": 8, "acumatica": 4, "expensify": 1, "procurify": 4, "bill": 3}
    for system, limit in DEFAULT_CONCURRENCY.items():
        client = _client(system)
        assert client.concurrency == client.slots.limit == limit
    assert _client("bill", {"concurrency": 2}).concurrency == 2
    assert _client("jde", {"concurrency": "12"}).slots.limit == 12
    assert _client("unknown").concurrency == 1  # no default known: one at a time


def test_the_vendor_clients_get_their_systems_limit():
    creds = {"partnerUserID": "acme_api", "partnerUserSecret": "secret-1"}
    assert ExpensifyClient(SimpleNamespace(base_url="http://127.0.0.1:9", credentials=creds, options={})).concurrency == 1
    jde = {"username": "JDE", "password": "pw-1234", "environment": "JDV920", "role": "*ALL"}
    client = JdeClient(SimpleNamespace(base_url="http://127.0.0.1:9/jderest", credentials=jde, options={"concurrency": 5}))
    assert client.concurrency == 5


def test_bill_slots_belong_to_the_dev_key_and_organization_not_to_the_user():
    key = _client().concurrency_key()
    assert _client(credentials={**BILL, "username": "other@acme.example", "password": "x-9999"}).concurrency_key() == key
    assert _client(credentials={**BILL, "org_id": "00802XYZ"}).concurrency_key() != key
    assert _client(credentials={**BILL, "dev_key": "DEVKEY-0002"}).concurrency_key() != key
    assert _client(base_url="http://127.0.0.2:9").concurrency_key() != key
    assert "DEVKEY" not in key and "00801ABC" in key  # the secret goes into the key only as a digest


@pytest.mark.django_db
def test_a_client_that_finds_every_slot_taken_sends_nothing_and_says_why(meter):
    server = meter()
    client = _client(base_url=server.url(), options={"max_attempts": 1})
    client.slots.wait = 0.1
    others = ConcurrencyLimiter(client.concurrency_key(), 3, ttl=30, redis_url="")
    leases = [others.acquire() for _ in range(3)]  # another worker's three calls in flight
    with pytest.raises(RateLimited) as caught:
        client.request("GET", "/ping", idempotent=False)
    assert caught.value.code == "CONCURRENCY-WAIT" and caught.value.definite
    assert server.total == 0 and client.calls == 0
    others.release(leases[0])
    client.request("GET", "/ping", idempotent=False)
    assert server.total == 1 and others.in_use() == 2  # the client's slot was given back after the call


# -- transport: proxies read once, one session, a pool as big as the limit -------------------------------------------
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
              "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def clean_env(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def lookups(monkeypatch):
    """Counts of every environment lookup: ours (requests.utils) and the ones requests makes per call."""
    counts = {"client": 0, "per_call_proxies": 0, "per_call_netrc": 0}

    def counting(name, original):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting("client", requests.utils.get_environ_proxies))
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        counting("per_call_proxies", requests.sessions.get_environ_proxies))
    monkeypatch.setattr(requests.sessions, "get_netrc_auth", counting("per_call_netrc", requests.sessions.get_netrc_auth))
    return counts


@pytest.mark.django_db
def test_proxy_settings_are_read_once_and_a_later_change_is_not_picked_up(clean_env, lookups, meter):
    proxy, target = meter(), meter()
    clean_env.setenv("HTTP_PROXY", proxy.url())
    clean_env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = _client(base_url=target.url("localhost"))
    assert client.session.verify == "/etc/ssl/certs/ca-certificates.crt" and client.session.trust_env is False
    for _ in range(3):
        client.request("GET", "/ping", idempotent=True)
    clean_env.delenv("HTTP_PROXY")
    clean_env.setenv("NO_PROXY", "localhost")
    client.request("GET", "/ping", idempotent=True)
    assert lookups == {"client": 1, "per_call_proxies": 0, "per_call_netrc": 0}
    assert proxy.total == 4 and target.total == 0  # all four through the proxy, as configured when the client was made
    assert proxy.lines[0] == f"GET {target.url('localhost')}/ping HTTP/1.1"
    _client(base_url=target.url("localhost")).request("GET", "/ping", idempotent=True)
    assert target.total == 1  # a new client does read the new environment


@pytest.mark.django_db
def test_no_proxy_is_respected_for_the_base_url_and_for_other_hosts(clean_env, lookups, meter):
    proxy, target = meter(), meter()
    clean_env.setenv("HTTP_PROXY", proxy.url())
    clean_env.setenv("NO_PROXY", "localhost")
    client = _client(base_url=target.url("localhost"))
    client.request("GET", "/ping", idempotent=True)
    assert (proxy.total, target.total) == (0, 1)  # NO_PROXY names the base URL's host: straight there
    for _ in range(2):
        client.request("GET", f"{target.url('127.0.0.1')}/file", idempotent=True)  # a link to another host
    assert (proxy.total, target.total) == (2, 1)
    assert proxy.lines == [f"GET {target.url('127.0.0.1')}/file HTTP/1.1"] * 2
    assert lookups["client"] == 2  # once per origin


def test_the_pool_has_room_for_every_slot():
    for limit, size in ((16, 16), (3, 10)):  # never below requests' own default of 10
        client = _client("jde", {"concurrency": limit})
        adapters = {client.session.get_adapter(u) for u in ("https://erp.example.com", "http://erp.example.com")}
        assert len(adapters) == 1
        assert adapters.pop()._pool_maxsize == size


@pytest.mark.django_db(transaction=True)
def test_one_session_keeps_its_connections_when_twelve_threads_use_it(meter, caplog):
    """Twelve calls in flight is more than requests' default pool of 10: with it, urllib3 would drop
    two connections after every round and open new ones."""
    server = meter(hold=0.3)
    client = _client("jde", {"concurrency": 12}, base_url=server.url())
    session = client.session
    for _ in range(3):
        client.request("GET", "/ping", idempotent=True)
    assert len(server.peers) == 1  # one thread, one kept-alive connection
    start = threading.Barrier(12)

    def one_thread(_):
        start.wait(timeout=10)
        try:
            for _ in range(4):
                client.request("GET", "/ping", idempotent=True)
        finally:
            connections.close_all()

    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(one_thread, range(12)))
    assert server.total == 51 and server.peak > 10
    assert len(server.peers) <= 12
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    assert client.session is session

