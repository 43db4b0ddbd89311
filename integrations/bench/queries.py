"""Database queries of every connection, whichever thread opened it.

``integrations.querycount`` wraps the current thread's connection only; a cycle also queries
from other threads (the lease renewer now, parallel posting later), each on its own
connection. Connections opened during the block get the same counter through the
``connection_created`` signal.
"""

import threading
from contextlib import contextmanager

from django.db import connection
from django.db.backends.signals import connection_created


class Counter:
    def __init__(self):
        self.count = 0
        self.other_threads = 0
        self._main = threading.get_ident()
        self._lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.count += 1
            if threading.get_ident() != self._main:
                self.other_threads += 1
        return execute(sql, params, many, context)


@contextmanager
def count_all_queries():
    counter = Counter()
    wrapped = [connection]

    def on_created(sender, connection, **kwargs):
        if counter not in connection.execute_wrappers:
            connection.execute_wrappers.append(counter)
            wrapped.append(connection)

    connection_created.connect(on_created, weak=False)
    connection.execute_wrappers.append(counter)
    try:
        yield counter
    finally:
        connection_created.disconnect(on_created)
        for conn in wrapped:
            if counter in conn.execute_wrappers:
                conn.execute_wrappers.remove(counter)
