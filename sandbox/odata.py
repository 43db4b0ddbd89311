"""Generic OData v4 query handling for the fakes: ``$filter``, ``$select``, ``$orderby``,
``$top``, ``$skip``, ``$count``, server-driven paging and the JSON answer shapes.

Written from the OData 4.01 URL conventions (part 2, system query options) and the JSON
format (``@odata.context``, ``@odata.etag``, ``@odata.nextLink``, ``@odata.count``, the
error body ``{"error": {"code", "message", "details"}}``). Knows nothing of any vendor:
a fake describes its entity sets with ``EntitySet`` and calls ``query``.

``$filter`` grammar served: comparisons ``eq ne gt ge lt le`` between a property and a
literal (either side), ``and``, ``or``, ``not``, parentheses, and the string functions
``contains``, ``startswith``, ``endswith`` (plus ``tolower``/``toupper`` on a property).
Literals: ``'text'`` (``''`` escapes a quote), integers and decimals, ``true``,
``false``, ``null``, and bare ISO dates / date-times (compared as ISO text). Anything else
is a 400 with an OData error body.
"""

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import quote, urlencode

from .http import HttpError, Response


class ODataError(HttpError):
    """An answer in OData's error shape; ``code`` is the service's own error code."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message, status=status)
        self.code = code
        self.details = details or []
        self.headers = headers or {}

    def response(self):
        body = {"error": {"code": self.code, "message": self.message}}
        if self.details:
            body["error"]["details"] = self.details
        return odata_response(body, self.status, headers=self.headers)


_MARK = "\x00DEC:"
_MARKED = re.compile(r'"\\u0000DEC:(-?[0-9.]+)"')


def dumps(body, ieee754=False):
    """JSON with Decimals as exact numbers (or as strings when the client asked IEEE754Compatible)."""
    if ieee754:
        return json.dumps(body, default=lambda v: format(v, "f") if isinstance(v, Decimal) else _refuse(v))
    text = json.dumps(body, default=lambda v: _MARK + format(v, "f") if isinstance(v, Decimal) else _refuse(v))
    return _MARKED.sub(lambda m: m.group(1), text)


def _refuse(value):
    raise TypeError(f"{type(value).__name__} is not JSON")


def odata_response(body, status=200, headers=None, ieee754=False):
    headers = {"OData-Version": "4.0", **(headers or {})}
    content_type = "application/json;odata.metadata=minimal" + (";IEEE754Compatible=true" if ieee754 else "")
    return Response(status, dumps(body, ieee754).encode("utf-8"), headers=headers, content_type=content_type)


def wants_ieee754(req):
    return (
        "ieee754compatible=true" in (req.headers.get("accept", "") + req.headers.get("content-type", "")).replace(" ", "").lower()
    )


def parse_json_body(req):
    """The request body as a JSON object, Decimals kept exact; ODP_DESERIALIZATION_ERROR otherwise."""
    ctype = req.headers.get("content-type", "")
    if "json" not in ctype.lower():
        raise ODataError(
            400,
            "ODP_DESERIALIZATION_ERROR",
            "Error while de-serializing contents.",
            [{"code": "ODP_CONTENT_TYPE", "message": f"Content-Type {ctype or '(none)'} is not JSON"}],
        )
    try:
        body = json.loads(req.body or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ODataError(400, "ODP_DESERIALIZATION_ERROR", "Error while de-serializing contents.") from None
    if not isinstance(body, dict):
        raise ODataError(400, "ODP_DESERIALIZATION_ERROR", "Error while de-serializing contents.")
    return body


# -- entity sets ---------------------------------------------------------------------------------------------
EDM_TYPES = {
    "string": "Edm.String",
    "decimal": "Edm.Decimal",
    "int": "Edm.Int32",
    "date": "Edm.Date",
    "datetime": "Edm.DateTimeOffset",
    "bool": "Edm.Boolean",
}


@dataclass
class EntitySet:
    name: str  # e.g. "CodePartValueSet"
    entity_type: str  # e.g. "CodePartValue"
    keys: tuple  # key property names, in key order
    properties: dict  # name -> "string" | "decimal" | "int" | "date" | "datetime" | "bool"
    navigation: dict = field(default_factory=dict)  # name -> target entity set (a collection)
    nullable: tuple = ()  # properties that may be null

    def key_text(self, row):
        """``Company='10',CodePart='B'`` for a row (OData key predicate)."""
        parts = []
        for key in self.keys:
            value = row[key]
            text = f"'{str(value).replace(chr(39), chr(39) * 2)}'" if self.properties[key] == "string" else str(value)
            parts.append(f"{key}={text}")
        return ",".join(parts)


KEY_RE = re.compile(r"^(\w+)\((.*)\)$")


def parse_key(entity_set, text):
    """``Company='10',VoucherNo=7`` (or a lone value for a one-key set) -> {key: value}."""
    values, rest = {}, text.strip()
    pairs = _split_top(rest, ",")
    if len(pairs) == 1 and "=" not in pairs[0] and len(entity_set.keys) == 1:
        pairs = [f"{entity_set.keys[0]}={pairs[0]}"]
    for pair in pairs:
        name, _, literal = pair.partition("=")
        name = name.strip()
        if name not in entity_set.keys:
            raise ODataError(400, "ODP_BAD_REQUEST", f"{name!r} is not a key of {entity_set.name}")
        values[name] = _literal_value(literal.strip())
    if set(values) != set(entity_set.keys):
        raise ODataError(400, "ODP_BAD_REQUEST", f"{entity_set.name} is keyed by {', '.join(entity_set.keys)}")
    return values


def _split_top(text, sep):
    out, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [p for p in out if p.strip()]


def _literal_value(text):
    tokens = list(_tokens(text))
    if len(tokens) != 1 or tokens[0][0] != "lit":
        raise ODataError(400, "ODP_BAD_REQUEST", f"{text!r} is not a literal")
    return tokens[0][1]


# -- $filter --------------------------------------------------------------------------------------------------
TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?)"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w/]*)|(?P<punct>[(),]))"
)
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = ("contains", "startswith", "endswith", "tolower", "toupper")


def _tokens(text):
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: cannot read {text[pos : pos + 20]!r}")
        pos = m.end()
        if m.group("str") is not None:
            yield ("lit", m.group("str")[1:-1].replace("''", "'"))
        elif m.group("dt") is not None:
            yield ("lit", m.group("dt"))
        elif m.group("num") is not None:
            num = m.group("num")
            yield ("lit", Decimal(num) if "." in num else int(num))
        elif m.group("name") is not None:
            word = m.group("name")
            low = word.lower()
            if low in ("true", "false"):
                yield ("lit", low == "true")
            elif low == "null":
                yield ("lit", None)
            elif low in COMPARISONS or low in ("and", "or", "not"):
                yield ("op", low)
            else:
                yield ("name", word)
        else:
            yield ("punct", m.group("punct"))


class _Parser:
    def __init__(self, text, entity_set):
        self.tokens = list(_tokens(text))
        self.pos = 0
        self.entity_set = entity_set

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            want = value or kind or "more"
            raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: expected {want} at token {self.pos + 1}")
        self.pos += 1
        return tok

    def parse(self):
        expr = self.or_expr()
        if self.pos != len(self.tokens):
            raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: unexpected {self.peek()[1]!r}")
        return expr

    def or_expr(self):
        left = self.and_expr()
        while self.peek() == ("op", "or"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda row: a(row) or b(row))(left, right)
        return left

    def and_expr(self):
        left = self.unary()
        while self.peek() == ("op", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda row: a(row) and b(row))(left, right)
        return left

    def unary(self):
        if self.peek() == ("op", "not"):
            self.take()
            inner = self.unary()
            return lambda row: not inner(row)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.take("punct", ")")
            return inner
        left = self.operand()
        if self.peek()[0] == "op" and self.peek()[1] in COMPARISONS:
            op = self.take()[1]
            right = self.operand()
            return lambda row: _compare(op, left(row), right(row))
        return lambda row: left(row) is True

    def operand(self):
        kind, value = self.take()
        if kind == "lit":
            return lambda row: value
        if kind == "name" and value.lower() in FUNCTIONS:
            self.take("punct", "(")
            args = [self.operand()]
            while self.peek() == ("punct", ","):
                self.take()
                args.append(self.operand())
            self.take("punct", ")")
            return _function(value.lower(), args)
        if kind == "name":
            if value not in self.entity_set.properties:
                raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: {value!r} is not a property of {self.entity_set.entity_type}")
            return lambda row: row.get(value)
        raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: unexpected {value!r}")


def _function(name, args):
    if name in ("tolower", "toupper"):
        if len(args) != 1:
            raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: {name} takes one argument")
        arg = args[0]
        return lambda row: None if arg(row) is None else (str(arg(row)).lower() if name == "tolower" else str(arg(row)).upper())
    if len(args) != 2:
        raise ODataError(400, "ODP_BAD_REQUEST", f"$filter: {name} takes two arguments")
    a, b = args
    test = {"contains": lambda x, y: y in x, "startswith": str.startswith, "endswith": str.endswith}[name]
    return lambda row: a(row) is not None and b(row) is not None and test(str(a(row)), str(b(row)))


def _comparable(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a, b
    if isinstance(a, (int, Decimal)) or isinstance(b, (int, Decimal)):
        try:
            return Decimal(str(a)), Decimal(str(b))
        except InvalidOperation:
            return str(a), str(b)
    return str(a), str(b)


def _compare(op, a, b):
    if op == "eq":
        return a == b if a is None or b is None else _comparable(a, b)[0] == _comparable(a, b)[1]
    if op == "ne":
        return a != b if a is None or b is None else _comparable(a, b)[0] != _comparable(a, b)[1]
    if a is None or b is None:
        return False
    x, y = _comparable(a, b)
    return {"gt": x > y, "ge": x >= y, "lt": x < y, "le": x <= y}[op]


def compile_filter(text, entity_set):
    if not text or not text.strip():
        return lambda row: True
    return _Parser(text, entity_set).parse()


# -- the query as a whole ------------------------------------------------------------------------------------
def _int_option(req, name):
    raw = req.arg(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ODataError(400, "ODP_BAD_REQUEST", f"{name} must be a non-negative integer, not {raw!r}") from None
    if value < 0:
        raise ODataError(400, "ODP_BAD_REQUEST", f"{name} must be a non-negative integer, not {raw!r}")
    return value


def _order_key(entity_set, spec):
    items = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in entity_set.properties or direction not in ("asc", "desc"):
            raise ODataError(400, "ODP_BAD_REQUEST", f"$orderby: cannot order by {part!r}")
        items.append((name, direction == "desc"))
    return items


def _sorted(rows, items):
    for name, descending in reversed(items):  # stable sorts, least significant first
        rows = sorted(rows, key=lambda r: (r.get(name) is not None, _sort_value(r.get(name))), reverse=descending)
    return rows


def _sort_value(value):
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return (0, Decimal(value), "")
    return (1, Decimal(0), str(value) if value is not None else "")


def maxpagesize(req):
    """``Prefer: odata.maxpagesize=N`` (None when absent)."""
    m = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", req.headers.get("prefer", ""))
    return int(m.group(1)) if m else None


def query(req, entity_set, rows, *, context, page_size, url, max_page_size=None, view=None):
    """The answer to a collection GET: filtered, ordered, paged and projected rows with
    ``@odata.context``, each with its ``@odata.etag`` (``view(row)`` adds it), and
    ``@odata.nextLink`` while rows remain past a server-driven page of ``page_size``."""
    predicate = compile_filter(req.arg("$filter"), entity_set)
    order = _order_key(entity_set, req.arg("$orderby") or ",".join(entity_set.keys))
    top, skip = _int_option(req, "$top"), _int_option(req, "$skip") or 0
    preferred = maxpagesize(req)
    if max_page_size is not None and ((top or 0) > max_page_size or (preferred or 0) > max_page_size):
        raise ODataError(
            500,
            "ODP_INTERNAL_ERROR",
            f"The page size asked for is above {max_page_size} elements; the server ran out of resources building the answer.",
        )
    select = [s.strip() for s in (req.arg("$select") or "").split(",") if s.strip()]
    for name in select:
        if name not in entity_set.properties and name not in entity_set.navigation:
            raise ODataError(400, "ODP_BAD_REQUEST", f"$select: {name!r} is not a property of {entity_set.entity_type}")
    matched = _sorted([r for r in rows if predicate(r)], order)
    window = matched[skip:] if top is None else matched[skip : skip + top]
    page = min(page_size, preferred or page_size)
    body = {"@odata.context": context}
    if req.arg("$count") == "true":
        body["@odata.count"] = len(matched)
    shown = window[:page]
    body["value"] = [project(view(r) if view else dict(r), select) for r in shown]
    if len(window) > page:
        params = {k: v[0] for k, v in req.query.items()}
        params["$skip"] = str(skip + page)
        if top is not None:
            params["$top"] = str(top - page)
        body["@odata.nextLink"] = f"{url}?{urlencode(params, quote_via=quote, safe=chr(39) + ',$()')}"
    return body


def project(row, select):
    if not select:
        return row
    return {k: v for k, v in row.items() if k in select or k.startswith("@odata.")}


# -- $metadata (CSDL XML) -------------------------------------------------------------------------------------
def metadata_xml(namespace, container, entity_sets, actions=(), complex_types=None):
    """An OData 4.0 CSDL document for ``entity_sets``; ``actions``: (name, bound entity type, [(param, type)],
    return entity type) tuples; ``complex_types``: name -> {property: Edm type}."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">',
        "<edmx:DataServices>",
        f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{namespace}">',
    ]
    for name, props in (complex_types or {}).items():
        out.append(f'<ComplexType Name="{name}">')
        out.extend(f'<Property Name="{p}" Type="{t}"/>' for p, t in props.items())
        out.append("</ComplexType>")
    for es in entity_sets:
        out.append(f'<EntityType Name="{es.entity_type}">')
        out.append("<Key>" + "".join(f'<PropertyRef Name="{k}"/>' for k in es.keys) + "</Key>")
        for name, kind in es.properties.items():
            nullable = "true" if name in es.nullable else "false"
            extra = ' Scale="variable"' if kind == "decimal" else ""
            out.append(f'<Property Name="{name}" Type="{EDM_TYPES[kind]}" Nullable="{nullable}"{extra}/>')
        for nav, target in es.navigation.items():
            target_type = next(t.entity_type for t in entity_sets if t.name == target)
            out.append(f'<NavigationProperty Name="{nav}" Type="Collection({namespace}.{target_type})"/>')
        out.append("</EntityType>")
    for name, bound, params, returns in actions:
        out.append(f'<Action Name="{name}" IsBound="true">')
        out.append(f'<Parameter Name="it" Type="{namespace}.{bound}" Nullable="false"/>')
        for pname, ptype in params:
            out.append(f'<Parameter Name="{pname}" Type="{ptype}"/>')
        out.append(f'<ReturnType Type="{namespace}.{returns}"/>')
        out.append("</Action>")
    out.append(f'<EntityContainer Name="{container}">')
    for es in entity_sets:
        binds = "".join(f'<NavigationPropertyBinding Path="{nav}" Target="{target}"/>' for nav, target in es.navigation.items())
        out.append(f'<EntitySet Name="{es.name}" EntityType="{namespace}.{es.entity_type}">{binds}</EntitySet>')
    out.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "\n".join(out)
