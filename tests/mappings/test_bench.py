"""The resolver benchmark command runs, and (slow) meets the 100,000 lines/s target with 10,000 rules."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from mappings.management.commands.bench_resolver import build_world
from mappings.resolver import Resolver
from mappings.vocabulary import norm_attr


def run(rules, lines):
    out = StringIO()
    call_command("bench_resolver", rules=rules, lines=lines, repeat=1, stdout=out)
    text = out.getvalue()
    return text, float(re.search(r"([\d,]+) lines/second", text).group(1).replace(",", ""))


def test_bench_command_reports_a_rate_and_memory():
    text, rate = run(200, 2000)
    assert rate > 0 and "peak memory" in text and "200 in" in text


def test_bench_world_rules_resolve_like_a_scan_of_all_rules():
    """The index gives the same answer as the obvious (slow) definition: per field, the most specific match."""
    world, rules = build_world(300, seed=3)
    resolver = Resolver.from_rules(rules)
    for attrs in [{"policy": p, "category": c, "employee": e, "tag:Cost Center": cc}
                  for p, c, e, cc in zip(world["policies"] * 20, world["categories"], world["employees"],
                                         world["cost_centers"] * 3, strict=False)]:
        norm = {norm_attr(k): v.strip().casefold() for k, v in attrs.items()}
        matching = [r for r in rules if all(norm.get(k) == v for k, v in r.conditions().items())]
        matching.sort(key=lambda r: (r.specificity(), r.pk))
        expected = {}
        for rule in matching:
            for f, v in rule.targets().items():
                expected.setdefault(f, v)
        assert resolver.resolve(attrs) == expected


@pytest.mark.slow
def test_bench_meets_the_target_with_10000_rules():
    _, rate = run(10_000, 200_000)
    assert rate >= 100_000
