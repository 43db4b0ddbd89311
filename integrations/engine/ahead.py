"""Reading the source's next page on a thread while the cycle stores, maps and posts the current one.

Only for handlers that say their ``fetch`` may run ahead (``fetch_ahead = True``): pages read
only over HTTP, with nothing written and no cursor moved until the page is stored, so a page
read ahead and then dropped (the cycle ran out of time, or stopped) changes nothing. The
cycle asks for the next page once the current one is stored and ``after_store`` ran (a
source may page on what that marks, as Expensify does with its labels). Such a page is also
stored in parts (``parts``) and mapped and posted part by part; ``after_store`` runs once the
last part is stored, which alone carries the page's cursor.
"""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, connections

from .intake import distinct

_DONE = object()


class PagesAhead:
    def __init__(self, pages):
        self.pages = pages
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fetch")
        self.next = None

    def __iter__(self):
        while True:
            future, self.next = self.next or self.pool.submit(self._step), None
            held = [future.result()]  # the source's error, raised here on the cycle's thread
            future = None
            if held[0] is _DONE:
                return
            # Handed over, not kept: this frame holds no page while the cycle works on it (the cycle lets its
            # records go once they are stored, before the next page is read).
            yield held.pop()

    @staticmethod
    def parts(page, size):
        """``page`` as pages of ``size`` records; only the last carries the page's cursor. Each record once first,
        as storing the page whole would (``intake.distinct``): a record the source repeats is not split."""
        records = distinct(page.records)
        if len(records) <= size:
            return [page]
        chunks = [records[i:i + size] for i in range(0, len(records), size)]
        return [dataclasses.replace(page, records=chunk, cursor=page.cursor if i == len(chunks) - 1 else {})
                for i, chunk in enumerate(chunks)]

    def read_ahead(self):
        if self.next is None:
            self.next = self.pool.submit(self._step)

    def reading(self):
        """The next page being read (a future), if one is."""
        return self.next

    def _step(self):
        try:
            return next(self.pages)
        except StopIteration:
            return _DONE

    def close(self):
        try:
            if self.next is not None and not self.next.cancel():
                try:
                    self.next.result()
                except Exception:  # a page read ahead and not wanted: its error does not matter either
                    pass
            self.pool.submit(self.pages.close).result()
            self.pool.submit(connections.close_all).result()  # the fetch thread's own (a limiter may have used one)
        finally:
            self.pool.shutdown(wait=True)


class PagesInTurn:
    """The same interface, reading each page when it is asked for (every other handler)."""

    def __init__(self, pages):
        self.pages = pages

    def __iter__(self):
        return iter(self.pages)

    @staticmethod
    def parts(page, size):
        return [page]

    def read_ahead(self):
        pass

    def reading(self):
        return None

    def close(self):
        self.pages.close()


def pages_of(handler, cursor):
    pages = handler.fetch(cursor)
    # Inside a caller's transaction (a test, an atomic request) another thread would wait on its locks.
    if getattr(handler, "fetch_ahead", False) and not connection.in_atomic_block:
        return PagesAhead(pages)
    return PagesInTurn(pages)
