"""The sliding-window rate limit on the database: every worker sharing a credential shares one window, kept in
one row, and a call costs a fixed few statements."""

import pytest
from django.db import connection

from integrations.models import RateWindow
from integrations.querycount import count_queries
from integrations.systems.limits import RateLimiter

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self):
        self.now = 1_000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def limiter(clock, windows=((2, 1.0),), key="expensify:one", redis_url=""):
    return RateLimiter(key, windows, sleep=clock.sleep, clock=clock, redis_url=redis_url)


# With REDIS_URL the stamps live in Django's cache (here the database cache the tests configure).
@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379/15"], ids=["database", "cache"])
def test_a_call_past_the_window_waits_until_the_oldest_leaves_it_whichever_worker_made_them(redis_url):
    clock = Clock()
    first, second = limiter(clock, redis_url=redis_url), limiter(clock, redis_url=redis_url)  # two workers
    first.settle(first.acquire())
    clock.now += 0.5
    second.settle(second.acquire())
    assert clock.slept == []
    clock.now += 0.1
    third = first.acquire()  # two calls in the last second: wait until the first leaves it (plus the margin)
    assert clock.slept == [0.45] and third == pytest.approx(1_001.05)
    assert RateWindow.objects.count() == (0 if redis_url else 1)


def test_every_window_holds_and_a_call_given_up_on_counts_as_arriving_late():
    clock = Clock()
    limit = limiter(clock, windows=((1, 1.0), (2, 10.0)))
    limit.settle(limit.acquire(), late=3.0)  # given up on: it may still arrive up to 3 s from now
    limit.settle(limit.acquire())  # one a second, counted from that late stamp: waits 4 s (and the margin)
    clock.now += 2
    limit.acquire()  # the one-a-second window is free; two in ten seconds is not until the late stamp leaves it
    assert clock.slept == [pytest.approx(4.05), pytest.approx(7.0)]


def test_a_call_costs_the_database_a_read_and_a_write_each_way():
    clock = Clock()
    limit = limiter(clock, key="expensify:statements")
    limit.settle(limit.acquire())  # the key's first use makes its row
    with count_queries() as queries:
        limit.settle(limit.acquire())
    # acquire and settle: each reads the row locked and writes it in one transaction (SQLite's BEGIN counted)
    assert queries.count == (6 if connection.vendor == "sqlite" else 4)
