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


def is_money_key(key) -> bool:
    """Whether a record's field holds an amount: ``amount``, ``total``, ``gross``, ``extended_amount``,
    ``convertedAmount``, ``debit_total``... (by name: every source names its amounts so)."""
    name = str(key).replace("_", "").replace(" ", "").lower()
    return name == "gross" or name.endswith(("amount", "total")) or name.startswith("amount")


def money_value(value, currency="", *, minor_units=False):
    """An amount field of a record as money: in its currency's precision when the currency is known, else with
    at least two decimals and never fewer than it has (no digit lost to a guessed precision). Not a number:
    None, so the caller shows it as it is. ``minor_units``: the source counts in cents (Expensify)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)) or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    code = str(currency or "").upper()
    if minor_units:
        if number != number.to_integral_value():
            return None  # not a count of minor units: shown as sent
        number = number.scaleb(-EXPONENTS.get(code, 2))
    if code in EXPONENTS:
        return money(number, code)
    places = max(2, -number.as_tuple().exponent)
    return f"{number.quantize(Decimal(1).scaleb(-places)):,}"


# --------------------------------------------------------------------------- accounts


def _jde_account(account: dict) -> str:
    # JD Edwards writes an account as BU.OBJECT[.SUBSIDIARY] (F0901 "account number, short form"); a voucher's
    # A/P side is its supplier, by address number (AN8).
    if "business_unit" not in account and account.get("supplier") not in (None, ""):
        return f"supplier {account['supplier']}"
    key = f"{account['business_unit']}.{account['object']}"
    return f"{key}.{account['subsidiary']}" if account.get("subsidiary") else key


def _ifs_account(account: dict) -> str:
    # IFS shows a voucher row's code string as Account, then Code B..J in their own columns: the account
    # alone, each other code part named by its letter ("6120 · B:CC10 · C:P200").
    parts = {key[-1].upper(): value for key, value in account.items() if key.startswith("code_") and value}
    return " · ".join([parts.pop("A")] + [f"{letter}:{value}" for letter, value in sorted(parts.items())])


def _acumatica_account(account: dict) -> str:
    # Acumatica shows an account with its subaccount as Account-Subaccount ("6100-000"); branch, project and
    # task are fields of the line beside it.
    text = f"{account['account']}-{account['subaccount']}" if account.get("subaccount") else str(account["account"])
    extras = [f"{name} {account[name]}" for name in ("branch", "project", "task") if account.get(name)]
    return " · ".join([text, *extras])


def _bill_account(account: dict) -> str:
    # A BILL bill line is coded by a chart of account (numbered as the JD Edwards object) and a department (short
    # name = the business unit); the bill's other side is the vendor of the JD Edwards supplier.
    if "account" not in account and account.get("supplier") not in (None, ""):
        return f"vendor of supplier {account['supplier']}"
    business_unit, _, rest = str(account["account"]).partition(".")
    obj = rest.split(".")[0]
    return f"chart of account {obj} · department {business_unit}" if obj else str(account["account"])


#: target system -> fn(account dict) -> the account as that system's users write it
ACCOUNT_FORMATTERS = {"jde": _jde_account, "ifs": _ifs_account, "acumatica": _acumatica_account, "bill": _bill_account}


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


def field_text(key, value, currency="", minor_units=False):
    """One field of a record: an amount (``is_money_key``) as money in the record's currency, else as it is."""
    if is_money_key(key):
        amount = money_value(value, currency, minor_units=minor_units)
        if amount is not None:
            return amount
    return scalar(value)


def _currency_of(record, currency, key=None):
    """The currency of ``record``'s field ``key``: a record (or a line of it) naming its own currency is in that
    one, else in the enclosing record's; a converted amount (Expensify's ``convertedAmount``) is in the latter."""
    if key is not None and str(key).lower().startswith("converted"):
        return currency
    own = record.get("currency") or record.get("currencyCode") or record.get("CurrencyID")
    return own if isinstance(own, str) and own.strip() else currency


def labelled_values(data, *, skip=(), currency="", minor_units=False) -> str:
    """A dict as a two-column table of labelled values; nested lists of dicts as sub-tables. Amounts read as
    money in the record's currency (its ``currency`` field, else ``currency``); ``minor_units``: in cents."""
    if not isinstance(data, dict) or not data:
        return scalar(data)
    parent, currency = currency, _currency_of(data, currency)
    rows = []
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            shown = rows_table(value, currency=currency, minor_units=minor_units)
        elif isinstance(value, dict) and value:
            shown = labelled_values(value, currency=currency, minor_units=minor_units)
        else:
            shown = field_text(key, value, _currency_of(data, parent, key), minor_units)
        rows.append((label(key), shown))
    return format_html(
        '<table class="labelled"><tbody>{}</tbody></table>',
        format_html_join("", "<tr><th scope='row'>{}</th><td>{}</td></tr>", rows),
    )


def rows_table(items: list[dict], columns=None, *, currency="", minor_units=False) -> str:
    """A list of dicts as one table; the columns are the union of keys (first-seen order); amounts as money."""
    if not items:
        return "-"
    columns = columns or list(dict.fromkeys(k for item in items for k in item))
    head = format_html_join("", "<th>{}</th>", ((label(c),) for c in columns))

    def cells(item):
        return format_html_join(
            "", "<td>{}</td>", ((field_text(c, item.get(c), _currency_of(item, currency, c), minor_units),) for c in columns)
        )

    body = format_html_join("", "<tr>{}</tr>", ((cells(item),) for item in items))
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
