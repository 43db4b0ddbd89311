"""The chaos suite: seeded, reproducible runs against the sandbox proving exactly-once.

Parametrized by target (``targets.py``): JD Edwards journals and Acumatica journal transactions.
``CHAOS_RUNS`` (default 200; ``CHAOS_ACUMATICA_RUNS``, default 50, for Acumatica) seeds run in
blocks; ``CHAOS_SEEDS=3,17`` replays given seeds;
``CHAOS_FIRST`` moves the first seed (a different 200 for a larger run). After every run:
each approved report is in JD Edwards exactly once or held with a reason, none is lost, no
batch is left where only a person could free it without a reason shown, totals match the
source to the cent, and no control character reached JD Edwards (``world.check``).
"""

import os
from collections import Counter, defaultdict

import pytest

from .scenario import Run
from .targets import ACUMATICA, JDE

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = {"jde": int(os.environ.get("CHAOS_RUNS", "200")), "acumatica": int(os.environ.get("CHAOS_ACUMATICA_RUNS", "50"))}
FIRST = int(os.environ.get("CHAOS_FIRST", "1"))
BLOCK = 25


def seeds(target):
    if os.environ.get("CHAOS_SEEDS"):
        return [int(s) for s in os.environ["CHAOS_SEEDS"].split(",")]
    return list(range(FIRST, FIRST + RUNS[target.system]))


BLOCKS = [(target, chunk) for target in (JDE, ACUMATICA)
          for chunk in (seeds(target)[i:i + BLOCK] for i in range(0, len(seeds(target)), BLOCK))]
TOTALS = defaultdict(Counter)  # per target


@pytest.fixture
def chaos_settings(settings):
    settings.LEASE_SECONDS = 0.6  # a dead worker's flow is free again quickly
    return settings


@pytest.mark.parametrize("target,seeds", BLOCKS, ids=[f"{t.system}-seeds-{b[0]}-{b[-1]}" for t, b in BLOCKS])
def test_chaos(box, chaos_settings, target, seeds, capsys):
    for seed in seeds:
        run = Run(box, seed, chaos_settings, target)
        try:
            counts, events = run.play()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n  what seed {seed} did: {dict(run.events)}") from None
        totals = TOTALS[target.system]
        totals.update(counts)
        totals.update(events)
        totals["runs"] += 1
    with capsys.disabled():
        totals = sorted(TOTALS[target.system].items())
        print(f"\nchaos {target.system} {seeds[0]}-{seeds[-1]}: " + ", ".join(f"{k}={v}" for k, v in totals))
