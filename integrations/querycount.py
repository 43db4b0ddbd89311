"""Count database queries: ``count_queries`` on this thread's connection (no cap, unlike
CaptureQueriesContext's 9000-entry log), ``count_all_queries`` on every connection, whichever
thread opened it (a cycle also queries from its lease renewer and its sending threads, each on
its own connection; connections opened during the block get the counter through the
``connection_created`` signal), with a tally per statement kind.
"""

import re
import threading
import time
from collections import Counter as Tally
from contextlib import contextmanager

from django.db import connection
from django.db.backends.signals import connection_created


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def count_queries():
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


class Counter:
    """Every query of every thread, with a tally per statement verb and table."""

    def __init__(self):
        self.count = 0
        self.other_threads = 0
        self.kinds = Tally()  # "UPDATE integrations_batch" -> count: where the queries go
        self.seconds = Tally()  # the same kinds -> seconds spent waiting on them (round trip and server), every thread
        self.main_seconds = 0.0  # of which on the thread that started counting (a cycle's own thread)
        self.main_kinds = Tally()  # the kinds counted on that thread
        self._main = threading.get_ident()
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        kind, main = statement_kind(sql), threading.get_ident() == self._main
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - started
            with self._lock:
                self.count += 1
                self.kinds[kind] += 1
                self.seconds[kind] += took
                if main:
                    self.main_seconds += took
                    self.main_kinds[kind] += 1
                else:
                    self.other_threads += 1


def statement_kind(sql):
    """The statement's verb and first table, e.g. ``SELECT integrations_flow``."""
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = re.search(r'(?:FROM|INTO|UPDATE|JOIN)\s+"?([A-Za-z0-9_]+)"?', sql, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else ''}".strip()


@contextmanager
def on_every_connection(wrapper):
    """``wrapper`` (an execute wrapper) on this thread's connection and on every connection opened meanwhile,
    whichever thread opens it."""
    wrapped = [connection]

    def on_created(sender, connection, **kwargs):
        if wrapper not in connection.execute_wrappers:
            connection.execute_wrappers.append(wrapper)
            wrapped.append(connection)

    connection_created.connect(on_created, weak=False)
    connection.execute_wrappers.append(wrapper)
    try:
        yield
    finally:
        connection_created.disconnect(on_created)
        for conn in wrapped:
            if wrapper in conn.execute_wrappers:
                conn.execute_wrappers.remove(wrapper)


@contextmanager
def count_all_queries():
    counter = Counter()
    with on_every_connection(counter):
        yield counter
