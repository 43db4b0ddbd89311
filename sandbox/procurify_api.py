"""Procurify's wire conventions, shared by the fake's handlers.

* Lists answer ``{"metadata": {"pagination": {count, next, previous, page_size, num_pages,
  current_page}}, "data": [...]}`` with ``next``/``previous`` absolute URLs or null
  (shared/reference/procurify.md, "Pagination"); single objects ``{"metadata": {}, "data": {...}}``
  (the spec's ``...SerializerSingle`` responses).
* Query ``page`` (1-based) and ``page_size``; an out-of-range page answers 404
  ``{"detail": "Invalid page."}`` as Django REST Framework's paginator does (the spec is a DRF
  schema; the body is UNCONFIRMED).
* Errors are DRF-shaped: ``{"detail": "..."}`` or ``{field: ["message", ...]}`` (UNCONFIRMED,
  the reference's best guess).
* Range filters come in pairs ``<name>_0`` (from, inclusive) and ``<name>_1`` (to, inclusive),
  django-filter's RangeWidget naming; a date ``_1`` covers that whole day.
"""

import datetime as dt
import functools
import math
import operator
from urllib.parse import urlencode

from .http import HttpError, json_response
from .world import parse_when


class DrfError(HttpError):
    def __init__(self, status, body):
        super().__init__(str(body), status=status, body=body)


def detail(status, message):
    return DrfError(status, {"detail": message})


def invalid(field, message):
    return DrfError(400, {field: [message]})


def single(obj, status=200):
    return json_response({"metadata": {}, "data": obj}, status)


def page_of(req, items, settings, prefix, shape=None):
    """One page of ``items`` in the envelope, with absolute links built from the request's Host. ``shape``: what a
    listed item shows of a row, applied to the page only (copying every row per page made a long list quadratic)."""
    try:
        size = int(req.arg("page_size") or settings.get("default_page_size") or 10)
        page = int(req.arg("page") or 1)
    except ValueError:
        raise detail(404, "Invalid page.")
    size = max(1, min(size, int(settings.get("max_page_size") or 100)))
    pages = max(1, math.ceil(len(items) / size))
    if page < 1 or page > pages:
        raise detail(404, "Invalid page.")
    chunk = items[(page - 1) * size : page * size]
    if shape is not None:
        chunk = [shape(item) for item in chunk]

    def link(number):
        query = {k: v[0] for k, v in req.query.items()}
        query.update(page=number, page_size=size)
        return f"http://{req.headers.get('host', 'localhost')}/{prefix}{req.path}?{urlencode(query)}"

    pagination = {
        "count": len(items),
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
        "page_size": size,
        "num_pages": pages,
        "current_page": page,
    }
    return json_response({"metadata": {"pagination": pagination}, "data": chunk})


def in_range(req, name, *, dates=False):
    """A test of an ISO date or date-time string: inside the ``name_0``/``name_1`` range."""
    return _within(req, f"{name}_0", f"{name}_1", dates=dates)


def in_after_before(req, name):
    """The public API's ``<name>_after`` / ``<name>_before`` pair (django-filter IsoDateTimeFromToRangeFilter)."""
    return _within(req, f"{name}_after", f"{name}_before", dates=False)


def _within(req, low_name, high_name, *, dates):
    """The test for one request: its bounds read and parsed once, not once a row (a list of 10,000 bills read
    50 at a time parsed them 400,000 times), and a row's stamp parsed once for every list (``_when``)."""
    low, high = (_bound(req, name, dates, high=name == high_name) for name in (low_name, high_name))
    if low is None and high is None:
        return lambda value: True

    def test(value):
        when = _when(value)
        return when is not None and (low is None or when >= low) and (high is None or when <= high)

    return test


def _bound(req, name, dates, *, high):
    bound = req.arg(name)
    if not bound:
        return None
    parsed = parse_when(bound)
    if parsed is None or (dates and len(bound.strip()) != 10):
        raise invalid(name.rsplit("_", 1)[0], "Enter a valid date." if dates else "Enter a valid date/time.")
    if high and len(bound.strip()) == 10:
        parsed += dt.timedelta(days=1) - dt.timedelta(microseconds=1)  # a date bound covers its whole day
    return parsed


@functools.lru_cache(maxsize=1 << 16)
def _when(value):
    return parse_when(value)


def ordered(req, items, default):
    """``order_by=field`` or ``-field``; ties broken by ``id``."""
    key = req.arg("order_by") or default
    reverse = key.startswith("-")
    field = key.lstrip("-")
    if items and field not in items[0]:
        raise invalid("order_by", f"Select a valid choice. {field} is not one of the available choices.")
    try:  # the usual list: one type a column, no gaps; the same order as below at a tenth of the cost a row
        return sorted(items, key=operator.itemgetter(field, "id"), reverse=reverse)
    except (KeyError, TypeError):
        return sorted(items, key=lambda item: (_sortable(item.get(field)), _sortable(item.get("id"))), reverse=reverse)


def _sortable(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value, "")
    return (1, 0, "" if value is None else str(value))
