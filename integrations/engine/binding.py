"""PostgreSQL parameters bound on the server for the cycle's bulk writes.

Django's psycopg backend binds parameters on the client by default: psycopg quotes every value into
the statement's text in Python, and an array (``bulk_create`` sends a page's batches as one array
per column) element by element with regular expressions. For a page of 500 reports that quoting cost
more than the database's work (about a third of the cycle's own CPU on PostgreSQL, profiled at
1,000 reports). Inside ``server_binding()`` this thread's default connection makes its cursors with
server-side binding instead (what ``OPTIONS["server_side_binding"]`` does for a whole project): the
values travel apart from the statement, dumped by psycopg's C adapters, and the SQL, the queries and
their count are the same. Elsewhere (SQLite, a project already binding on the server) it does nothing.
"""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def server_binding(using=DEFAULT_DB_ALIAS):
    wrapper = connections[using]
    cursor_class = _server_binding_cursor(wrapper)
    if cursor_class is None or "create_cursor" in vars(wrapper):  # not PostgreSQL/psycopg 3, or already inside
        yield
        return
    from psycopg.types.array import ListBinaryDumper  # psycopg is installed when the cursor class exists

    plain = wrapper.create_cursor

    def create_cursor(name=None):
        # A named (server-side) cursor is the backend's own business; only plain cursors change.
        if name:
            return plain(name)
        cursor = cursor_class(wrapper.connection)
        # Arrays in binary: the text form escapes every quote of every element (a JSON payload has many) in Python.
        cursor.adapters.register_dumper(list, ListBinaryDumper)
        return cursor

    wrapper.create_cursor = create_cursor
    try:
        yield
    finally:
        del wrapper.create_cursor


def _server_binding_cursor(wrapper):
    if wrapper.vendor != "postgresql" or wrapper.features.uses_server_side_binding:
        return None
    from django.db.backends.postgresql import base

    return getattr(base, "ServerBindingCursor", None)  # psycopg 3 only
