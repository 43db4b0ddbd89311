"""Readable values for finance users: money in its currency's precision, accounts in the target's
own notation, postings, counts and JSON records as tables (raw JSON only behind a toggle)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django.utils.html import format_html, format_html_join

from ..currencies import EXPONENTS

# --------------------------------------------------------------------------- money


def money(amount, currency="") -> str:
    """``85.2800`` USD -> ``85.28``; JPY has no decimals, KWD three; grouped thousands."""
    if amount in (None, ""):
        return "-"
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    places = EXPONENTS.get((currency or "").upper(), 2)
    return f"{value.quantize(Decimal(1).scaleb(-places)):,}"


def money_with_currency(amount, currency="") -> str:
    text = money(amount, currency)
    return f"{text} {currency}".strip() if text != "-" else text


# --------------------------------------------------------------------------- accounts


def _jde_account(account: dict) -> str:
    # JD Edwards writes an account as BU.OBJECT[.SUBSIDIARY] (F0901 "account number, short form").
    key = f"{account.get('business_unit', '')}.{account.get('object', '')}"
    return f"{key}.{account['subsidiary']}" if account.get("subsidiary") else key


#: target system -> fn(account dict) -> the account as that system's users write it
ACCOUNT_FORMATTERS = {"jde": _jde_account}


def account_text(system: str, account) -> str:
    if not isinstance(account, dict):
        return str(account or "-")
    formatter = ACCOUNT_FORMATTERS.get(system)
    if formatter is not None:
        try:
            return formatter(account)
        except (KeyError, TypeError):
            pass
    return " ".join(f"{k}={v}" for k, v in account.items() if v not in (None, "")) or "-"


# --------------------------------------------------------------------------- tables


def label(key) -> str:
    return str(key).replace("_", " ")


def scalar(value) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, sort_keys=True)[:200]
    return str(value)


def technical_details(value, summary="technical details"):
    """The raw JSON, folded away: for support looking for a field the tables do not show."""
    if value in (None, "", {}, []):
        return ""
    return format_html(
        '<details class="technical"><summary>{}</summary><pre style="white-space: pre-wrap; margin: 0">{}</pre></details>',
        summary,
        json.dumps(value, indent=2, sort_keys=True, default=str),
    )


def labelled_values(data, *, skip=()) -> str:
    """A dict as a two-column table of labelled values; nested lists of dicts as sub-tables."""
    if not isinstance(data, dict) or not data:
        return scalar(data)
    rows = []
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            shown = rows_table(value)
        elif isinstance(value, dict) and value:
            shown = labelled_values(value)
        else:
            shown = scalar(value)
        rows.append((label(key), shown))
    return format_html(
        '<table class="labelled"><tbody>{}</tbody></table>',
        format_html_join("", "<tr><th scope='row'>{}</th><td>{}</td></tr>", rows),
    )


def rows_table(items: list[dict], columns=None) -> str:
    """A list of dicts as one table; the columns are the union of keys (first-seen order)."""
    if not items:
        return "-"
    columns = columns or list(dict.fromkeys(k for item in items for k in item))
    head = format_html_join("", "<th>{}</th>", ((label(c),) for c in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((scalar(item.get(c)),) for c in columns)),) for item in items),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


def counts_table(counts) -> str:
    """A cycle's counts ({"fetched": 10, "posted": 8, ...}) as one row of labelled numbers."""
    if not isinstance(counts, dict) or not counts:
        return "-"
    items = [(label(k), scalar(v)) for k, v in counts.items()]
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody><tr>{}</tr></tbody></table>",
        format_html_join("", "<th>{}</th>", ((k,) for k, _ in items)),
        format_html_join("", "<td>{}</td>", ((v,) for _, v in items)),
    )


def counts_summary(counts) -> str:
    if not isinstance(counts, dict) or not counts:
        return "-"
    return ", ".join(f"{label(k)} {scalar(v)}" for k, v in counts.items() if v not in (0, None, ""))


def posting_table(posting, system: str, highlight=()) -> str:
    """The target-neutral posting as a journal: account (target notation), debit, credit, memo."""
    lines = (posting or {}).get("lines") or []
    if not lines:
        return "-"
    currency = posting.get("currency", "")
    highlight = {str(h) for h in highlight if h}
    rows = []
    for ln in lines:
        try:
            amount = Decimal(str(ln.get("amount", "0")))
        except InvalidOperation:
            amount = Decimal(0)
        dims = ", ".join(f"{label(k)}: {scalar(v)}" for k, v in (ln.get("dimensions") or {}).items())
        rows.append(
            (
                "problem" if str(ln.get("source_line", "")) in highlight else "",
                ln.get("source_line") or ln.get("kind", ""),
                account_text(system, ln.get("account")),
                money(amount, currency) if amount > 0 else "",
                money(-amount, currency) if amount < 0 else "",
                ln.get("memo", ""),
                dims,
            )
        )
    head = format_html(
        "<div>{} · {} · dated {}</div>",
        posting.get("reference", ""),
        currency,
        posting.get("date", ""),
    )
    return format_html(
        '{}<table class="posting"><thead><tr><th>line</th><th>account</th><th>debit</th><th>credit</th><th>memo</th>'
        "<th>dimensions</th></tr></thead><tbody>{}</tbody></table>",
        head,
        format_html_join(
            "",
            "<tr class='{}'><td>{}</td><td>{}</td><td style='text-align:right'>{}</td><td style='text-align:right'>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            rows,
        ),
    )


def truncated(text, length=60):
    """Short text for a list column, the full text as its title (shown on hover)."""
    text = text or ""
    if len(text) <= length:
        return text or "-"
    return format_html('<span title="{}">{}…</span>', text, text[: length - 1])
