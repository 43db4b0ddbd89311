"""The chaos suite: seeded, reproducible runs against the sandbox proving exactly-once.

``CHAOS_RUNS`` (default 200) seeds run in blocks; ``CHAOS_SEEDS=3,17`` replays given seeds;
``CHAOS_FIRST`` moves the first seed (a different 200 for a larger run). After every run:
each approved report is in JD Edwards exactly once or held with a reason, none is lost, no
batch is left where only a person could free it without a reason shown, totals match the
source to the cent, and no control character reached JD Edwards (``world.check``).
"""

import os
from collections import Counter

import pytest

from .scenario import Run

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = int(os.environ.get("CHAOS_RUNS", "200"))
FIRST = int(os.environ.get("CHAOS_FIRST", "1"))
BLOCK = 25
SEEDS = ([int(s) for s in os.environ["CHAOS_SEEDS"].split(",")] if os.environ.get("CHAOS_SEEDS")
         else list(range(FIRST, FIRST + RUNS)))
BLOCKS = [SEEDS[i:i + BLOCK] for i in range(0, len(SEEDS), BLOCK)]
TOTALS = Counter()


@pytest.fixture
def chaos_settings(settings):
    settings.LEASE_SECONDS = 0.6  # a dead worker's flow is free again quickly
    return settings


@pytest.mark.parametrize("seeds", BLOCKS, ids=[f"seeds-{b[0]}-{b[-1]}" for b in BLOCKS])
def test_chaos(box, chaos_settings, seeds, capsys):
    for seed in seeds:
        run = Run(box, seed, chaos_settings)
        try:
            counts, events = run.play()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n  what seed {seed} did: {dict(run.events)}") from None
        TOTALS.update(counts)
        TOTALS.update(events)
        TOTALS["runs"] += 1
    with capsys.disabled():
        print(f"\nchaos {seeds[0]}-{seeds[-1]}: " + ", ".join(f"{k}={v}" for k, v in sorted(TOTALS.items())))
