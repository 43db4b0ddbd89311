"""JD Edwards data service reads: ``browse`` a table with conditions and ordering, following
next-page links, re-running the query when the result set expired (JAS_MSG347)."""

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from .errors import IntegrationError, Unavailable
from .jde_values import julian, strftime_pattern

MAX_REQUERIES = 2  # expired result sets re-run per browse
DEFAULT_ORDER = {
    "F0901": ("AID",),
    "F0101": ("AN8",),
    "F0401": ("AN8",),
    "F0911Z1": ("EDUS", "EDBT", "EDTN", "EDLN"),
    "F0911": ("KCO", "DCT", "DOC", "DGJ", "JELN", "LT"),
    "F0411Z1": ("EDUS", "EDBT", "EDTN", "EDLN"),
    "F0411": ("KCO", "DCT", "DOC", "SFX"),
    "F4301": ("KCOO", "DOCO", "DCTO", "SFXO"),
    "F4311": ("KCOO", "DOCO", "DCTO", "SFXO", "LNID"),
    "F0111": ("AN8", "IDLN"),
    "F01151": ("AN8", "IDLN", "RCK7"),
    "F0115": ("AN8", "IDLN", "RCK7"),
}
OPERATOR_ALIASES = {"=": "EQUAL", "==": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", "<=": "LESS_EQUAL", ">": "GREATER",
                    ">=": "GREATER_EQUAL", "EQ": "EQUAL", "NE": "NOT_EQUAL", "LT": "LESS", "LE": "LESS_EQUAL",
                    "GT": "GREATER", "GE": "GREATER_EQUAL", "IN": "LIST"}


class ResultSetExpired(Unavailable):
    """JAS_MSG347: the next-page result set was closed on the server (re-query; asking again is useless)."""

    retryable = False


class TableBrowsing:
    """Mixed into ``JdeClient``: needs ``call``, ``_url``, ``_rebase``, ``_json``, ``scrub``, ``user_info``."""

    def browse(self, table, columns, conditions=(), page_size=500, order_by=None, *, match_any=False) -> Iterator[dict]:
        """Rows of ``table`` (keys: bare aliases) matching ``conditions``, following next-page links.

        ``conditions``: ``(column, operator, value)`` with JDE operators (EQUAL, LIST, BETWEEN,
        STR_START_WITH...; ``=``, ``<=``, ``IN``... are accepted too); ``value`` is a list for
        BETWEEN and LIST, None for STR_BLANK/STR_NOT_BLANK; dates may be ``datetime.date``.
        ``order_by``: columns, ``"-COL"`` for descending, or ``(column, "ASC"|"DESC")``;
        default: the table's key, so a re-run after an expired result set can skip what was
        already delivered.
        """
        table = str(table).upper()
        body = {"targetName": table, "targetType": "table", "dataServiceType": "BROWSE", "outputType": "GRID_DATA",
                "findOnEntry": "TRUE", "returnControlIDs": "|".join(_qualify(table, c) for c in columns),
                "maxPageSize": str(int(page_size)), "enableNextPageProcessing": True}
        if conditions:
            body["query"] = {"autoFind": True, "matchType": "MATCH_ANY" if match_any else "MATCH_ALL",
                             "condition": [self._condition(table, c) for c in conditions]}
        order = list(order_by) if order_by is not None else list(DEFAULT_ORDER.get(table, ()))
        if order:
            body["aggregation"] = {"orderBy": [_order_item(table, o) for o in order]}
        delivered, requeries = 0, 0
        while True:
            try:
                for index, row in enumerate(self._pages(table, body)):
                    if index < delivered:
                        continue
                    delivered += 1
                    yield row
                return
            except ResultSetExpired:
                requeries += 1
                if requeries > MAX_REQUERIES or not order:
                    raise

    def _pages(self, table, body):
        response = self.call("POST", self._url("dataservice"), idempotent=True, json_body=body)
        while True:
            data = self._json(response)
            form = data.get(f"fs_DATABROWSE_{table}")
            if not isinstance(form, dict):
                errors = data.get("sysErrors") or data.get("errors")
                raise IntegrationError(f"JD Edwards answered no fs_DATABROWSE_{table}"
                                       f"{': ' + self.scrub(str(errors)[:300]) if errors else ''}",
                                       code="JDE-BAD-ANSWER", status=response.status_code)
            grid = (form.get("data") or {}).get("gridData") or {}
            prefix = f"{table}_"
            for row in grid.get("rowset") or []:
                yield {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in row.items()}
            href = next((link.get("href") for link in data.get("links") or []
                         if isinstance(link, dict) and link.get("rel") == "next" and link.get("href")), None)
            if not href:
                return
            response = self.call("POST", self._rebase(href), idempotent=True, json_body={})

    def _condition(self, table, condition):
        column, operator, value = condition
        operator = OPERATOR_ALIASES.get(str(operator).upper(), str(operator).upper())
        if value is None:
            values = []
        elif isinstance(value, (list, tuple, set, frozenset)):
            values = list(value)
        else:
            values = [value]
        return {"controlId": _qualify(table, column), "operator": operator,
                "value": [{"content": self._literal(v), "specialValueId": "LITERAL"} for v in values]}

    def _literal(self, value):
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            style = self.date_literal_format.lower()
            if style == "julian":
                return str(julian(value))
            if style == "user":
                pattern = strftime_pattern(self.user_info.get("simpleDateFormat"))
                if pattern:
                    return value.strftime(pattern)
            return value.strftime("%Y%m%d")
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, Decimal):
            return format(value, "f")
        return str(value)


def _qualify(table, column):
    column = str(column).strip()
    if "." in column:
        return column
    if column.upper().startswith(f"{table}_"):
        column = column[len(table) + 1:]
    return f"{table}.{column.upper()}"


def _order_item(table, item):
    if isinstance(item, (tuple, list)):
        column, direction = item[0], str(item[1] if len(item) > 1 else "ASC").upper()
    else:
        text = str(item)
        column, direction = (text[1:], "DESC") if text.startswith("-") else (text, "ASC")
    return {"column": _qualify(table, column), "direction": direction}
