"""JD Edwards fake: table query conditions, selection and ordering for the data service.

Operators and ``specialValueId`` values as listed in shared/reference/jde.md ("Reads").
"""

import datetime as dt
import re
from decimal import InvalidOperation

from . import jde_data as data
from .table_index import TableIndex

# Columns a row keeps once written (address and order numbers): an EQUAL or LIST condition on one reads the
# matching rows from an index. Reading 5,000 suppliers as 100-number LIST chunks over F0401, F0101, F0111 and
# F01151 scanned each table once a chunk.
KEY_COLUMNS = ("AN8", "DOCO")
OPERATORS = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "BETWEEN", "LIST",
             "STR_START_WITH", "STR_END_WITH", "STR_CONTAIN", "STR_BLANK", "STR_NOT_BLANK")


class QueryMixin:
    """Columns, literals, predicates, ``_select`` and ``_order`` over ``tables``."""

    def _table(self, name):
        table = data.TABLES.get(str(name or "").upper())
        if table is None:
            raise self._fail(400, f"Table {name} is not available on this server (sandbox tables: "
                                  f"{', '.join(data.TABLES)})")
        return str(name).upper(), table

    def _column(self, table_name, table, control_id):
        text = str(control_id or "").strip()
        if "." in text:
            owner, _, alias = text.partition(".")
            if owner.upper() != table_name:
                raise self._fail(400, f"Column {text} does not belong to {table_name}")
        else:
            alias = text
        alias = alias.upper()
        if alias not in table["columns"]:
            raise self._fail(400, f"Column {text} is not in {table_name}")
        return alias

    def _columns(self, table_name, table, value):
        if not value:
            return list(table["columns"])
        items = value if isinstance(value, list) else str(value).split("|")
        return [self._column(table_name, table, item) for item in items if str(item).strip()]

    def _literal(self, item, session):
        if not isinstance(item, dict):
            return item
        special = str(item.get("specialValueId") or "LITERAL").upper()
        content = item.get("content")
        if special == "LITERAL":
            return content
        if special == "LOGIN_USER":
            return session["user"]
        if special == "TODAY":
            return self.today()
        match = re.fullmatch(r"TODAY_(MINUS|PLUS)_(DAY|MONTH|YEAR)", special)
        if not match:
            raise self._fail(400, f"specialValueId {special} is not supported")
        try:
            amount = int(content or 0)
        except (TypeError, ValueError):
            raise self._fail(400, f"{special} needs a whole number content, not {content!r}")
        amount = -amount if match.group(1) == "MINUS" else amount
        today = self.today()
        if match.group(2) == "DAY":
            return today + dt.timedelta(days=amount)
        months = today.year * 12 + today.month - 1 + (amount if match.group(2) == "MONTH" else amount * 12)
        year, month = divmod(months, 12)
        day = min(today.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                              31, 31, 30, 31, 30, 31][month])
        return dt.date(year, month + 1, day)

    def _predicate(self, table_name, table, condition, session):
        if not isinstance(condition, dict):
            raise self._fail(400, "A query condition must be an object")
        alias = self._column(table_name, table, condition.get("controlId"))
        kind = table["columns"][alias][0]
        operator = str(condition.get("operator") or "").upper()
        if operator not in OPERATORS:
            raise self._fail(400, f"Operator {operator or '(none)'} is not supported")
        raw = condition.get("value")
        raw = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        literals = [self._literal(item, session) for item in raw]
        needed = {"BETWEEN": 2, "STR_BLANK": 0, "STR_NOT_BLANK": 0}.get(operator)
        if needed is not None and len(literals) < needed:
            raise self._fail(400, f"Operator {operator} needs {needed} values")
        if needed is None and not literals:
            raise self._fail(400, f"Operator {operator} needs a value")
        try:
            if operator.startswith("STR_"):
                text = str(literals[0]) if literals else ""
                tests = {
                    "STR_START_WITH": lambda v: v.startswith(text),
                    "STR_END_WITH": lambda v: v.endswith(text),
                    "STR_CONTAIN": lambda v: text in v,
                    "STR_BLANK": lambda v: v == "",
                    "STR_NOT_BLANK": lambda v: v != "",
                }[operator]
                return lambda row: tests(str(row.get(alias) if row.get(alias) is not None else "").strip())
            values = [self._comparable(kind, v) for v in literals]
        except (ValueError, InvalidOperation, ArithmeticError):
            raise self._fail(400, f"Value {literals!r} does not fit column {table_name}.{alias}")

        def value_of(row):
            return self._comparable(kind, row.get(alias))

        first = values[0]
        try:  # a set: a LIST of 100 address numbers tested against every row of F0101 was a list scan a row
            members = frozenset(values)
        except TypeError:
            members = values
        return {
            "EQUAL": lambda row: value_of(row) == first,
            "NOT_EQUAL": lambda row: value_of(row) != first,
            "LESS": lambda row: value_of(row) < first,
            "LESS_EQUAL": lambda row: value_of(row) <= first,
            "GREATER": lambda row: value_of(row) > first,
            "GREATER_EQUAL": lambda row: value_of(row) >= first,
            "BETWEEN": lambda row: first <= value_of(row) <= values[1],
            "LIST": lambda row: value_of(row) in members,
        }[operator]

    def _select(self, table_name, table, query, session):
        rows = self.tables[table_name]
        if not query:
            return list(rows)
        if not isinstance(query, dict):
            raise self._fail(400, "query must be an object")
        conditions = query.get("condition") or []
        if not isinstance(conditions, list):
            raise self._fail(400, "query.condition must be a list")
        predicates = [self._predicate(table_name, table, c, session) for c in conditions]
        if not predicates:
            return list(rows)
        combine = any if str(query.get("matchType") or "MATCH_ALL").upper() == "MATCH_ANY" else all
        if combine is all:
            keyed = self._keyed(table_name, table, conditions, session)
            rows = rows if keyed is None else keyed
        return [row for row in rows if combine(p(row) for p in predicates)]

    def _keyed(self, table_name, table, conditions, session):
        """The rows (in table order) an EQUAL or LIST condition on a key column can match; None: scan the table.
        Called once the conditions are known to be valid."""
        for condition in conditions:
            alias = self._column(table_name, table, condition.get("controlId"))
            if alias not in KEY_COLUMNS or str(condition.get("operator") or "").upper() not in ("EQUAL", "LIST"):
                continue
            kind = table["columns"][alias][0]
            raw = condition.get("value")
            values = [self._comparable(kind, self._literal(v, session)) for v in (raw if isinstance(raw, list) else [raw])]
            indexes = self.__dict__.setdefault("_key_indexes", {})
            index = indexes.get((table_name, alias))
            if index is None:
                index = indexes[(table_name, alias)] = TableIndex(lambda row, a=alias, k=kind: self._comparable(k, row.get(a)))
            return index.rows_with(self.tables[table_name], values)
        return None

    def _order(self, table_name, table, rows, order_by):
        if not order_by:
            return rows
        if not isinstance(order_by, list):
            raise self._fail(400, "aggregation.orderBy must be a list")
        for item in reversed(order_by):
            if not isinstance(item, dict):
                raise self._fail(400, "an orderBy entry must be an object")
            alias = self._column(table_name, table, item.get("column"))
            kind = table["columns"][alias][0]
            descending = str(item.get("direction") or "ASC").upper() == "DESC"
            rows = sorted(rows, key=lambda r, a=alias, k=kind: self._comparable(k, r.get(a)), reverse=descending)
        return rows
