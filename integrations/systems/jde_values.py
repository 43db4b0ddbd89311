"""Values as the JD Edwards data service sends them, made typed: text stripped, numbers,
``Decimal`` amounts, dates from ``YYYYMMDD`` text, Julian CYYDDD numbers (value = (year - 1900)
* 1000 + day of year) or the user's format (which of these a server sends is UNCONFIRMED:
shared/reference/jde.md, "Values"), and times of day from HHMMSS numbers.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation


def flag(value):
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "y"))


def clean(row):
    clean = {k: (as_text(v) if isinstance(v, str) else v) for k, v in row.items()}
    if "AA" in clean:
        clean["AA"] = as_decimal(row["AA"])
    if "DOC" in clean:
        clean["DOC"] = document_number(row["DOC"])
    if "DGJ" in clean:
        clean["DGJ"] = as_date(row["DGJ"])
    if "ICU" in clean:
        clean["ICU"] = as_text(document_number(row["ICU"]))
    return clean


def as_text(value):
    return "" if value is None else str(value).strip()


def as_int(value):
    try:
        return int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return 0


def as_decimal(value):
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip() or "0")
    except InvalidOperation:
        return Decimal(0)


def document_number(value):
    text = as_text(value)
    try:
        return int(Decimal(text))
    except (InvalidOperation, ValueError):
        return text


def julian(day):
    return (day.year - 1900) * 1000 + day.timetuple().tm_yday


def as_date(value):
    """A grid date: "YYYYMMDD", a Julian CYYDDD number, "MM/dd/yyyy", ISO; None when empty."""
    if value in (None, "", 0):
        return None
    text = as_text(value)
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit() and len(text) <= 7:
        number = int(text)
        if number <= 0:
            return None
        return dt.date(1900 + number // 1000, 1, 1) + dt.timedelta(days=number % 1000 - 1)
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


JAVA_DATE_PARTS = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d"}


def strftime_pattern(java_pattern):
    """A Java SimpleDateFormat date pattern (``MM/dd/yyyy``) as strftime, or None if it has other fields."""
    if not java_pattern:
        return None
    out, rest = [], str(java_pattern)
    while rest:
        for token, code in JAVA_DATE_PARTS.items():
            if rest.startswith(token):
                out.append(code)
                rest = rest[len(token):]
                break
        else:
            if rest[0].isalpha():
                return None
            out.append(rest[0].replace("%", "%%"))
            rest = rest[1:]
    return "".join(out)


def as_time(value):
    """An HHMMSS number (UPMT, TDAY) as a time of day; midnight when empty or out of range."""
    number = as_int(value)
    hours, rest = divmod(number, 10000)
    minutes, seconds = divmod(rest, 100)
    try:
        return dt.time(hours, minutes, seconds)
    except ValueError:
        return dt.time()


def stamp(day_value, time_value):
    """The datetime of a (UPMJ, UPMT/TDAY) pair, or None without a date."""
    day = as_date(day_value)
    return dt.datetime.combine(day, as_time(time_value)) if day else None
