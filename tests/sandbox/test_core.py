"""The sandbox core over real HTTP: dispatch, call counts, faults, control API."""

import datetime as dt
import threading
import time

import pytest
import requests

from sandbox import server as server_module
from sandbox.faults import Fault, FaultError, FaultRegistry
from sandbox.http import BadRequest, Fake, Request, Response, json_response
from sandbox.server import Sandbox, load_fakes


class Echo(Fake):
    """A tiny fake: GET /ping, POST /write (commits a record), GET /boom (a bug)."""

    name = "echo"
    default_config = {"greeting": "hello"}

    def reset(self, seed, size, anchor):
        self.seed, self.size, self.anchor = seed, size, anchor
        self.written = []
        self.restarts = 0

    def endpoint(self, req):
        return {("GET", "/ping"): "ping", ("POST", "/write"): "write", ("GET", "/boom"): "boom",
                ("POST", "/json"): "json"}.get((req.method, req.path))

    def handle(self, req):
        if req.path == "/write":
            self.written.append(req.form().get("value"))
            return json_response({"written": len(self.written)}, 201)
        if req.path == "/boom":
            raise RuntimeError("fake bug")
        if req.path == "/json":
            return json_response({"got": req.json()})
        return json_response({"greeting": self.settings["greeting"], "seed": self.seed, "ip": req.client_ip,
                              "q": req.query, "h": req.headers.get("x-test")})

    def credentials(self):
        return {"token": f"tok-{self.seed}"}

    def restart(self):
        self.restarts += 1

    def fault_body(self, status, req):
        if status == 444:
            return {"message": "Invalid Token", "exception": "java.lang.Exception", "timeStamp": "2026-11-01"}
        return None

    def control(self, req, subpath):
        if subpath == "written":
            return json_response(self.written)
        return super().control(req, subpath)


@pytest.fixture(scope="module")
def server():
    box = Sandbox(seed=3, size=5, anchor=dt.date(2026, 11, 1), systems={"echo": Echo}).start()
    yield box
    box.stop()


@pytest.fixture
def box(server):
    server.reset(seed=3, size=5, anchor=dt.date(2026, 11, 1))
    return server


def url(box, path):
    return f"{box.url}{path}"


def add_fault(box, **fault):
    response = requests.post(url(box, "/_sandbox/faults"), json={"system": "echo", **fault}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_dispatch_strips_the_system_prefix_and_passes_query_and_headers(box):
    response = requests.get(url(box, "/echo/ping?a=1&a=2&b="), headers={"X-Test": "yes"}, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["greeting"] == "hello" and body["seed"] == 3
    assert body["q"] == {"a": ["1", "2"], "b": [""]}
    assert body["h"] == "yes"
    assert body["ip"] == "127.0.0.1"


def test_unknown_system_and_unknown_endpoint_are_404_json(box):
    assert requests.get(url(box, "/nope/ping"), timeout=5).status_code == 404
    response = requests.get(url(box, "/echo/missing"), timeout=5)
    assert response.status_code == 404 and "no endpoint" in response.json()["error"]
    assert box.calls.snapshot() == {}  # unknown endpoints are not counted


def test_calls_are_counted_per_endpoint_and_reset(box):
    for _ in range(3):
        requests.get(url(box, "/echo/ping"), timeout=5)
    requests.post(url(box, "/echo/write"), data={"value": "x"}, timeout=5)
    assert requests.get(url(box, "/_sandbox/calls"), timeout=5).json() == {"echo": {"ping": 3, "write": 1}}
    assert box.calls["echo"]["ping"] == 3 and box.calls["echo"]["other"] == 0
    requests.delete(url(box, "/_sandbox/calls"), timeout=5)
    assert requests.get(url(box, "/_sandbox/calls"), timeout=5).json() == {}


def test_counting_is_thread_safe(box):
    def hit():
        requests.get(url(box, "/echo/ping"), timeout=10)

    threads = [threading.Thread(target=hit) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box.calls["echo"]["ping"] == 40


def test_status_fault_answers_without_calling_the_handler_with_retry_after(box):
    add_fault(box, endpoint="write", action="status", status=429, retry_after=2, count=1)
    first = requests.post(url(box, "/echo/write"), data={"value": "a"}, timeout=5)
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    second = requests.post(url(box, "/echo/write"), data={"value": "b"}, timeout=5)
    assert second.status_code == 201
    assert box.fakes["echo"].written == ["b"]
    assert box.calls["echo"]["write"] == 2  # the refused call still counts


def test_status_fault_uses_the_fakes_own_error_body(box):
    add_fault(box, endpoint="ping", action="status", status=444)
    response = requests.get(url(box, "/echo/ping"), timeout=5)
    assert response.status_code == 444
    assert response.json()["message"] == "Invalid Token"
    assert response.json()["exception"] == "java.lang.Exception"
    assert "Retry-After" not in response.headers


def test_503_without_retry_after_has_no_header(box):
    add_fault(box, endpoint="*", action="status", status=503, count=1)
    response = requests.get(url(box, "/echo/ping"), timeout=5)
    assert response.status_code == 503 and "Retry-After" not in response.headers
    assert response.json() == {"error": "injected fault: HTTP 503"}


def test_drop_before_closes_without_running_the_handler(box):
    add_fault(box, endpoint="write", action="drop_before", count=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(url(box, "/echo/write"), data={"value": "lost"}, timeout=5)
    assert box.fakes["echo"].written == []
    assert requests.post(url(box, "/echo/write"), data={"value": "ok"}, timeout=5).status_code == 201
    assert box.fakes["echo"].written == ["ok"]


def test_drop_after_commits_then_closes(box):
    add_fault(box, endpoint="write", action="drop_after", count=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(url(box, "/echo/write"), data={"value": "committed"}, timeout=5)
    assert box.fakes["echo"].written == ["committed"]


def test_status_after_commits_then_answers_the_error(box):
    add_fault(box, endpoint="write", action="status_after", status=504, count=1)
    response = requests.post(url(box, "/echo/write"), data={"value": "committed"}, timeout=5)
    assert response.status_code == 504
    assert box.fakes["echo"].written == ["committed"]


def test_restart_calls_the_fake_then_handles_normally(box):
    add_fault(box, endpoint="ping", action="restart", count=1)
    assert requests.get(url(box, "/echo/ping"), timeout=5).status_code == 200
    requests.get(url(box, "/echo/ping"), timeout=5)
    assert box.fakes["echo"].restarts == 1


def test_after_and_count_pick_exact_calls(box):
    add_fault(box, endpoint="ping", action="status", status=500, after=2, count=2)
    codes = [requests.get(url(box, "/echo/ping"), timeout=5).status_code for _ in range(6)]
    assert codes == [200, 200, 500, 500, 200, 200]
    faults = requests.get(url(box, "/_sandbox/faults"), timeout=5).json()
    assert faults[0]["seen"] == 4 and faults[0]["fired"] == 2 and faults[0]["expired"]


def test_every_nth_call_until_cleared(box):
    add_fault(box, endpoint="ping", action="status", status=502, every=3)
    codes = [requests.get(url(box, "/echo/ping"), timeout=5).status_code for _ in range(7)]
    assert codes == [200, 200, 502, 200, 200, 502, 200]
    requests.delete(url(box, "/_sandbox/faults"), timeout=5)
    assert all(requests.get(url(box, "/echo/ping"), timeout=5).status_code == 200 for _ in range(3))


def test_fault_on_one_endpoint_leaves_others_alone(box):
    add_fault(box, endpoint="write", action="status", status=500)
    assert requests.get(url(box, "/echo/ping"), timeout=5).status_code == 200
    assert requests.post(url(box, "/echo/write"), data={"value": "x"}, timeout=5).status_code == 500


def test_latency_fault_delays_the_answer(box):
    add_fault(box, endpoint="ping", action="latency", latency_ms=300, count=1)
    start = time.perf_counter()
    assert requests.get(url(box, "/echo/ping"), timeout=5).status_code == 200
    assert time.perf_counter() - start >= 0.3
    start = time.perf_counter()
    requests.get(url(box, "/echo/ping"), timeout=5)
    assert time.perf_counter() - start < 0.3


def test_delete_one_fault_and_bad_faults_are_400(box):
    fault_id = add_fault(box, endpoint="ping", action="status", status=500)
    assert requests.delete(url(box, f"/_sandbox/faults/{fault_id}"), timeout=5).status_code == 200
    assert requests.get(url(box, "/echo/ping"), timeout=5).status_code == 200
    for bad in ({"system": "echo", "action": "explode"}, {"system": "echo", "action": "status"},
                {"action": "status", "status": 500}, {"system": "echo", "action": "status", "status": 500, "bogus": 1},
                {"system": "echo", "action": "drop_before", "count": 0}):
        response = requests.post(url(box, "/_sandbox/faults"), json=bad, timeout=5)
        assert response.status_code == 400, bad
        assert "bad fault" in response.json()["error"]


def test_a_fake_bug_is_a_500_and_the_server_keeps_serving(box):
    response = requests.get(url(box, "/echo/boom"), timeout=5)
    assert response.status_code == 500 and "fake bug" in response.json()["error"]
    assert requests.get(url(box, "/echo/ping"), timeout=5).status_code == 200


def test_bad_json_body_is_400(box):
    response = requests.post(url(box, "/echo/json"), data=b"{nope", timeout=5)
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    assert requests.post(url(box, "/echo/json"), json={"a": 1}, timeout=5).json() == {"got": {"a": 1}}


def test_credentials_reset_and_config(box):
    assert requests.get(url(box, "/_sandbox/credentials"), timeout=5).json() == {"echo": {"token": "tok-3"}}
    add_fault(box, endpoint="ping", action="status", status=500)
    requests.post(url(box, "/echo/write"), data={"value": "x"}, timeout=5)
    merged = requests.post(url(box, "/_sandbox/config"), json={"echo": {"greeting": "hi"}}, timeout=5).json()
    assert merged["echo"] == {"greeting": "hi"}
    response = requests.post(url(box, "/_sandbox/reset"), json={"seed": 9, "anchor": "2026-01-15"}, timeout=5)
    assert response.json() == {"seed": 9, "size": 5, "anchor": "2026-01-15"}
    assert box.fakes["echo"].anchor == dt.date(2026, 1, 15) and box.fakes["echo"].written == []
    assert requests.get(url(box, "/_sandbox/faults"), timeout=5).json() == []
    assert box.calls.snapshot() == {}
    body = requests.get(url(box, "/echo/ping"), timeout=5).json()
    assert body["seed"] == 9 and body["greeting"] == "hello"  # reset restores the configuration
    assert requests.get(url(box, "/_sandbox/credentials"), timeout=5).json() == {"echo": {"token": "tok-9"}}


def test_fake_control_and_clock(box):
    requests.post(url(box, "/echo/write"), data={"value": "v1"}, timeout=5)
    assert requests.get(url(box, "/_sandbox/echo/written"), timeout=5).json() == ["v1"]
    assert requests.get(url(box, "/_sandbox/echo/other"), timeout=5).status_code == 404
    before = box.clock()
    now = requests.post(url(box, "/_sandbox/clock"), json={"advance": 3600}, timeout=5).json()["now"]
    assert now - before >= 3600
    assert requests.get(url(box, "/_sandbox/nothing"), timeout=5).status_code == 404


def test_system_url_and_info(box):
    assert box.system_url("echo") == f"{box.url}/echo"
    info = requests.get(url(box, "/_sandbox/"), timeout=5).json()
    assert info["systems"] == ["echo"] and info["anchor"] == "2026-11-01"


def test_stop_frees_the_port():
    box = Sandbox(systems={"echo": Echo}).start()
    address = box.url
    assert requests.get(f"{address}/echo/ping", timeout=5).status_code == 200
    box.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{address}/echo/ping", timeout=2)


def test_load_fakes_finds_expensify_and_skips_missing_modules(monkeypatch):
    monkeypatch.setattr(server_module, "SYSTEMS", ("expensify", "no_such_system"))
    fakes = load_fakes()
    assert set(fakes) == {"expensify"}
    assert fakes["expensify"].name == "expensify"


def test_load_fakes_raises_for_a_broken_module(monkeypatch, tmp_path):
    import sys

    import sandbox

    (tmp_path / "broken_sys.py").write_text("import does_not_exist_anywhere\n")
    monkeypatch.setattr(sandbox, "__path__", list(sandbox.__path__) + [str(tmp_path)])
    monkeypatch.setattr(server_module, "SYSTEMS", ("broken_sys",))
    monkeypatch.delitem(sys.modules, "sandbox.broken_sys", raising=False)
    with pytest.raises(ModuleNotFoundError, match="does_not_exist_anywhere"):
        load_fakes()


def test_unknown_system_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no sandbox fake"):
        Sandbox(systems=["nope"])


def test_registry_unit_semantics():
    registry = FaultRegistry()
    registry.add(system="s", endpoint="e", action="latency", latency_ms=50)
    registry.add(system="*", endpoint="*", action="restart", count=1)
    registry.add(system="s", endpoint="e", action="status", status=500, count=1)
    registry.add(system="s", endpoint="e", action="drop_before", count=1)
    first = registry.decide("s", "e")
    assert (first.latency, first.restart, first.action, first.status) == (0.05, True, "status", 500)
    second = registry.decide("s", "e")  # status expired; drop_before has not seen the first call
    assert (second.restart, second.action) == (False, "drop_before")
    third = registry.decide("s", "e")
    assert third.action is None and third.latency == 0.05
    assert registry.decide("other", "e").latency == 0
    with pytest.raises(FaultError):
        Fault(system="s", action="latency")


def test_request_and_response_primitives():
    req = Request("post", "/x", body=b"a=1&b=%C3%A9&a=2", headers={"Content-Type": "x"})
    assert req.method == "POST" and req.form() == {"a": "1", "b": "é"} and req.headers == {"content-type": "x"}
    with pytest.raises(BadRequest):
        Request("POST", "/x").json()
    assert Response(200, {"a": 1}).headers["Content-Type"] == "application/json"
    assert Response(200, "text").headers["Content-Type"].startswith("text/plain")
    assert Response(204).body == b""
    assert json_response([1], 201, {"X": "y"}).status_line == "201 Created"


def test_sandbox_imports_nothing_of_the_portal_and_no_third_party_code():
    import ast
    import pathlib
    import sys

    import sandbox

    allowed = set(sys.stdlib_module_names) | {"sandbox"}
    for path in pathlib.Path(sandbox.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
