"""How many rows each multi-row statement of a bulk write carries.

A statement of many rows (``INSERT ... VALUES (...), (...)``) costs one round trip instead of one per
row. Drivers keep the statements they prepared, one per SQL text (Python's sqlite3 keeps 128 per
connection; psycopg up to 100), each as big as its row count: statements of a page's 500 rows each
held megabytes (a 10,000-order cycle's peak memory grew by 20 MB). At most ``ROWS`` rows per
statement keeps every one of them small, and a group of posts (at most 64) still one statement.
On PostgreSQL the rows go as arrays instead (``unnest_rows``): one statement text for any row count.
"""

ROWS = 64


def chunks(rows, size=ROWS):
    """``rows`` (a sequence) in slices of at most ``size``."""
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def unnest_rows(types):
    """PostgreSQL: ``unnest(CAST(%s AS t1[]), ...)``, a statement's rows as one array parameter per column
    (``as_columns``) of the given SQL types. The statement's text and its parameter count are then the same
    for any number of rows: psycopg converts a statement's placeholders in Python on every execution unless
    the text is short and has at most 50 parameters (a group's 64-row INSERT had 700, and that conversion was
    a fifth of a cycle's own CPU on PostgreSQL), and the server prepares one statement instead of one per
    row count."""
    return "unnest(" + ", ".join(f"CAST(%s AS {sql_type}[])" for sql_type in types) + ")"


def as_columns(rows, width):
    """``rows`` (sequences of ``width`` values) as ``width`` lists, the parameters of ``unnest_rows``."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def array_type(field, connection):
    """The element type of ``field``'s array for ``unnest_rows``: its column's type, without a length or a scale.
    An explicit cast to ``varchar(n)`` would cut a longer text silently; assigned to the column, it is refused
    (a value too long is a DataError, as it is without arrays)."""
    from django.db import models

    if isinstance(field, (models.CharField, models.TextField)):
        return "text"
    if isinstance(field, models.DecimalField):
        return "numeric"
    return field.db_type(connection)
