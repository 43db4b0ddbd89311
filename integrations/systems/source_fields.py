"""Reading a vendor's record without trusting it: each reader returns a usable value or a safe
stand-in, and notes a plain sentence in ``problems`` when the value was not what the API documents.

A record with problems is still returned (and stored by the engine, held with them), so one odd
record never fails a page: the flow's ``check_record`` turns ``problems`` into a hold. Control
characters in text are left for the flows to clean (``engine.sanitize``); identifiers and amounts
are never repaired.
"""

import datetime as dt
import unicodedata
from decimal import Decimal, InvalidOperation

# No real invoice, bill or payment reaches 10^15 in any currency unit; beyond it is a broken value
# (and would not fit JD Edwards' 15-digit amount columns or the portal's Batch.amount).
MAX_AMOUNT = Decimal(10) ** 15


def show(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FieldReader:
    """``FieldReader(problems, "bill 4001")``: readers for one record, noting problems as they go."""

    def __init__(self, problems, where):
        self.problems, self.where = problems, where

    def note(self, text):
        self.problems.append(f"{self.where}: {text}")

    def text(self, value, name, *, required=False):
        """A string: missing is "" (a problem when ``required``); numbers as written; anything else a problem."""
        if value is None or value == "":
            if required:
                self.note(f"{name} is missing")
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            return str(value)
        self.note(f"{name} {show(value)} is not text")
        return ""

    def amount(self, value, name):
        """A finite Decimal below MAX_AMOUNT from a number or a numeric string, else None with a problem."""
        if value is None or value == "":
            self.note(f"{name} is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
            self.note(f"{name} {show(value)} is not an amount")
            return None
        try:
            amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            self.note(f"{name} {show(value)} is not an amount")
            return None
        if abs(amount) >= MAX_AMOUNT:
            self.note(f"{name} {show(value)} is out of range")
            return None
        return amount

    def day(self, value, name, *, required=False):
        """An ISO date (``YYYY-MM-DD``, or a date-time whose first ten characters are one) as sent, else ""
        with a problem."""
        if value is None or value == "":
            if required:
                self.note(f"{name} is missing")
            return ""
        try:
            dt.date.fromisoformat(value[:10] if isinstance(value, str) else _refuse())
            return value
        except ValueError:
            self.note(f"{name} {show(value)} is not a date")
            return ""

    def record(self, value, name):
        """A dict (missing is {}), else {} with a problem."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.note(f"{name} {show(value)} is not a record")
        return {}

    def records(self, value, name):
        """A list of dicts (missing is []); items that are not dicts are problems and left out."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.note(f"{name} {show(value)} is not a list")
            return []
        out = []
        for position, item in enumerate(value, start=1):
            if isinstance(item, dict):
                out.append(item)
            else:
                self.note(f"{name} #{position} {show(item)} is not a record")
        return out


def _refuse():
    raise ValueError("not text")


def when(value):
    """An ISO date-time (``Z`` or an offset; naive is UTC) as an aware datetime, else None (never raises)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def trackable_id(value):
    """A record's id as text, or None when there is none to store and follow the record by: not a string or
    an integer, blank, or holding a control character (it would be altered on the way into the database)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value)
    if not text.strip() or any(unicodedata.category(c) == "Cc" for c in text):
        return None
    return text
