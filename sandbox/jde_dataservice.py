"""JD Edwards fake: the data service (BROWSE, next page, simple table GET) and its GRID_DATA answers.

Open result sets expire ``result_set_timeout`` seconds after last use, then ``next``
answers 500 JAS_MSG347 (shared/reference/jde.md, "Paging").
"""

import secrets

from . import jde_data as data
from .http import json_response
from .jde_errors import JdeError, truthy

RESULT_SET_EXPIRED = ("JAS_MSG347: The query results expired. The results of this query are no longer available "
                      "on the server; run the query again.")
SIMPLE_OPERATORS = {"EQ": "EQUAL", "NE": "NOT_EQUAL", "LT": "LESS", "LE": "LESS_EQUAL", "GT": "GREATER",
                    "GE": "GREATER_EQUAL", "STARTSWITH": "STR_START_WITH", "ENDSWITH": "STR_END_WITH",
                    "CONTAINS": "STR_CONTAIN"}


class DataServiceMixin:
    """``dataservice``, ``dataservice/next`` and ``dataservice/table`` over ``result_sets``."""

    def _page_size(self, value):
        if value is None or value == "":
            return int(self.settings.get("default_page_size") or 100)
        if isinstance(value, str) and value.strip().lower() == "no max":
            return None
        try:
            size = int(value)
        except (TypeError, ValueError):
            raise self._fail(400, f"maxPageSize {value!r} is not a number")
        if size < 1:
            raise self._fail(400, "maxPageSize must be at least 1")
        return size

    def _grid(self, table_name, table, columns, rows, more, *, grid_id=1):
        records = [{f"{table_name}_{a}": self._out(table["columns"][a][0], row.get(a)) for a in columns} for row in rows]
        return {
            "title": f"Data Browser - {table_name} [{table['title']}]",
            "data": {"gridData": {
                "id": grid_id, "fullGridId": str(grid_id),
                "columns": {f"{table_name}_{a}": table["columns"][a][1] for a in columns},
                "rowset": records,
                "summary": {"records": len(records), "moreRecords": bool(more)},
            }},
            "errors": [], "warnings": [],
        }

    def _envelope(self, table_name, grid, links=None):
        body = {f"fs_DATABROWSE_{table_name}": grid, "currentApp": f"DATABROWSE_{table_name}",
                "timeStamp": self._stamp(), "sysErrors": []}
        if links:
            body["links"] = links
        return body

    def _dataservice(self, req, route):
        body = self._json_body(req)
        session = self._session(req, body)
        target_type = str(body.get("targetType") or "table").lower()
        if target_type != "table":
            raise self._fail(400, f"targetType {target_type} is not supported by the sandbox (tables only)")
        kind = str(body.get("dataServiceType") or "BROWSE").upper()
        if kind != "BROWSE":
            raise self._fail(400, f"dataServiceType {kind} is not supported by the sandbox (BROWSE only)")
        table_name, table = self._table(body.get("targetName"))
        columns = self._columns(table_name, table, body.get("returnControlIDs"))
        rows = self._select(table_name, table, body.get("query"), session)
        rows = self._order(table_name, table, rows, (body.get("aggregation") or {}).get("orderBy"))
        size = self._page_size(body.get("maxPageSize"))
        page, rest = (rows, []) if size is None else (rows[:size], rows[size:])
        links = None
        if rest and truthy(body.get("enableNextPageProcessing")):
            self._stack += 1
            rid = secrets.token_hex(8)
            self.result_sets[rid] = {
                "table": table_name, "columns": columns, "rows": [dict(r) for r in rest], "size": size,
                "stack": self._stack, "state": 1,
                "expires": self.sandbox.clock() + float(self.settings.get("result_set_timeout") or 60),
            }
            links = [self._next_link(req, route, rid)]
        return json_response(self._envelope(table_name, self._grid(table_name, table, columns, page, bool(rest)), links))

    def _next_link(self, req, route, rid):
        rs = self.result_sets[rid]
        host = req.headers.get("host", "localhost")
        version = route.version if route.version != "v1" else "v2"
        href = (f"http://{host}/{self.name}/jderest/{version}/dataservice/next?stackId={rs['stack']}"
                f"&stateId={rs['state']}&rid={rid}&fullGridId=1")
        return {"rel": "next", "href": href, "context": f"DATABROWSE_{rs['table']}"}

    def _next_page(self, req, route):
        body = self._json_body(req, required=False) if req.body else {}
        self._session(req, body)
        rid = req.arg("rid") or body.get("rid")
        rs = self.result_sets.get(rid or "")
        if rs is None or self.sandbox.clock() >= rs["expires"]:
            self.result_sets.pop(rid or "", None)
            raise JdeError(500, {"sysErrors": [{"TITLE": RESULT_SET_EXPIRED,
                                                "DESC": "The result set of this query was closed after "
                                                        "resultSetTimeout; query again from the start."}]})
        table_name = rs["table"]
        table = data.TABLES[table_name]
        page, rest = rs["rows"][:rs["size"]], rs["rows"][rs["size"]:]
        links = None
        if rest:
            rs["rows"] = rest
            rs["state"] += 1
            rs["expires"] = self.sandbox.clock() + float(self.settings.get("result_set_timeout") or 60)
            links = [self._next_link(req, route, rid)]
        else:
            del self.result_sets[rid]
        return json_response(self._envelope(table_name, self._grid(table_name, table, rs["columns"], page, bool(rest)),
                                            links))

    def _table_get(self, req, route):
        session = self._session(req, {})
        table_name, table = self._table(route.name)
        fields = [f for value in req.query.get("$field", []) for f in value.split(",") if f.strip()]
        columns = self._columns(table_name, table, fields)
        conditions = []
        for text in req.query.get("$filter", []):
            pieces = text.strip().split(None, 2)
            if len(pieces) != 3 or pieces[1].upper() not in SIMPLE_OPERATORS:
                raise self._fail(400, f"$filter {text!r}: expected '<TABLE.ALIAS> <EQ|NE|LT|LE|GT|GE|STARTSWITH|"
                                      "ENDSWITH|CONTAINS> <value>'")
            value = pieces[2].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            conditions.append({"controlId": pieces[0], "operator": SIMPLE_OPERATORS[pieces[1].upper()],
                               "value": [{"content": value, "specialValueId": "LITERAL"}]})
        rows = self._select(table_name, table, {"condition": conditions}, session)
        order = []
        for text in req.query.get("$sort", []):
            for item in text.split(","):
                pieces = item.split()
                if pieces:
                    order.append({"column": pieces[0], "direction": pieces[1].upper() if len(pieces) > 1 else "ASC"})
        rows = self._order(table_name, table, rows, order)
        limit = self._page_size(req.arg("$limit"))
        page = rows if limit is None else rows[:limit]
        return json_response(self._envelope(table_name, self._grid(table_name, table, columns, page, len(page) < len(rows))))
