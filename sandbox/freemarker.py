"""A small FreeMarker subset: enough to render a real Expensify export template.

Supported:
    ${expr}                                   interpolation
    <#list xs as x> ... <#sep>,</#sep> ... <#else>empty</#list>   (also the short
                                              ``<#sep>,`` form closed by ``</#list>``)
    <#if c> ... <#elseif c> ... <#else> ... </#if>
    <#assign name = expr>
    <#-- comment -->
    expressions: literals ("s", 's', 12, 1.5, true, false), names, ``a.b``, ``a["b"]``,
        ``( )``, ``??``, ``x!default``, ``== != = < > <= >= lt gt lte gte``, ``&& || !``,
        ``+ - * / %``
    built-ins: ?json_string ?c ?string ?string("t","f") ?has_content ?size ?length
        ?trim ?upper_case ?lower_case ?number ?first ?last ?join(",")
        ?is_number ?is_string ?is_boolean ?is_sequence ?is_hash
        and, on loop variables, ?index ?counter ?has_next ?is_first ?is_last

Behaviour kept from FreeMarker because a client template must cope with it:
``${number}`` formats for humans (``12,345``; use ``?c`` for machine output),
``${boolean}`` is an error (use ``?c`` or ``?string("true","false")``), a null or
missing value is an error unless guarded with ``??``, ``!`` or ``?has_content``, and
lines holding only directives or comments are stripped. Anything else raises
``TemplateError`` naming the unsupported construct and its line.
"""

import json
import re

__all__ = ["Template", "TemplateError", "render"]


class TemplateError(Exception):
    pass


class _Missing(Exception):
    """Evaluation reached a null or missing value."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


# ---------------------------------------------------------------------------- lexing
_TAG_START = re.compile(r"<#--|</?#|\$\{")


def _line_of(src, pos):
    return src.count("\n", 0, pos) + 1


def _scan_to(src, pos, closer, what):
    """Index of ``closer`` at nesting depth 0 from ``pos``, skipping string literals."""
    depth = 0
    i = pos
    n = len(src)
    while i < n:
        ch = src[i]
        if ch in "\"'":
            j = i + 1
            while j < n and src[j] != ch:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if ch == closer and depth == 0:
            return i
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
        i += 1
    raise TemplateError(f"line {_line_of(src, pos)}: unclosed {what}")


def _tokenize(src):
    """[(kind, value, pos)] with kind in text, interp, open, close, comment."""
    tokens = []
    pos = 0
    while True:
        m = _TAG_START.search(src, pos)
        if not m:
            if pos < len(src):
                tokens.append(("text", (pos, len(src)), pos))
            break
        if m.start() > pos:
            tokens.append(("text", (pos, m.start()), pos))
        start = m.start()
        if m.group() == "<#--":
            end = src.find("-->", m.end())
            if end < 0:
                raise TemplateError(f"line {_line_of(src, start)}: unclosed <#-- comment")
            pos = end + 3
            tokens.append(("comment", None, start, pos))
            continue
        if m.group() == "${":
            end = _scan_to(src, m.end(), "}", "${ interpolation")
            tokens.append(("interp", src[m.end():end].strip(), start, end + 1))
            pos = end + 1
            continue
        closing = m.group() == "</#"
        end = _scan_to(src, m.end(), ">", "<#...> tag")
        inner = src[m.end():end]
        if inner.endswith("/"):
            inner = inner[:-1]
        name_match = re.match(r"\s*([A-Za-z_]+)", inner)
        if not name_match:
            raise TemplateError(f"line {_line_of(src, start)}: malformed tag <{'/' if closing else ''}#{inner}>")
        name = name_match.group(1)
        params = inner[name_match.end():].strip()
        tokens.append(("close" if closing else "open", (name, params), start, end + 1))
        pos = end + 1
    return _strip_tag_lines(src, tokens)


def _strip_tag_lines(src, tokens):
    """FreeMarker's white-space stripping: a line holding only directives/comments
    (and white space) disappears, newline included."""
    kinds = bytearray(len(src))  # 0 text, 1 directive/comment, 2 interpolation
    for tok in tokens:
        if tok[0] == "text":
            continue
        mark = 2 if tok[0] == "interp" else 1
        start, end = tok[2], tok[3]
        kinds[start:end] = bytes([mark]) * (end - start)
    drop = bytearray(len(src))
    line_start = 0
    n = len(src)
    while line_start <= n:
        nl = src.find("\n", line_start)
        line_end = n if nl < 0 else nl
        segment = kinds[line_start:line_end]
        if 1 in segment and 2 not in segment:
            if all(kinds[i] or src[i] in " \t\r" for i in range(line_start, line_end)):
                for i in range(line_start, line_end if nl < 0 else line_end + 1):
                    if not kinds[i]:
                        drop[i] = 1
        if nl < 0:
            break
        line_start = nl + 1
    out = []
    for tok in tokens:
        if tok[0] == "text":
            start, end = tok[1]
            text = "".join(src[i] for i in range(start, end) if not drop[i]) if 1 in drop[start:end] else src[start:end]
            if text:
                out.append(("text", text, start))
        elif tok[0] != "comment":
            out.append(tok[:3])
    return out


# ---------------------------------------------------------------------------- expressions
_EXPR_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>\d+(?:\.\d+)?)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>\?\?|==|!=|<=|>=|&&|\|\||[?!.()\[\],+\-*/%<>=])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\", "{": "{", "$": "$"}


def _unquote(literal):
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _lex_expr(text, line):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"line {line}: cannot parse expression {text!r} at {text[pos:]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "num":
            tokens.append(("num", float(value) if "." in value else int(value)))
        elif kind == "str":
            tokens.append(("str", _unquote(value)))
        elif kind == "op":
            tokens.append(("op", value))
        else:
            tokens.append(("name", value))
        pos = m.end()
    tokens.append(("end", None))
    return tokens


_PRIMARY_START = {"num", "str", "name"}


class _ExprParser:
    def __init__(self, text, line):
        self.text = text
        self.line = line
        self.tokens = _lex_expr(text, line)
        self.i = 0

    def peek(self, offset=0):
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def take(self):
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, kind, value=None):
        tok = self.peek()
        if tok[0] == kind and (value is None or tok[1] == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind, value=None):
        tok = self.accept(kind, value)
        if tok is None:
            raise self.error(f"expected {value or kind}")
        return tok

    def error(self, message):
        got = self.peek()
        got_text = "end of expression" if got[0] == "end" else repr(got[1])
        return TemplateError(f"line {self.line}: {message} in {self.text!r}, found {got_text}")

    def parse(self):
        node = self.parse_or()
        if self.peek()[0] != "end":
            raise self.error("unexpected token")
        return node

    def parse_or(self):
        node = self.parse_and()
        while self.accept("op", "||"):
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self):
        node = self.parse_eq()
        while self.accept("op", "&&"):
            node = ("and", node, self.parse_eq())
        return node

    def parse_eq(self):
        node = self.parse_cmp()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("==", "!=", "="):
            self.take()
            node = ("cmp", "!=" if tok[1] == "!=" else "==", node, self.parse_cmp())
        return node

    _CMP_NAMES = {"lt": "<", "gt": ">", "lte": "<=", "gte": ">="}

    def parse_cmp(self):
        node = self.parse_add()
        tok = self.peek()
        if tok[0] == "op" and tok[1] in ("<", ">", "<=", ">="):
            self.take()
            node = ("cmp", tok[1], node, self.parse_add())
        elif tok[0] == "name" and tok[1] in self._CMP_NAMES:
            self.take()
            node = ("cmp", self._CMP_NAMES[tok[1]], node, self.parse_add())
        return node

    def parse_add(self):
        node = self.parse_mul()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("arith", op, node, self.parse_mul())
        return node

    def parse_mul(self):
        node = self.parse_unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/", "%"):
            op = self.take()[1]
            node = ("arith", op, node, self.parse_unary())
        return node

    def parse_unary(self):
        if self.accept("op", "!"):
            return ("not", self.parse_unary())
        if self.accept("op", "-"):
            return ("neg", self.parse_unary())
        return self.parse_postfix()

    def parse_postfix(self):
        node = self.parse_primary()
        while True:
            if self.accept("op", "."):
                name = self.expect("name")[1]
                node = ("get", node, ("lit", name))
            elif self.accept("op", "["):
                key = self.parse_or()
                self.expect("op", "]")
                node = ("get", node, key)
            elif self.accept("op", "??"):
                node = ("exists", node)
            elif self.accept("op", "?"):
                name = self.expect("name")[1]
                args = []
                if self.accept("op", "("):
                    if not self.accept("op", ")"):
                        args.append(self.parse_or())
                        while self.accept("op", ","):
                            args.append(self.parse_or())
                        self.expect("op", ")")
                node = ("builtin", name, node, args)
            elif self.peek() == ("op", "!"):
                self.take()
                nxt = self.peek()
                if nxt[0] in _PRIMARY_START and not (nxt[0] == "name" and nxt[1] in self._CMP_NAMES) \
                        or nxt in (("op", "("), ("op", "[")):
                    default = self.parse_postfix_no_default()
                else:
                    default = ("lit", "")
                node = ("default", node, default)
            else:
                return node

    def parse_postfix_no_default(self):
        node = self.parse_primary()
        while True:
            if self.accept("op", "."):
                node = ("get", node, ("lit", self.expect("name")[1]))
            elif self.accept("op", "?"):
                name = self.expect("name")[1]
                node = ("builtin", name, node, [])
            else:
                return node

    def parse_primary(self):
        tok = self.take()
        kind, value = tok
        if kind in ("num", "str"):
            return ("lit", value)
        if kind == "name":
            if value == "true":
                return ("lit", True)
            if value == "false":
                return ("lit", False)
            return ("var", value)
        if tok == ("op", "("):
            node = self.parse_or()
            self.expect("op", ")")
            return node
        if tok == ("op", "["):
            items = []
            if not self.accept("op", "]"):
                items.append(self.parse_or())
                while self.accept("op", ","):
                    items.append(self.parse_or())
                self.expect("op", "]")
            return ("seq", items)
        self.i -= 1
        raise self.error("expected a value")


def _expr_text(node):
    kind = node[0]
    if kind == "var":
        return node[1]
    if kind == "lit":
        return json.dumps(node[1])
    if kind == "get":
        key = node[2]
        if key[0] == "lit" and isinstance(key[1], str):
            return f"{_expr_text(node[1])}.{key[1]}"
        return f"{_expr_text(node[1])}[{_expr_text(key)}]"
    if kind == "builtin":
        return f"{_expr_text(node[2])}?{node[1]}"
    return kind


# ---------------------------------------------------------------------------- parsing the template
class _Node:
    pass


class _Text(_Node):
    def __init__(self, text):
        self.text = text


class _Interp(_Node):
    def __init__(self, expr, line, source):
        self.expr, self.line, self.source = expr, line, source


class _If(_Node):
    def __init__(self, branches, otherwise):
        self.branches, self.otherwise = branches, otherwise


class _List(_Node):
    def __init__(self, expr, var, body, otherwise, line):
        self.expr, self.var, self.body, self.otherwise, self.line = expr, var, body, otherwise, line


class _Sep(_Node):
    def __init__(self, body):
        self.body = body


class _Assign(_Node):
    def __init__(self, name, expr):
        self.name, self.expr = name, expr


class _Parser:
    def __init__(self, src):
        self.src = src
        self.tokens = _tokenize(src)
        self.i = 0
        self.list_depth = 0

    def line(self, tok):
        return _line_of(self.src, tok[2])

    def expr(self, text, tok):
        if not text:
            raise TemplateError(f"line {self.line(tok)}: missing expression")
        return _ExprParser(text, self.line(tok)).parse()

    def parse(self):
        nodes, end = self.block(())
        if end is not None:
            raise TemplateError(f"line {self.line(end)}: unexpected {self._describe(end)}")
        return nodes

    @staticmethod
    def _describe(tok):
        name, params = tok[1]
        return f"<{'/' if tok[0] == 'close' else ''}#{name}{' ' + params if params else ''}>"

    def block(self, terminators):
        """Parse nodes until a tag in ``terminators`` (("close","if"), ("open","else"), ...);
        returns (nodes, terminating token or None at the end of input). The terminator
        is consumed."""
        nodes = []
        while self.i < len(self.tokens):
            tok = self.tokens[self.i]
            kind = tok[0]
            if kind == "text":
                self.i += 1
                nodes.append(_Text(tok[1]))
                continue
            if kind == "interp":
                self.i += 1
                nodes.append(_Interp(self.expr(tok[1], tok), self.line(tok), tok[1]))
                continue
            name, params = tok[1]
            if (kind, name) in terminators:
                self.i += 1
                return nodes, tok
            if kind == "close":
                raise TemplateError(f"line {self.line(tok)}: unexpected {self._describe(tok)}")
            self.i += 1
            nodes.append(self.directive(name, params, tok))
        return nodes, None

    def directive(self, name, params, tok):
        line = self.line(tok)
        if name == "if":
            branches = []
            cond = self.expr(params, tok)
            otherwise = []
            while True:
                body, end = self.block((("close", "if"), ("open", "elseif"), ("open", "else")))
                if end is None:
                    raise TemplateError(f"line {line}: <#if> is never closed with </#if>")
                branches.append((cond, body))
                end_name = end[1][0]
                if end[0] == "close":
                    break
                if end_name == "elseif":
                    cond = self.expr(end[1][1], end)
                    continue
                otherwise, end = self.block((("close", "if"),))
                if end is None:
                    raise TemplateError(f"line {line}: <#if> is never closed with </#if>")
                break
            return _If(branches, otherwise)
        if name == "list":
            m = re.match(r"(.+?)\s+as\s+([A-Za-z_][A-Za-z0-9_]*)\s*$", params, re.S)
            if not m:
                raise TemplateError(f"line {line}: expected <#list sequence as item>, got <#list {params}>")
            expr = self.expr(m.group(1), tok)
            self.list_depth += 1
            body, end = self.block((("close", "list"), ("open", "else")))
            otherwise = []
            if end is not None and end[0] == "open":
                otherwise, end = self.block((("close", "list"),))
            self.list_depth -= 1
            if end is None:
                raise TemplateError(f"line {line}: <#list> is never closed with </#list>")
            return _List(expr, m.group(2), body, otherwise, line)
        if name == "sep":
            if not self.list_depth:
                raise TemplateError(f"line {line}: <#sep> outside <#list>")
            body, end = self.block((("close", "sep"), ("close", "list"), ("open", "else")))
            if end is not None and end[1][0] != "sep":
                self.i -= 1  # short form: </#list> (or <#else>) belongs to the list
            return _Sep(body)
        if name == "assign":
            m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$", params, re.S)
            if not m:
                raise TemplateError(f"line {line}: expected <#assign name = value>")
            return _Assign(m.group(1), self.expr(m.group(2), tok))
        if name in ("else", "elseif"):
            raise TemplateError(f"line {line}: <#{name}> outside <#if> or <#list>")
        raise TemplateError(f"line {line}: unsupported directive <#{name}> (this FreeMarker subset supports "
                            "list, sep, if/elseif/else, assign and comments)")


# ---------------------------------------------------------------------------- rendering
class _Loop:
    def __init__(self, var, items):
        self.var = var
        self.items = items
        self.index = 0


class _Context:
    def __init__(self, data):
        self.scopes = [dict(data)]
        self.loops = []

    def lookup(self, name):
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise _Missing(name)

    def loop_for(self, name):
        for loop in reversed(self.loops):
            if loop.var == name:
                return loop
        return None


def _format_number(value):
    if isinstance(value, int):
        return f"{value:,}"
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text


def _c(value, where):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    raise TemplateError(f"{where}: ?c expects a number or boolean, got {_type_name(value)}")


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "sequence"
    if isinstance(value, dict):
        return "hash"
    return type(value).__name__


class Template:
    def __init__(self, source):
        self.source = source
        self.nodes = _Parser(source).parse()

    def render(self, data):
        out = []
        ctx = _Context(data)
        self._render(self.nodes, ctx, out)
        return "".join(out)

    # -- nodes
    def _render(self, nodes, ctx, out):
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Interp):
                out.append(self._interpolate(node, ctx))
            elif isinstance(node, _If):
                for cond, body in node.branches:
                    if self._truth(cond, ctx, "<#if>"):
                        self._render(body, ctx, out)
                        break
                else:
                    self._render(node.otherwise, ctx, out)
            elif isinstance(node, _List):
                self._render_list(node, ctx, out)
            elif isinstance(node, _Sep):
                loop = ctx.loops[-1] if ctx.loops else None
                if loop is not None and loop.index < len(loop.items) - 1:
                    self._render(node.body, ctx, out)
            elif isinstance(node, _Assign):
                ctx.scopes[0][node.name] = self._eval_required(node.expr, ctx, f"<#assign {node.name}>")

    def _render_list(self, node, ctx, out):
        where = f"line {node.line}"
        try:
            items = self._eval(node.expr, ctx)
        except _Missing as exc:
            raise TemplateError(f"{where}: <#list> over a null or missing value ({exc.what})")
        if isinstance(items, dict):
            items = list(items.keys())
        if not isinstance(items, (list, tuple)):
            raise TemplateError(f"{where}: <#list> expects a sequence, got {_type_name(items)}")
        if not items:
            self._render(node.otherwise, ctx, out)
            return
        loop = _Loop(node.var, items)
        ctx.loops.append(loop)
        ctx.scopes.append({})
        try:
            for index, item in enumerate(items):
                loop.index = index
                ctx.scopes[-1][node.var] = item
                self._render(node.body, ctx, out)
        finally:
            ctx.scopes.pop()
            ctx.loops.pop()

    def _interpolate(self, node, ctx):
        where = f"line {node.line}: ${{{node.source}}}"
        value = self._eval_required(node.expr, ctx, where)
        if isinstance(value, bool):
            raise TemplateError(f"{where}: can't convert a boolean to string automatically; "
                                'use ?c or ?string("yes","no")')
        if isinstance(value, (int, float)):
            return _format_number(value)
        if isinstance(value, str):
            return value
        raise TemplateError(f"{where}: expected a string or number, got {_type_name(value)}")

    def _truth(self, expr, ctx, where):
        value = self._eval_required(expr, ctx, where)
        if not isinstance(value, bool):
            raise TemplateError(f"{where}: condition must be a boolean, got {_type_name(value)} "
                                "(use ?has_content or ?? to test a value)")
        return value

    def _eval_required(self, expr, ctx, where):
        try:
            return self._eval(expr, ctx)
        except _Missing as exc:
            raise TemplateError(f"{where}: the following has evaluated to null or missing: {exc.what} "
                                "(guard it with ?? or ! or ?has_content)")

    # -- expressions
    def _eval(self, node, ctx):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            value = ctx.lookup(node[1])
            if value is None:
                raise _Missing(node[1])
            return value
        if kind == "get":
            parent = self._eval(node[1], ctx)
            key = self._eval(node[2], ctx)
            if isinstance(parent, dict):
                value = parent.get(key)
            elif isinstance(parent, (list, tuple, str)) and isinstance(key, int):
                value = parent[key] if -len(parent) <= key < len(parent) else None
            else:
                raise TemplateError(f"cannot read {key!r} of a {_type_name(parent)} ({_expr_text(node)})")
            if value is None:
                raise _Missing(_expr_text(node))
            return value
        if kind == "exists":
            try:
                return self._eval(node[1], ctx) is not None
            except _Missing:
                return False
        if kind == "default":
            try:
                return self._eval(node[1], ctx)
            except _Missing:
                return self._eval(node[2], ctx)
        if kind == "not":
            value = self._eval(node[1], ctx)
            if not isinstance(value, bool):
                raise TemplateError(f"! expects a boolean, got {_type_name(value)}")
            return not value
        if kind == "neg":
            value = self._eval(node[1], ctx)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TemplateError(f"- expects a number, got {_type_name(value)}")
            return -value
        if kind in ("and", "or"):
            left = self._eval(node[1], ctx)
            if not isinstance(left, bool):
                raise TemplateError(f"{'&&' if kind == 'and' else '||'} expects booleans, got {_type_name(left)}")
            if (kind == "and" and not left) or (kind == "or" and left):
                return left
            right = self._eval(node[2], ctx)
            if not isinstance(right, bool):
                raise TemplateError(f"{'&&' if kind == 'and' else '||'} expects booleans, got {_type_name(right)}")
            return right
        if kind == "cmp":
            return self._compare(node[1], self._eval(node[2], ctx), self._eval(node[3], ctx))
        if kind == "arith":
            return self._arith(node[1], self._eval(node[2], ctx), self._eval(node[3], ctx))
        if kind == "seq":
            return [self._eval(item, ctx) for item in node[1]]
        if kind == "builtin":
            return self._builtin(node, ctx)
        raise TemplateError(f"unsupported expression {kind}")

    @staticmethod
    def _compare(op, left, right):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        if op in ("==", "!="):
            if not numeric and type(left) is not type(right):
                raise TemplateError(f"can't compare a {_type_name(left)} with a {_type_name(right)}")
            return (left == right) if op == "==" else (left != right)
        if not numeric and not (isinstance(left, str) and isinstance(right, str)):
            raise TemplateError(f"{op} expects two numbers, got {_type_name(left)} and {_type_name(right)}")
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]

    @staticmethod
    def _arith(op, left, right):
        if op == "+" and (isinstance(left, str) or isinstance(right, str)):
            if isinstance(left, bool) or isinstance(right, bool):
                raise TemplateError("can't add a boolean to a string")
            return (left if isinstance(left, str) else _format_number(left)) + \
                (right if isinstance(right, str) else _format_number(right))
        if op == "+" and isinstance(left, list) and isinstance(right, list):
            return left + right
        for value in (left, right):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TemplateError(f"{op} expects numbers, got {_type_name(value)}")
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if right == 0:
            raise TemplateError("division by zero")
        if op == "/":
            result = left / right
            return int(result) if result == int(result) else result
        return left % right

    def _builtin(self, node, ctx):
        _, name, target, arg_nodes = node
        where = f"?{name} on {_expr_text(target)}"
        if name == "has_content":
            try:
                value = self._eval(target, ctx)
            except _Missing:
                return False
            return not (value is None or (isinstance(value, (str, list, tuple, dict)) and len(value) == 0))
        if name in ("index", "counter", "has_next", "is_first", "is_last", "item_parity"):
            loop = ctx.loop_for(target[1]) if target[0] == "var" else None
            if loop is None:
                raise TemplateError(f"{where}: ?{name} only works on a <#list> loop variable")
            return {
                "index": loop.index, "counter": loop.index + 1, "has_next": loop.index < len(loop.items) - 1,
                "is_first": loop.index == 0, "is_last": loop.index == len(loop.items) - 1,
                "item_parity": "odd" if loop.index % 2 == 0 else "even",
            }[name]
        value = self._eval(target, ctx)
        args = [self._eval(a, ctx) for a in arg_nodes]
        if name in ("is_number", "is_string", "is_boolean", "is_sequence", "is_hash"):
            return {"is_number": isinstance(value, (int, float)) and not isinstance(value, bool),
                    "is_string": isinstance(value, str), "is_boolean": isinstance(value, bool),
                    "is_sequence": isinstance(value, (list, tuple)), "is_hash": isinstance(value, dict)}[name]
        if name == "json_string":
            if not isinstance(value, str):
                raise TemplateError(f"{where}: expected a string, got {_type_name(value)}")
            return json.dumps(value, ensure_ascii=False)[1:-1]
        if name == "c":
            return _c(value, where)
        if name == "string":
            if isinstance(value, bool):
                if len(args) == 2:
                    return str(args[0]) if value else str(args[1])
                if not args:
                    return "true" if value else "false"
                raise TemplateError(f'{where}: booleans take ?string("yes","no")')
            if args:
                raise TemplateError(f"{where}: format strings are not supported by this FreeMarker subset")
            if isinstance(value, (int, float)):
                return _format_number(value)
            if isinstance(value, str):
                return value
            raise TemplateError(f"{where}: can't convert a {_type_name(value)} to a string")
        if name == "size":
            if isinstance(value, (list, tuple, dict)):
                return len(value)
            raise TemplateError(f"{where}: expected a sequence or hash, got {_type_name(value)}")
        if name in ("trim", "upper_case", "lower_case", "length", "number"):
            if not isinstance(value, str):
                raise TemplateError(f"{where}: expected a string, got {_type_name(value)}")
            if name == "trim":
                return value.strip()
            if name == "upper_case":
                return value.upper()
            if name == "lower_case":
                return value.lower()
            if name == "length":
                return len(value)
            try:
                return int(value) if re.fullmatch(r"-?\d+", value.strip()) else float(value)
            except ValueError:
                raise TemplateError(f"{where}: {value!r} is not a number")
        if name in ("first", "last", "join"):
            if not isinstance(value, (list, tuple)):
                raise TemplateError(f"{where}: expected a sequence, got {_type_name(value)}")
            if name == "join":
                if len(args) != 1:
                    raise TemplateError(f'{where}: ?join takes a separator, e.g. ?join(",")')
                return str(args[0]).join(v if isinstance(v, str) else _c(v, where) for v in value)
            if not value:
                raise _Missing(f"{_expr_text(target)}?{name}")
            return value[0] if name == "first" else value[-1]
        raise TemplateError(f"{where}: unsupported built-in ?{name}")


def render(source, data):
    """Parse and render in one go; raises TemplateError."""
    return Template(source).render(data)
