"""Bulk writes go in statements of at most 64 rows, each row once and in order."""

import pytest

from portal.statement_rows import ROWS, chunks


@pytest.mark.parametrize("total", [0, 1, 63, 64, 65, 150, 1000])
def test_every_row_is_written_once_in_order_at_most_64_a_statement(total):
    rows = list(range(total))
    parts = list(chunks(rows))
    assert [r for part in parts for r in part] == rows
    assert all(0 < len(part) <= ROWS == 64 for part in parts)
    assert len(parts) == -(-total // ROWS)
