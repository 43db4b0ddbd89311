"""The JD Edwards fake's reference index follows appends, purges and a new table without a full scan per post."""

from sandbox.table_index import TableIndex


def rows(*refs):
    return [{"EDTN": ref, "EDTR": "J"} for ref in refs]


def test_appends_are_taken_in_and_the_first_row_wins():
    index, table = TableIndex("EDTN", lambda r: r["EDTR"] == "J"), rows("A", "B")
    assert set(index.first(table)) == {"A", "B"}
    table += rows("C", "A")
    table.append({"EDTN": "V", "EDTR": "V"})  # a voucher's G/L line: not a journal
    found = index.first(table)
    assert set(found) == {"A", "B", "C"} and found["A"] is table[0]


def test_a_purge_or_a_new_table_rebuilds_it():
    index, table = TableIndex("EDTN"), rows("A", "B", "C")
    index.first(table)
    del table[0]  # purged: A is gone although the table is as long again after one append
    table += rows("D")
    assert set(index.first(table)) == {"B", "C", "D"}
    table[:] = rows("E")
    assert set(index.first(table)) == {"E"}
    assert set(index.first(rows("F"))) == {"F"}


def test_rows_with_gives_every_row_of_the_values_in_table_order_and_a_new_version_rebuilds_it():
    index, table = TableIndex("EDTN"), rows("A", "B", "A", "C")
    assert [r["EDTN"] for r in index.rows_with(table, ["C", "A", "Z"])] == ["A", "A", "C"]
    table += rows("B")
    assert index.rows_with(table, ["B"]) == [table[1], table[4]]
    table[1]["EDTN"] = "D"  # changed in place: the owner bumps the version
    assert index.rows_with(table, ["D"], version=1) == [table[1]] and index.rows_with(table, ["B"], version=1) == [table[4]]
