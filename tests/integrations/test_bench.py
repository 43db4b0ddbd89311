"""`manage.py bench`: every figure the throughput issue names, at tiny sizes; and the bench's own parts."""

import io
import json

import pytest
from django.core.management import call_command

from integrations.bench import replay as replay_mod
from integrations.bench.recording import Sent, max_in_flight
from integrations.bench.runner import Bench
from integrations.bench.scratch import DEFAULT_POSTGRES, choose_server


@pytest.fixture(scope="module")
def bench_output():
    out, err = io.StringIO(), io.StringIO()
    call_command("bench", "--reports", "30,60", "--latency-ms", "5", stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()], err.getvalue()


def test_one_json_object_per_implemented_kind_with_progress_on_stderr(bench_output):
    objects, progress = bench_output
    assert [o["flow_kind"] for o in objects] == ["expensify_to_jde", "expensify_to_acumatica", "acumatica_to_expensify",
                                                 "expensify_to_ifs", "procurify_to_jde", "jde_to_procurify",
                                                 "bill_to_jde", "jde_to_bill"]
    assert "run 1/4" in progress and "sandbox serving in process" in progress  # the workers write to fd 2 directly
    assert objects[0]["database"] in ("sqlite", "postgresql")


def test_each_size_has_throughput_calls_queries_memory_and_the_overhead_ratio(bench_output):
    for obj in bench_output[0]:
        check_sizes(obj)


def check_sizes(obj):
    from integrations.systems.registry import FLOW_KINDS

    _, source, target = FLOW_KINDS[obj["flow_kind"]]
    assert [s["reports"] for s in obj["sizes"]] == [30, 60]
    for size in obj["sizes"]:
        assert size["cycle_state"] == "done" and size["records"] > 0 and size["posted"] > 0
        assert sum(size["held_by_code"].values()) == size["held"]  # every hold counted under its reason
        assert size["records_per_second"] > 0 and size["seconds_per_record"] > 0
        calls = size["api_calls_per_record"]
        assert calls["source"]["system"] == source and calls["target"]["system"] == target
        assert calls["source"]["per_record"] > 0 and calls["target"]["per_record"] > 0
        assert size["queries_per_record"] > 0
        assert size["peak_rss_mb"] > 0
        assert size["overhead_ratio"] > 0 and size["own_seconds_per_record"] >= 0
        replay = size["replay"]
        assert replay["requests"] == size["requests_recorded"] > 0
        assert replay["same_calls_per_endpoint"] and replay["status_mismatches"] == 0 and replay["no_answer"] == 0
        assert size["vendor_limit_errors"] == {"answered": 0, "batches_rate_limited": 0}
    assert obj["scaling"]["seconds_per_record_ratio"] > 0 and obj["scaling"]["peak_rss_ratio"] > 0


def test_latency_runs_report_posts_per_second_at_concurrency_1_and_8(bench_output):
    for obj in bench_output[0]:
        check_latency(obj)


def check_latency(obj):
    from integrations.flows import handler_class
    from integrations.systems.registry import concurrency_for

    latency = obj["latency"]
    assert latency["latency_ms"] == 5 and latency["reports"] == 30
    target = obj["sizes"][0]["api_calls_per_record"]["target"]["system"]
    assert [run["concurrency"] for run in latency["runs"]] == [1, concurrency_for(target, 8)]  # BILL: its limit, 3
    for run in latency["runs"]:
        assert run["cycle_state"] == "done" and run["posted"] > 0 and run["posts_per_second"] > 0
        if getattr(handler_class(obj["flow_kind"]), "shape", "posting") == "mirror":
            assert 0 < run["posts"] <= run["posted"]  # a mirror links records already in step without a write
        else:
            assert run["posts"] == run["posted"]
    assert latency["runs"][0]["posts_max_in_flight"] == 1
    # In parallel up to the limit on every database, mirrors too (they went one at a time on SQLite).
    many = latency["runs"][1]
    assert many["posts"] < 2 or 1 < many["posts_max_in_flight"] <= many["concurrency"], many
    assert obj["vendor_limit_errors"] == {"answered": 0, "batches_rate_limited": 0}


def test_a_kind_without_a_benchmark_setup_is_skipped(monkeypatch):
    monkeypatch.setattr("integrations.bench.runner.implemented_kinds", lambda: ["expensify_to_jde", "ifs_to_nowhere"])
    said = []
    bench = Bench(root=".", say=said.append, sizes=[10], latency_ms=0, latency_reports=10)
    assert bench.kinds() == ["expensify_to_jde"]
    assert any("ifs_to_nowhere" in line and "skipped" in line for line in said)


def test_scratch_server_choice_never_needs_the_configured_database_name():
    assert choose_server(environ={}) is None
    assert choose_server(environ={"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}) is None
    assert choose_server(force_postgres=True, environ={}) == DEFAULT_POSTGRES
    pg = "postgres://u@db:5432/portal"
    assert choose_server(environ={"DATABASE_URL": pg}) == pg
    assert choose_server(environ={"BENCH_DATABASE_URL": pg, "DATABASE_URL": "sqlite:///x"}) == pg
    assert choose_server(force_sqlite=True, environ={"DATABASE_URL": pg}) is None


def _sent(started, ended, content=None, content_type="", headers=None, body=None, url="http://x/jde/a"):
    return Sent("POST", url, headers or {}, body, 200, started, ended, content, content_type)


def test_max_in_flight_counts_overlapping_requests():
    assert max_in_flight([]) == 0
    assert max_in_flight([_sent(0, 1), _sent(1, 2), _sent(2, 3)]) == 1
    assert max_in_flight([_sent(0, 3), _sent(1, 2), _sent(1.5, 4), _sent(3.5, 5)]) == 3


def test_replay_learns_identifiers_and_swaps_them_raw_and_url_encoded():
    token = json.dumps({"userInfo": {"token": "044a+b/c="}}).encode()
    assert replay_mod.handed_out(token, "application/json") == ["044a+b/c="]
    assert replay_mod.handed_out(b"export1.json", "text/plain; charset=utf-8") == ["export1.json"]
    assert replay_mod.handed_out(b"two words", "text/plain") == []
    assert replay_mod.handed_out(b'{"BatchNumber": "1"}', "application/json") == []
    swaps = replay_mod.Swaps()
    swaps.learn(["044a+b/c=", "export1.json"], ["044new", "export2.json"])
    assert swaps.text("044a+b/c=") == "044new"
    assert swaps.body(b"token=044a%2Bb%2Fc%3D&file=export1.json") == b"token=044new&file=export2.json"
