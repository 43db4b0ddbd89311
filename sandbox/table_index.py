"""An index of a fake's table (a list of row dicts) by one column, kept up to date as rows are appended.

The fakes look rows up by a column on every call (JD Edwards refuses a reference already written,
journals by VNEDTN/GLEXR, vouchers by VLEDTN/RPRMK; Procurify and BILL read records by id); a scan
of the table per call made a 10,000-record run quadratic, for the portal and for the bench's replay
alike. Writes append rows, so the index takes in the new rows; anything else (a purge, a reset's new
table) is seen by the row at the last indexed position no longer being the one indexed there, and
the index is built again. The indexed column must not change on a row once it is in the table, unless
the caller passes a ``version`` that it changes with every such change (the index is then built again).
``column`` is a key name or a function of the row (a nested or normalised value).
"""

from operator import itemgetter


class TableIndex:
    """``first(rows)`` -> {column value: first row whose ``where(row)`` holds}; ``rows_with(rows, values)``."""

    def __init__(self, column, where=lambda row: True):
        self.column = column
        self.key = column if callable(column) else itemgetter(column)
        self.where = where
        self._rows = None  # the list indexed
        self._count = 0
        self._last = None
        self._version = None
        self._first = {}
        self._every = {}

    def _follow(self, rows, version):
        stale = rows is not self._rows or len(rows) < self._count or version != self._version
        if stale or (self._count and rows[self._count - 1] is not self._last):
            self._rows, self._count, self._version, self._first, self._every = rows, 0, version, {}, {}
        for position in range(self._count, len(rows)):
            row = rows[position]
            if self.where(row):
                key = self.key(row)
                self._first.setdefault(key, row)
                self._every.setdefault(key, []).append((position, row))
        self._count = len(rows)
        self._last = rows[-1] if rows else None

    def first(self, rows, version=None):
        self._follow(rows, version)
        return self._first

    def rows_with(self, rows, keys, version=None):
        """The rows whose value is one of ``keys`` (and ``where`` holds), in table order, each once."""
        self._follow(rows, version)
        found = {}
        for key in dict.fromkeys(keys):
            for position, row in self._every.get(key, ()):
                found[position] = row
        return [found[p] for p in sorted(found)]
