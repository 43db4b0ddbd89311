"""Fast bulk inserts with ids chosen by the caller: COPY on PostgreSQL (psycopg 3), executemany elsewhere.

The ORM's bulk_create converts every value through its field (a few microseconds each) and, on
PostgreSQL, sends INSERT statements; a million audit rows would take minutes. Here a row is a
tuple of plain Python values in the order of ``columns`` (field names), converted once per column
kind: PostgreSQL gets COPY's text format, SQLite its own storage forms (the same the ORM writes).
The caller gives explicit ids (``next_id``), so rows can point at rows written a moment before;
``reset_sequences`` moves the id sequences past them afterwards.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC

from django.core.management.color import no_style
from django.db import connection, models

COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def is_postgres():
    return connection.vendor == "postgresql"


def _pg_text(kind):
    def text(value):
        return str(value).translate(COPY_ESCAPES)

    if kind == "JSONField":
        return lambda v: json.dumps(v, separators=(",", ":")).translate(COPY_ESCAPES)
    if kind == "BooleanField":
        return lambda v: "t" if v else "f"
    if kind == "DateTimeField":
        return lambda v: v.isoformat()
    return text


def _sqlite_value(kind):
    if kind == "JSONField":
        return lambda v: json.dumps(v, separators=(",", ":"))
    if kind == "DateTimeField":
        # the ORM stores naive UTC text on SQLite
        return lambda v: v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if kind == "UUIDField":
        return lambda v: v.hex
    if kind == "DecimalField":
        return str
    if kind == "BooleanField":
        return int
    return lambda v: v


class BulkWriter:
    """Writes tuples into ``model``'s table, ``chunk`` rows per round trip."""

    def __init__(self, model: type[models.Model], columns: list[str], chunk: int = 20000, progress=None):
        self.model = model
        self.progress = progress  # called with the rows written so far after each chunk
        self.fields = [model._meta.get_field(name) for name in columns]
        self.table = model._meta.db_table
        self.chunk = chunk
        kinds = [f.get_internal_type() for f in self.fields]
        maker = _pg_text if is_postgres() else _sqlite_value
        self.converters = [maker(k) for k in kinds]
        self.written = 0

    def write(self, rows):
        """Insert every row of the iterable ``rows``; returns how many were written."""
        buffer = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= self.chunk:
                self._flush(buffer)
                buffer = []
        if buffer:
            self._flush(buffer)
        return self.written

    def _flush(self, rows):
        quote = connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in self.fields)
        with connection.cursor() as cursor:
            if is_postgres():
                self._copy(cursor, names, rows)
            else:
                marks = ", ".join(["%s"] * len(self.fields))
                cursor.executemany(f"INSERT INTO {quote(self.table)} ({names}) VALUES ({marks})",
                                   [self._plain(row) for row in rows])
        self.written += len(rows)
        if self.progress:
            self.progress(self.written)

    def _plain(self, row):
        return tuple(None if v is None else conv(v) for v, conv in zip(row, self.converters, strict=True))

    def _copy(self, cursor, names, rows):
        convs = self.converters
        lines = "".join(
            "\t".join("\\N" if v is None else conv(v) for v, conv in zip(row, convs, strict=True)) + "\n" for row in rows
        )
        raw = cursor.cursor  # Django's wrapper -> the psycopg 3 cursor, which has copy()
        with raw.copy(f"COPY {connection.ops.quote_name(self.table)} ({names}) FROM STDIN") as copy:
            copy.write(lines)


def next_id(model):
    """The first id above every stored row of ``model``."""
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def reset_sequences(*model_classes):
    """Point the id sequences past the ids written by hand (PostgreSQL; SQLite follows max(id) itself)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(model_classes))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


@contextmanager
def indexes_built_after(model):
    """On PostgreSQL, load ``model``'s table without its secondary indexes and foreign keys, then rebuild them.

    Maintaining ten indexes row by row, and checking three deferred foreign keys per row at
    commit, cost more than the load itself; building each index once and validating each key in
    one pass over the table is several times faster. Inside the caller's transaction: a failed
    load rolls back to the indexes and keys as they were. Indexes behind constraints (primary
    key, unique) stay. Other databases load as they are.
    """
    if not is_postgres():
        yield
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = %s"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)",
            [table],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        keys = cursor.fetchall()
        quote = connection.ops.quote_name
        for name, _ in keys:
            cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quote(name)}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for name, definition in keys:
            cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")


def analyze():
    """On PostgreSQL, VACUUM ANALYZE the database after a load (outside any transaction).

    The planner needs statistics for the new rows, and the small tables (tenants, flows) too: with
    none it takes a tenant to have one flow and sorts a whole tenant's batches for a list page.
    VACUUM also sets the visibility map, so counts can be answered from an index alone."""
    if is_postgres() and not connection.in_atomic_block:  # (a test's transaction: autovacuum will see to it)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
