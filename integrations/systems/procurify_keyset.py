"""Keyset paging over a Procurify list of records by their last-change stamp.

Procurify lists page by number (``page``, ``page_size``) over ``order_by``. A record changed while a
cycle pages moves to the end of the last-modified order and every later record moves one place forward,
so page-number paging skips one record per change. The API has no "id after" filter, only the from/to
pair of the stamp (shared/reference/procurify.md: bills ``last_modified_datetime_0/1``, public payments
``updated_at_after/before``, both inclusive), so the keyset is the stamp alone, and ids de-duplicate:

* every request asks for page 1 of the records changed at or after the newest stamp read; the
  records read at that stamp are known by id and left out;
* when a whole page holds that one stamp (more records of one stamp than a page), the records of exactly
  that stamp (from = to = stamp) are read by page number. Only a change can take a record out of such a
  group (it stamps the record "now"), so a smaller ``count`` than the group had means a record left, later
  pages moved forward, and the group is read again from page 1 (the ids read are left out). Once the
  group is read, the next request starts one microsecond past it (Procurify's stamps carry microseconds);
* records without a stamp can only come when there is no stamp to start from (the first cycle without a
  ``start_date``): if a whole page of them gives nothing new, the rest of that list is read by page number.

``KeysetList.pages()`` yields ``(rows, newest)``: the rows not yielded before and the newest stamp read so far,
which is an inclusive cursor (a record read again at it is the same version).
"""

import datetime as dt

from .errors import NotFound
from .source_fields import trackable_id, when

MICROSECOND = dt.timedelta(microseconds=1)


def stamp_text(value):
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeysetList:
    def __init__(self, client, path, *, field, low, high, since=None):
        self.client, self.path, self.field, self.low, self.high = client, path, field, low, high
        self.bound = since  # the next request's inclusive "from"
        self.newest = since  # the newest stamp read
        self.at_newest = set()  # ids read at ``newest``
        self.unstamped = set()  # ids read without a stamp

    def pages(self):
        while True:
            before = self.newest
            rows, more, _ = self._get(self._between(self.bound, None), 1)
            fresh = self._take(rows)
            if fresh:
                yield fresh, self.newest
            if not more:
                return
            if self.newest is not None and (before is None or self.newest > before):
                self.bound = self.newest
                continue
            # A whole page of the bound's stamp (or of no stamp): that group by page number.
            yield from self._group(self.bound)
            if self.bound is None:
                return  # the whole unfiltered list was read by page number
            self.bound += MICROSECOND

    def _group(self, stamp):
        query, page, count = self._between(stamp, stamp), 1, None
        while True:
            try:
                rows, more, total = self._get(query, page)
            except NotFound:  # the group shrank below this page: read it again (a page 1 always exists)
                if page == 1:
                    raise
                page, count = 1, None
                continue
            if None not in (count, total) and total < count:  # a record left the group: later pages moved forward
                page, count = 1, total
                continue
            count = total
            fresh = self._take(rows)
            if fresh:
                yield fresh, self.newest
            if not more:
                return
            page += 1

    def _between(self, low, high):
        if low is None:
            return {}
        return {self.low: stamp_text(low), **({self.high: stamp_text(high)} if high is not None else {})}

    def _get(self, query, page):
        params = {"order_by": self.field, "page_size": self.client.page_size, **query, "page": page}
        body = self.client.call("GET", self.path, idempotent=True, params=params)
        pagination = (body.get("metadata") or {}).get("pagination") or {}
        return body.get("data") or [], bool(pagination.get("next")), pagination.get("count")

    def _take(self, rows):
        """The rows not read before; moves ``newest`` along."""
        fresh = []
        for row in rows:
            ident = trackable_id(row.get("id")) if isinstance(row, dict) else None
            if ident is None:  # nothing to know it again by: the client logs and leaves it
                fresh.append(row)
                continue
            stamp = when(row.get(self.field))
            if stamp is None:
                if ident in self.unstamped:
                    continue
                self.unstamped.add(ident)
            elif self.newest is None or stamp > self.newest:
                self.newest, self.at_newest = stamp, {ident}
            elif stamp == self.newest:
                if ident in self.at_newest:
                    continue
                self.at_newest.add(ident)
            fresh.append(row)
        return fresh
