"""Helpers for the engine tests: a real sandbox over loopback HTTP and a real database.

The ``box`` fixture (tests/conftest.py) reseeds the sandbox for every test; ``make_flow``
and ``control`` come from tests/flows/conftest.py.
"""

import time
import unicodedata
from collections import defaultdict

from django.db import OperationalError, connection

from tests.flows.conftest import control, make_flow

__all__ = ["control", "make_flow"]


def fault(box, **fields):
    return control(box, "POST", "faults", json=fields)


def clear_faults(box):
    control(box, "DELETE", "faults")


def configure(box, system, **values):
    return control(box, "POST", "config", json={system: values})


def calls(box, system, endpoint):
    return control(box, "GET", "calls").get(system, {}).get(endpoint, 0)


def posts(box):
    """Journal posts JD Edwards received (orchestrator calls)."""
    return calls(box, "jde", "orchestrator")


def approved_reports(box):
    return {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})}


def change_report(box, report_id, **body):
    return control(box, "POST", f"expensify/reports/{report_id}", json=body)


def jde_rows(box, reference=None, table="F0911Z1"):
    params = {"reference": reference} if reference else {}
    return control(box, "GET", f"jde/{table}", params=params)


def journals_by_reference(box):
    """reference -> {batch number -> [F0911Z1 rows]}: more than one batch number is a duplicate post."""
    out = defaultdict(lambda: defaultdict(list))
    for row in jde_rows(box):
        out[row["VNEDTN"]][row["VNEDBT"]].append(row)
    return out


def control_characters(rows):
    """Every (row reference, column, value) holding a control character."""
    found = []
    for row in rows:
        for column, value in row.items():
            if isinstance(value, str) and any(unicodedata.category(ch) == "Cc" for ch in value):
                found.append((row.get("VNEDTN"), column, value))
    return found


def wait_for(predicate, timeout=20.0, pause=0.02):
    """Poll ``predicate`` (which may read the database) until it is true; from a helper thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OperationalError:  # SQLite's shared-cache table lock while the cycle writes: ask again
            pass
        time.sleep(pause)
    return False


def retry_db(fn, attempts=200):
    """Run a database write from a helper thread, retrying while SQLite's table lock is held."""
    for _ in range(attempts):
        try:
            return fn()
        except OperationalError:
            time.sleep(0.01)
    return fn()


def close_thread_connection():
    connection.close()
