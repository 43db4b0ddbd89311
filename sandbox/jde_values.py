"""JD Edwards fake: how stored values compare in conditions and look in GRID_DATA.

Dates are stored as Julian CYYDDD; condition literals may be Julian, YYYYMMDD, ISO or
MM/DD/YYYY (the literal format is UNCONFIRMED in the reference, so all are accepted).
"""

import datetime as dt
from decimal import Decimal

from . import jde_data as data


class ValuesMixin:
    """Column values by kind (see ``jde_data.TABLES``)."""

    # -- values ---------------------------------------------------------------------------------------
    def today(self):
        return self.now().date()

    def _parse_date(self, value):
        """A condition literal as a date: Julian CYYDDD, YYYYMMDD, YYYY-MM-DD or MM/DD/YYYY."""
        if isinstance(value, dt.date):
            return value
        text = str(value).strip()
        if text.isdigit() and len(text) <= 7:
            return data.from_julian(int(text))
        for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y"):
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise ValueError(f"{value!r} is not a date")

    def _comparable(self, kind, value):
        """A stored value or a condition literal, as something comparable for the column kind."""
        if kind in ("str", "mcu"):
            return "" if value is None else str(value).strip()
        if kind in ("num", "amount", "time"):
            if value is None or (isinstance(value, str) and not value.strip()):
                return Decimal(0)
            return Decimal(str(value).strip())
        if kind == "date":
            if value in (None, "", 0, "0"):
                return dt.date.min
            if isinstance(value, dt.date):
                return value
            day = self._parse_date(value)
            return day or dt.date.min
        return value

    def _out(self, kind, value):
        """A stored value as the data service returns it."""
        if kind == "mcu":
            return data.pad_mcu(value)
        if kind == "str":
            return "" if value is None else str(value).rstrip()
        if kind in ("num", "time"):
            return int(value or 0)
        if kind == "amount":
            return float(Decimal(value))
        if kind == "date":
            day = data.from_julian(value) if value else None
            style = str(self.settings.get("grid_date_format") or "YYYYMMDD").lower()
            if style == "julian":
                return int(value or 0)
            if day is None:
                return ""
            return day.strftime("%m/%d/%Y") if style == "user" else day.strftime("%Y%m%d")
        return value
