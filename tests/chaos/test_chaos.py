"""The chaos suite: seeded, reproducible runs against the sandbox proving exactly-once.

Runs on every posting flow kind (``targets``). ``CHAOS_RUNS`` (default 100, JD Edwards), ``CHAOS_RUNS_IFS`` and
``CHAOS_RUNS_ACUMATICA`` (default 50 each: 200 seeds per database in CI), ``CHAOS_RUNS_PROCURIFY`` (default 10,
Procurify bills into JD Edwards), ``CHAOS_RUNS_BILL`` (default 4, each BILL direction: ``bill_targets``)
seeds run in blocks; ``CHAOS_KINDS`` picks kinds;
``CHAOS_SEEDS=3,17`` replays given seeds; ``CHAOS_FIRST`` moves the first seed (a different 200 for a larger
run). After every run:
each approved report is in the target exactly once or held with a reason, none is lost, no
batch is left where only a person could free it without a reason shown, totals match the
source to the cent, and no control character reached the target (``world.check``).
"""

import os
from collections import Counter

import pytest

from .bill_targets import BILL_TARGETS
from .scenario import Run
from .targets import TARGETS

pytestmark = pytest.mark.django_db(transaction=True)

FIRST = int(os.environ.get("CHAOS_FIRST", "1"))
BLOCK = 25
# Runs per flow kind: CHAOS_RUNS for JD Edwards (default 100), CHAOS_RUNS_IFS for IFS and CHAOS_RUNS_ACUMATICA for
# Acumatica (default 50 each): 200 per database in CI, which runs the suite on SQLite and on PostgreSQL;
# CHAOS_KINDS=expensify_to_ifs runs one kind only.
RUNS = {"expensify_to_jde": int(os.environ.get("CHAOS_RUNS", "100")),
        "expensify_to_ifs": int(os.environ.get("CHAOS_RUNS_IFS", "50")),
        "expensify_to_acumatica": int(os.environ.get("CHAOS_RUNS_ACUMATICA", "50")),
        # Procurify bills and payments into JD Edwards: a small default (CI time), CHAOS_RUNS_PROCURIFY raises it
        "procurify_to_jde": int(os.environ.get("CHAOS_RUNS_PROCURIFY", "10")),
        # Both JD Edwards <-> BILL directions: CHAOS_RUNS_BILL seeds each (default 4: CI time matters).
        **{kind: int(os.environ.get("CHAOS_RUNS_BILL", "4")) for kind in BILL_TARGETS}}
TARGETS = {**TARGETS, **BILL_TARGETS}
KINDS = [k for k in os.environ.get("CHAOS_KINDS", ",".join(RUNS)).split(",") if k]


def _blocks(runs):
    seeds = ([int(s) for s in os.environ["CHAOS_SEEDS"].split(",")] if os.environ.get("CHAOS_SEEDS")
             else list(range(FIRST, FIRST + runs)))
    return [seeds[i:i + BLOCK] for i in range(0, len(seeds), BLOCK)]


CASES = [(kind, block) for kind in KINDS for block in _blocks(RUNS[kind])]
TOTALS = Counter()


@pytest.fixture
def chaos_settings(settings):
    settings.LEASE_SECONDS = 0.6  # a dead worker's flow is free again quickly
    return settings


@pytest.mark.parametrize("kind, seeds", CASES, ids=[f"{kind}-seeds-{b[0]}-{b[-1]}" for kind, b in CASES])
def test_chaos(box, chaos_settings, kind, seeds, capsys):
    for seed in seeds:
        run = Run(box, seed, chaos_settings, TARGETS[kind]())
        try:
            counts, events = run.play()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n  what seed {seed} of {kind} did: {dict(run.events)}") from None
        TOTALS.update({f"{kind}:{k}": v for k, v in counts.items()})
        TOTALS.update({f"{kind}:{k}": v for k, v in events.items()})
        TOTALS[f"{kind}:runs"] += 1
    with capsys.disabled():
        print(f"\nchaos {kind} {seeds[0]}-{seeds[-1]}: " + ", ".join(
            f"{k.split(':', 1)[1]}={v}" for k, v in sorted(TOTALS.items()) if k.startswith(kind + ":")))
