"""The proof's verdict (integrations.proof.check) finds each kind of failure it is there to find."""

from integrations.proof.check import FlowFacts, judge, judge_all

LEDGER = {"EXP-1": {"J1"}, "EXP-2": {"J2"}}
BATCHES = [("1", "confirmed", "", "EXP-1"), ("2", "posted", "", "EXP-2"), ("3", "held", "MAP-UNMAPPED-CATEGORY", "EXP-3")]


def facts(**changes):
    fields = {"label": "t1 expensify_to_jde", "expected": {"1", "2", "3"}, "batches": list(BATCHES), "ledger": dict(LEDGER)}
    return FlowFacts(**{**fields, **changes})


def test_a_clean_flow_is_ok():
    verdict = judge(facts())
    assert verdict["ok"] and verdict["records"] == 3
    assert verdict["states"] == {"confirmed": 1, "posted": 1, "held": 1}


def test_a_reference_in_the_target_twice_is_a_duplicate():
    verdict = judge(facts(ledger={**LEDGER, "EXP-2": {"J2", "J7"}}))
    assert not verdict["ok"]
    assert verdict["duplicates"] == {"EXP-2": ["J2", "J7"]}


def test_a_source_record_without_a_settled_batch_is_lost():
    verdict = judge(facts(expected={"1", "2", "3", "4"}))
    assert verdict["lost"] == ["4"] and not verdict["ok"]
    stuck = judge(facts(batches=[*BATCHES[:2], ("3", "in_doubt", "JDE-TIMEOUT", "EXP-3")]))
    assert stuck["lost"] == ["3"] and stuck["unsettled"] == ["3:in_doubt"]


def test_a_mirror_key_counts_once_whatever_its_versions():
    batches = [("E1@aa", "confirmed", "", "EMP-E1@aa"), ("E1@bb", "confirmed", "", "EMP-E1@bb"), ("E2@cc", "held", "X", "r")]
    verdict = judge(FlowFacts("t1 acumatica_to_expensify", {"E1", "E2"}, batches, ledger={}, posting=False))
    assert verdict["ok"] and verdict["lost"] == []


def test_held_without_a_reason_and_target_mismatches_fail():
    verdict = judge(facts(batches=[BATCHES[0], ("2", "held", "", "EXP-2"), ("3", "posted", "", "EXP-3")]))
    assert verdict["held_without_reason"] == ["2"]
    assert verdict["missing_in_target"] == ["EXP-3"]  # posted, but the target has no such document
    assert verdict["in_target_not_posted"] == ["EXP-2"]  # in the target, but the portal says held
    assert not verdict["ok"]


def test_a_limit_breach_fails_the_run():
    _, totals = judge_all([facts()], {"tenant1": {"bill": {"BDC_1322_concurrency": 0}}})
    assert totals["ok"] and totals["breaches"] == 0
    _, totals = judge_all([facts()], {"tenant1": {"bill": {"BDC_1322_concurrency": 1}, "expensify": {"rate_limit": 0}}})
    assert not totals["ok"] and totals["breaches"] == 1
