"""BILL v3 wire conventions shared by the fake's handlers: errors, filters, sort, paging.

Errors (developer.bill.com docs/api-response-format, common-api-error-codes): HTTP 4xx/5xx with a
JSON array ``[{"timestamp", "code": "BDC_1109", "severity": "ERROR", "category": "DOWNSTREAM",
"message"}]``. Codes from the docs: BDC_1101 wrong username/password, BDC_1102 invalid devKey,
BDC_1109 session invalid, BDC_1121 unknown API, BDC_1144 hourly limit, BDC_1322 concurrent limit.
The HTTP status for each is UNCONFIRMED (the sandbox answers 401 for auth, 404 for unknown API,
``limit_http_status`` (429) for the limits). Validation failures and unknown ids use
``VALIDATION`` and ``NOT_FOUND`` below: sandbox codes, because the docs list no code for them.

Lists (docs/search-op-with-lists, v3): ``max`` (default 20, at most 100; a larger value is read
as 100, UNCONFIRMED), ``page`` = the opaque ``nextPage``/``prevPage`` token of the previous
answer, ``filters=field:op:value,...`` with ops eq ne gt gte lt lte in nin sw (string and date
values quoted; ``in``/``nin`` take one quoted string of comma-separated values, ``invoiceCurrency:in:"USD,CAD"``
per developer.bill.com docs/search-op-with-lists; quoted values separated by ``|`` are read too), dotted fields
reach nested values (``invoice.invoiceNumber``, UNCONFIRMED), ``sort=field:asc|desc``. The answer
is ``{"results": [...], "nextPage": "...", "prevPage": "..."}``; a missing token means no page
that way (UNCONFIRMED: the sandbox omits the key).
"""

import base64
import datetime as dt
import functools
import hashlib
import json

from .http import Response
from .world import parse_when

VALIDATION = "BDC_1000"  # sandbox code: the request body or query is invalid
NOT_FOUND = "BDC_1001"  # sandbox code: no such object
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw")


class BdcError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self, now=None):
        when = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
        body = [{"timestamp": when, "code": self.code, "severity": "ERROR", "category": "DOWNSTREAM", "message": self.message}]
        return Response(self.status, body)


def invalid(message):
    return BdcError(400, VALIDATION, message)


def _split(text, sep):
    """Split on ``sep`` outside double quotes."""
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _value(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return {"true": True, "false": False, "null": None}.get(text, text)


def _values(raw):
    """The values of an ``in``/``nin`` filter: ``"a,b"`` (documented) or ``"a"|"b"``."""
    values = []
    for part in _split(raw, "|"):
        value = _value(part)
        values.extend(value.split(",") if isinstance(value, str) else [value])
    return values


def parse_filters(text):
    filters = []
    for clause in _split(text or "", ","):
        if not clause.strip():
            continue
        pieces = _split(clause, ":")
        if len(pieces) < 3 or pieces[1].strip() not in OPS:
            raise invalid(f"Invalid filter '{clause}': use field:op:value with op one of {', '.join(OPS)}")
        field, op, raw = pieces[0].strip(), pieces[1].strip(), ":".join(pieces[2:])
        value = _values(raw) if op in ("in", "nin") else _value(raw)
        filters.append((field, op, value))
    return filters


def lookup(obj, field):
    for part in field.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def comparable(field, value):
    if isinstance(value, str) and (field.endswith("Time") or field.endswith("Date")):
        parsed = _when(value)
        if parsed is not None:
            return parsed
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def matches(obj, filters):
    for field, op, wanted in filters:
        have = comparable(field, lookup(obj, field))
        if op in ("in", "nin"):
            hit = have in [comparable(field, w) for w in wanted]
            if hit != (op == "in"):
                return False
            continue
        want = comparable(field, wanted)
        if op == "sw":
            if not str(have or "").lower().startswith(str(want or "").lower()):
                return False
            continue
        if op in ("eq", "ne"):
            if (have == want) != (op == "eq"):
                return False
            continue
        try:
            ok = {"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[op]
        except TypeError:
            raise invalid(f"Filter on '{field}' compares values of different types")
        if not ok:
            return False
    return True


def sort(rows, text):
    for clause in reversed([c for c in (text or "").split(",") if c.strip()]):
        field, _, direction = clause.partition(":")
        if direction.strip() not in ("", "asc", "desc"):
            raise invalid(f"Invalid sort '{clause}': use field:asc or field:desc")
        name = field.strip()
        rows = sorted(rows, key=lambda r, f=name: _key(comparable(f, lookup(r, f))), reverse=direction.strip() == "desc")
    return rows


@functools.lru_cache(maxsize=1 << 16)
def _when(value):
    """A row's stamp parsed once for every list and page, not once a row a page (the 5,000 vendors and payments of
    a 10,000-report bench, 100 a page, were parsed twice a row for each of their 50 pages)."""
    return parse_when(value)


def _key(value):
    if value is None:
        return (0, "")
    if isinstance(value, dt.datetime):
        return (1, value.isoformat())
    if isinstance(value, (int, float)):
        return (2, f"{value:020.4f}")
    return (3, str(value))


def page(req, rows, query_key):
    """Filter, sort and cut one page; returns the response body."""
    try:
        size = int(req.arg("max") or 20)
    except ValueError:
        raise invalid("max must be a number")
    size = max(1, min(size, 100))
    offset = 0
    token = req.arg("page")
    signature = hashlib.sha256(query_key.encode()).hexdigest()[:12]
    if token:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
            offset, signed = int(state["o"]), state["q"]
        except (ValueError, KeyError, TypeError):
            raise invalid("Invalid page token")
        if signed != signature:
            raise invalid("The page token belongs to another query")
    chunk = rows[offset : offset + size]

    def link(start):
        return base64.urlsafe_b64encode(json.dumps({"o": start, "q": signature}).encode()).decode().rstrip("=")

    body = {"results": chunk}
    if offset + size < len(rows):
        body["nextPage"] = link(offset + size)
    if offset > 0:
        body["prevPage"] = link(max(0, offset - size))
    return body
