"""How many rows each multi-row statement of a bulk write carries.

A statement of many rows (``INSERT ... VALUES (...), (...)``) costs one round trip instead of one per
row. Drivers keep the statements they prepared, one per SQL text (Python's sqlite3 keeps 128 per
connection; psycopg up to 100), each as big as its row count: statements of a page's 500 rows each
held megabytes (a 10,000-order cycle's peak memory grew by 20 MB). At most ``ROWS`` rows per
statement keeps every one of them small, and a group of posts (at most 64) still one statement.
"""

ROWS = 64


def chunks(rows, size=ROWS):
    """``rows`` (a sequence) in slices of at most ``size``."""
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
