"""``$filter`` for the Acumatica fake: the OData v3 URL-convention subset the contract API documents.

Facts (shared/reference/acumatica.md, "Reads"): comparisons ``eq ne gt ge lt le`` joined by
``and``/``or`` (with ``not`` and parentheses), the functions ``substringof``, ``startswith``
and ``endswith``, typed literals such as ``datetimeoffset'2024-07-15T10:31:28.402+03:00'``
(any offset) and ``date'2025-06-17'``. A linked entity's field is named ``Linked/Field``.
Filtering on detail entities is unsupported (the fake refuses it rather than guess).
"""

import datetime as dt
import re
from decimal import Decimal

TOKEN = re.compile(
    r"\s*(?:(?P<typed>(?:datetimeoffset|datetime|date|guid)'[^']*')|(?P<str>'(?:[^']|'')*')"
    r"|(?P<num>-?\d+(?:\.\d+)?[mMdD]?)|(?P<name>[A-Za-z_][\w/.]*)|(?P<punct>[(),]))"
)
COMPARE = ("eq", "ne", "gt", "ge", "lt", "le")
FUNCTIONS = ("substringof", "startswith", "endswith")


class FilterError(ValueError):
    pass


def parse_moment(text):
    """An ISO date or date-time (any offset; none = UTC) as an aware datetime."""
    text = str(text).strip().replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{text!r} is not a valid date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"cannot parse $filter near {text[pos : pos + 20]!r}")
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _literal(kind, text):
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "num":
        return Decimal(text.rstrip("mMdD"))
    prefix, _, rest = text.partition("'")
    value = rest[:-1]
    if prefix in ("datetimeoffset", "datetime", "date"):
        return parse_moment(value)
    return value  # guid


class _Parser:
    def __init__(self, text, resolve):
        self.tokens = _tokens(text)
        self.pos = 0
        self.resolve = resolve  # field path -> function(record) -> value

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, expected=None):
        token = self.peek()
        if token[0] is None or (expected and token[1] != expected):
            raise FilterError(f"$filter: expected {expected or 'more'} at token {self.pos + 1}")
        self.pos += 1
        return token

    def parse(self):
        node = self.or_expr()
        if self.pos != len(self.tokens):
            raise FilterError(f"$filter: unexpected {self.peek()[1]!r}")
        return node

    def or_expr(self):
        left = self.and_expr()
        while self.peek() == ("name", "or"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_expr(self):
        left = self.unary()
        while self.peek() == ("name", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self):
        if self.peek() == ("name", "not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        return self.comparison()

    def operand(self):
        kind, text = self.take()
        if kind == "name" and text in ("true", "false"):
            return lambda r: text == "true"
        if kind == "name" and text == "null":
            return lambda r: None
        if kind == "name" and text in FUNCTIONS:
            return self.function(text)
        if kind == "name":
            return self.resolve(text)
        if kind in ("str", "num", "typed"):
            value = _literal(kind, text)
            return lambda r: value
        raise FilterError(f"$filter: unexpected {text!r}")

    def function(self, name):
        self.take("(")
        first = self.operand()
        self.take(",")
        second = self.operand()
        self.take(")")
        if name == "substringof":  # substringof('needle', Field)
            return lambda r: _text(first(r)).lower() in _text(second(r)).lower()
        if name == "startswith":
            return lambda r: _text(first(r)).lower().startswith(_text(second(r)).lower())
        return lambda r: _text(first(r)).lower().endswith(_text(second(r)).lower())

    def comparison(self):
        left = self.operand()
        kind, op = self.peek()
        if kind != "name" or op not in COMPARE:
            return lambda r: bool(left(r))  # a bare boolean operand (a function call)
        self.take()
        right = self.operand()
        return lambda r: _compare(op, left(r), right(r))


def _text(value):
    return "" if value is None else str(value)


def _coerce(a, b):
    """Make a stored value comparable with a literal (dates with dates, numbers with numbers)."""
    if isinstance(b, dt.datetime) and isinstance(a, str):
        return parse_moment(a), b
    if isinstance(a, dt.datetime) and isinstance(b, str):
        return a, parse_moment(b)
    if isinstance(b, Decimal) and isinstance(a, (int, str)) and not isinstance(a, bool):
        return Decimal(str(a)), b
    return a, b


def _compare(op, a, b):
    if op in ("eq", "ne"):
        if a is not None and b is not None:
            a, b = _coerce(a, b)
            if isinstance(a, str) and isinstance(b, str):
                a, b = a.lower(), b.lower()  # SQL Server's default collation is case-insensitive
        return (a == b) if op == "eq" else (a != b)
    if a is None or b is None:
        return False
    a, b = _coerce(a, b)
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        raise FilterError(f"$filter: cannot compare {a!r} with {b!r}") from None


def equality_terms(text):
    """(field, [string literals]) when ``text`` is only ``F eq 'a' or F eq 'b' ...`` on one plain field (a group's
    search), so the store can answer it from an index; else None (the filter is evaluated row by row)."""
    try:
        tokens = _tokens(text or "")
    except FilterError:
        return None
    if tokens[:1] == [("punct", "(")] and tokens[-1:] == [("punct", ")")]:
        tokens = tokens[1:-1]
    field, values = None, []
    for n in range(0, len(tokens) + 1, 4):
        term = tokens[n : n + 3]
        if len(term) != 3 or term[0][0] != "name" or "/" in term[0][1] or term[1] != ("name", "eq") or term[2][0] != "str":
            return None
        if field not in (None, term[0][1]) or (n + 3 < len(tokens) and tokens[n + 3] != ("name", "or")):
            return None
        field = term[0][1]
        values.append(_literal("str", term[2][1]))
        if n + 3 >= len(tokens):
            return field, values
    return None


def compile_filter(text, resolve):
    """A predicate record -> bool for ``$filter`` text; ``resolve(path)`` returns a getter or raises FilterError."""
    if not text or not text.strip():
        return lambda r: True
    return _Parser(text, resolve).parse()
