"""An index of a fake's table (a list of row dicts) by one column, kept up to date as rows are appended.

The fakes look rows up by a column on every call (JD Edwards refuses a reference already written,
journals by VNEDTN/GLEXR, vouchers by VLEDTN/RPRMK; Procurify and BILL read records by id); a scan
of the table per call made a 10,000-record run quadratic, for the portal and for the bench's replay
alike. Writes append rows, so the index takes in the new rows; anything else (a purge, a reset's new
table) is seen by the row at the last indexed position no longer being the one indexed there, and
the index is built again. The indexed column must not change on a row once it is in the table.
"""


class TableIndex:
    """``first(rows)`` -> {column value: first row whose ``where(row)`` holds}."""

    def __init__(self, column, where=lambda row: True):
        self.column = column
        self.where = where
        self._rows = None  # the list indexed
        self._count = 0
        self._last = None
        self._first = {}

    def first(self, rows):
        if rows is not self._rows or len(rows) < self._count or (self._count and rows[self._count - 1] is not self._last):
            self._rows, self._count, self._first = rows, 0, {}
        for row in rows[self._count:]:
            if self.where(row):
                self._first.setdefault(row[self.column], row)
        self._count = len(rows)
        self._last = rows[-1] if rows else None
        return self._first
