"""The runs of one flow kind folded into the JSON object the command prints."""


TIMES = ("seconds", "cpu_seconds", "sandbox_cpu_seconds")


def _r(value, digits=3):
    return round(value, digits) if value is not None else None


def _ratio(a, b):
    return _r(a / b) if a and b else None


def _side(run, system):
    calls = sum(run["calls"].get(system, {}).values())
    return {"system": system, "calls": calls, "per_record": _r(calls / max(run["records"], 1))}


def size_entry(run):
    n = max(run["records"], 1)
    replayed = run["replay"]
    return {
        "reports": run["reports"],
        "records": run["records"],
        "posted": run["posted"],
        "held": run["held"],
        "held_by_code": run.get("held_by_code", {}),
        "failed": run["failed"],
        "cycle_state": run["state"],
        "cycle_message": run["message"],
        "seconds": _r(run["seconds"]),
        # CPU of the portal's process during the cycle (all threads; the cycle's own thread apart).
        "cpu_seconds": _r(run.get("cpu_seconds")),
        "main_thread_cpu_seconds": _r(run.get("main_thread_cpu_seconds")),
        # The sandbox process's CPU meanwhile: near the wall time, the vendors set the pace; far below, the portal.
        "sandbox_cpu_seconds": _r(run.get("sandbox_cpu_seconds")),
        # PostgreSQL's server processes on this machine meanwhile (None on SQLite: its work is in cpu_seconds).
        "database_cpu_seconds": _r(run.get("database_cpu_seconds")),
        "records_per_second": _r(run["records"] / run["seconds"], 1),
        "seconds_per_record": _r(run["seconds"] / n, 6),
        "api_calls_per_record": {"source": _side(run, run["source_system"]), "target": _side(run, run["target_system"])},
        "queries": run["queries"],
        "queries_per_record": _r(run["queries"] / n, 2),
        "queries_other_threads": run["queries_other_threads"],
        "queries_by_statement": run.get("queries_by_statement", {}),
        # Seconds waited on the database per statement kind (every thread), and the cycle's own thread's share of all.
        "query_seconds_by_statement": run.get("query_seconds_by_statement", {}),
        "query_seconds_main_thread": _r(run.get("query_seconds_main_thread")),
        "peak_rss_mb": _r(run["peak_rss_kb"] / 1024, 1),
        "requests_recorded": run["requests"],
        "replay": {**{k: (_r(v) if k in TIMES else v) for k, v in replayed.items() if k != "calls"},
                   "same_calls_per_endpoint": replayed["calls"] == run["calls"]},
        "overhead_ratio": _ratio(run["seconds"], replayed["seconds"]),
        # The portal's own time beyond the calls it has to make: the sandbox's answers slow down as its
        # tables grow, and this part of the cost per record does not include that.
        "own_seconds_per_record": _r(max(run["seconds"] - replayed["seconds"], 0.0) / n, 6),
        "vendor_limit_errors": _limit_errors([run]),
    }


def latency_entry(run):
    return {
        "concurrency": run["concurrency"],
        "cycle_state": run["state"],
        "posts": run["writes"],
        "posted": run["posted"],
        "posts_per_second": _r(run["writes"] / run["write_seconds"], 2) if run["write_seconds"] else None,
        "posts_max_in_flight": run["writes_max_in_flight"],
        "cycle_seconds": _r(run["seconds"]),
        "queries_other_threads": run["queries_other_threads"],
    }


def _limit_errors(runs):
    # The sandbox counts calls, not answers: the limit errors are counted from the recorded answers
    # (HTTP 429 or an in-body 429) and, from the portal's own view, batches failed as RATE-LIMITED.
    return {"answered": sum(r["vendor_limited_answers"] for r in runs),
            "batches_rate_limited": sum(r["batches_rate_limited"] for r in runs)}


def kind_object(kind, database, size_runs, latency_runs, latency_ms):
    sizes = [size_entry(run) for run in size_runs]
    first, last = sizes[0], sizes[-1]
    latency = [latency_entry(run) for run in latency_runs]
    rates = [entry["posts_per_second"] for entry in latency]
    return {
        "flow_kind": kind,
        "database": database,
        "sandbox": "own process, vendor rate limits lifted",
        "sizes": sizes,
        "scaling": {
            "from_records": first["records"],
            "to_records": last["records"],
            "seconds_per_record_ratio": _ratio(last["seconds_per_record"], first["seconds_per_record"]),
            "own_seconds_per_record_ratio": _ratio(last["own_seconds_per_record"], first["own_seconds_per_record"]),
            "peak_rss_ratio": _ratio(last["peak_rss_mb"], first["peak_rss_mb"]),
        },
        "latency": {
            "latency_ms": latency_ms,
            "reports": latency_runs[0]["reports"] if latency_runs else None,
            "runs": latency,
            "speedup": _ratio(rates[-1], rates[0]) if len(rates) > 1 else None,
        },
        "vendor_limit_errors": _limit_errors(size_runs + latency_runs),
    }
