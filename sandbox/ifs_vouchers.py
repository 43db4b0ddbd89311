"""Creating a voucher from a template: what the fake's ``VoucherTemplate_CreateVoucher`` does.

Input (JSON, the action's parameters): ``VoucherDate`` (ISO date, required), ``VoucherText``,
``ReferenceNumber`` (kept on the voucher and every row, searchable with ``$filter``; at most
50 characters), ``CurrencyCode`` (required), ``Rows``: at least two of ``Account`` (code part
A), ``CodeB``, ``CodeC``, exactly one of ``CurrencyDebitAmount`` / ``CurrencyCreditAmount``
(positive; a JSON number or, with ``IEEE754Compatible``, a string) and ``Text``.

It is one write: the voucher and its rows appear together or not at all. The template's
ETag must be sent as ``If-Match`` (``*`` skips the check, as IFS's bound actions accept [doc]);
the voucher number comes from a series per company, voucher type and accounting year.

Definite rejections write nothing and answer ``validation_error_status`` (400 by default; the
reference says some database validation failures come back as 500, so it is a setting) with
the error code ``DATABASE_ERROR``: a code part value that does not exist, is inactive or is
not valid on the voucher date, debits that do not equal credits, more decimals than the
currency has, an unknown currency, fewer than two rows. With ``reference_unique`` (default
false: IFS has no idempotency key) a ReferenceNumber already on a voucher is refused too.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from . import catalog
from . import ifs_data as data
from .odata import ODataError

MAX_REFERENCE = 50
MAX_TEXT = 200


class VoucherRejected(ODataError):
    pass


def _reject(fake, message):
    status = int(fake.settings.get("validation_error_status", 400))
    return VoucherRejected(status, "DATABASE_ERROR", message)


def _amount(value, where, fake, exponent):
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _reject(fake, f"{where}: {value!r} is not an amount") from None
    if not amount.is_finite() or amount <= 0:
        raise _reject(fake, f"{where}: amounts must be positive (debit or credit column)")
    if -amount.as_tuple().exponent > exponent:
        raise _reject(fake, f"{where}: {amount} has more decimals than the currency allows ({exponent})")
    return amount


def create_voucher(fake, template, body):
    """Validate ``body`` against the code part values and write the voucher with its rows; returns it."""
    tables = fake.tables
    day = str(body.get("VoucherDate") or "")
    try:
        voucher_date = dt.date.fromisoformat(day)
    except ValueError:
        raise _reject(fake, f"VoucherDate {day!r} is not a date") from None
    currency = str(body.get("CurrencyCode") or "")
    if currency not in catalog.CURRENCY_EXPONENTS:
        raise _reject(fake, f"Currency code {currency!r} does not exist in company {template['Company']}")
    exponent = catalog.CURRENCY_EXPONENTS[currency]
    reference = body.get("ReferenceNumber")
    if reference is not None and (not isinstance(reference, str) or len(reference) > MAX_REFERENCE):
        raise _reject(fake, f"ReferenceNumber must be text of at most {MAX_REFERENCE} characters")
    if (
        reference
        and fake.settings.get("reference_unique")
        and any(v["ReferenceNumber"] == reference for v in tables[data.VOUCHERS.name])
    ):
        raise _reject(fake, f"A voucher with reference number {reference} already exists")
    rows = body.get("Rows")
    if not isinstance(rows, list) or len(rows) < 2:
        raise _reject(fake, "A voucher needs at least two rows")
    values = {
        (r["CodePart"], r["CodeValue"]): r for r in tables[data.CODE_PART_VALUES.name] if r["Company"] == template["Company"]
    }
    debit = credit = Decimal(0)
    checked = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise _reject(fake, f"row {number} is not an object")
        where = f"row {number}"
        for part, name in (("A", "Account"), ("B", "CodeB"), ("C", "CodeC")):
            value = row.get(name)
            if part == "A" and not value:
                raise _reject(fake, f"{where}: Account is mandatory")
            if value:
                _check_code_part(fake, values, part, str(value), voucher_date.isoformat(), where)
        dr = _amount(row.get("CurrencyDebitAmount"), where, fake, exponent)
        cr = _amount(row.get("CurrencyCreditAmount"), where, fake, exponent)
        if (dr is None) == (cr is None):
            raise _reject(fake, f"{where}: give either a debit or a credit amount")
        debit += dr or 0
        credit += cr or 0
        checked.append((row, dr, cr))
    if debit != credit:
        raise _reject(fake, f"The voucher is not balanced: debit {debit}, credit {credit} {currency}")
    return _write(fake, template, body, voucher_date, currency, reference, checked)


def _check_code_part(fake, values, part, value, day, where):
    found = values.get((part, value))
    name = data.CODE_PART_NAMES.get(part, f"Code {part}")
    if found is None:
        raise _reject(fake, f"{where}: {name} {value} does not exist (code part {part})")
    if found["Objstate"] != "Active":
        raise _reject(fake, f"{where}: {name} {value} is blocked for use (code part {part})")
    if not found["ValidFrom"] <= day <= found["ValidUntil"]:
        raise _reject(
            fake, f"{where}: {name} {value} is not valid on {day} (valid {found['ValidFrom']} to {found['ValidUntil']})"
        )


def _write(fake, template, body, voucher_date, currency, reference, checked):
    tables = fake.tables
    year = voucher_date.year
    series = (template["Company"], template["VoucherType"], year)
    number = fake.series.get(series, 0) + 1
    fake.series[series] = number
    version = fake.versions.next(fake.now())
    keys = {"Company": template["Company"], "AccountingYear": year, "VoucherType": template["VoucherType"], "VoucherNo": number}
    voucher = {
        **keys,
        "VoucherDate": voucher_date.isoformat(),
        "VoucherText": str(body.get("VoucherText") or "")[:MAX_TEXT],
        "ReferenceNumber": reference,
        "CurrencyCode": currency,
        "Template": template["Template"],
        "Objstate": "Confirmed",
        "EnteredAt": fake.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "_objid": data.objid("v", *keys.values()),
        "_objversion": version,
    }
    tables[data.VOUCHERS.name].append(voucher)
    for row_no, (row, dr, cr) in enumerate(checked, start=1):
        tables[data.VOUCHER_ROWS.name].append(
            {
                **keys,
                "RowNo": row_no,
                "Account": str(row["Account"]),
                "CodeB": row.get("CodeB") or None,
                "CodeC": row.get("CodeC") or None,
                "CurrencyCode": currency,
                "CurrencyDebitAmount": dr,
                "CurrencyCreditAmount": cr,
                "Text": str(row.get("Text") or "")[:MAX_TEXT] or None,
                "ReferenceNumber": reference,
                "_objid": data.objid("vr", *keys.values(), row_no),
                "_objversion": version,
            }
        )
    return voucher


def voucher_view(fake, voucher):
    """A voucher with its rows, amounts as decimal strings (the control API's view)."""
    keys = data.VOUCHERS.keys
    rows = [r for r in fake.tables[data.VOUCHER_ROWS.name] if all(r[k] == voucher[k] for k in keys)]
    out = {k: v for k, v in voucher.items() if not k.startswith("_")}
    out["Rows"] = [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items() if not k.startswith("_")} for r in rows]
    return out
