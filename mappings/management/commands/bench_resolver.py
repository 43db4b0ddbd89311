"""Benchmark of the mapping resolver: ``python manage.py bench_resolver --rules 10000 --lines 200000``.

Builds the rules in memory (no database), in a realistic mix of shapes (policy routing,
category, cost-center tag, employee + category, policy + category, project tag +
category, tenant-wide and flow-scoped), resolves generated expense lines and prints
lines per second and memory figures. Deterministic for a given --seed.
"""

import random
import resource
import time
import tracemalloc

from django.core.management.base import BaseCommand

from mappings.models import MappingRule
from mappings.resolver import Resolver

SHAPES = [  # (weight, builder)
    (0.02, "policy"),
    (0.08, "category"),
    (0.10, "cost_center"),
    (0.40, "employee_category"),
    (0.20, "policy_category"),
    (0.15, "project_category"),
    (0.05, "employee"),
]


def build_world(n_rules, seed):
    rnd = random.Random(seed)
    n = max(n_rules, 10)
    policies = [f"Policy {i}" for i in range(max(3, n // 200))]
    categories = [f"Category {i}" for i in range(max(10, n // 20))]
    cost_centers = [f"CC{i:04d}" for i in range(max(3, n // 10))]
    projects = [f"PRJ-{i:04d}" for i in range(max(3, n // 10))]
    employees = [f"employee{i}@example.com" for i in range(max(10, n // 4))]
    world = dict(policies=policies, categories=categories, cost_centers=cost_centers, projects=projects,
                 employees=employees)
    rules, seen, pk = [], set(), 0
    weights = [w for w, _ in SHAPES]
    names = [s for _, s in SHAPES]
    attempts = 0
    while len(rules) < n_rules and attempts < n_rules * 20:
        attempts += 1
        shape = rnd.choices(names, weights)[0]
        scoped = rnd.random() < 0.3
        kw = {}
        if shape == "policy":
            kw = dict(policy=rnd.choice(policies), target_business_unit=str(rnd.randint(100, 999)))
        elif shape == "category":
            kw = dict(category=rnd.choice(categories), target_object=str(rnd.randint(6000, 6999)))
        elif shape == "cost_center":
            cc = rnd.choice(cost_centers)
            kw = dict(tags={"Cost Center": cc}, target_subsidiary=cc)
        elif shape == "employee_category":
            kw = dict(employee=rnd.choice(employees), category=rnd.choice(categories),
                      target_object=str(rnd.randint(6000, 6999)))
        elif shape == "policy_category":
            kw = dict(policy=rnd.choice(policies), category=rnd.choice(categories),
                      target_object=str(rnd.randint(6000, 6999)))
        elif shape == "project_category":
            kw = dict(tags={"Project": rnd.choice(projects)}, category=rnd.choice(categories),
                      target_subsidiary=str(rnd.randint(1, 99)))
        elif shape == "employee":
            kw = dict(employee=rnd.choice(employees), target_business_unit=str(rnd.randint(100, 999)))
        key = (scoped, tuple(sorted((k, str(v)) for k, v in kw.items() if not k.startswith("target_"))))
        if key in seen:
            continue
        seen.add(key)
        pk += 1
        rules.append(MappingRule(pk=pk, tenant_id=1, flow_id=1 if scoped else None, **kw))
    return world, rules


def build_lines(world, n_lines, seed):
    rnd = random.Random(seed + 1)
    lines = []
    for _ in range(min(n_lines, 50_000)):  # a pool of distinct lines, cycled
        attrs = {
            "policy": rnd.choice(world["policies"]),
            "category": rnd.choice(world["categories"]),
            "employee": rnd.choice(world["employees"]),
        }
        if rnd.random() < 0.9:
            attrs["tag:Cost Center"] = rnd.choice(world["cost_centers"])
        if rnd.random() < 0.5:
            attrs["tag:Project"] = rnd.choice(world["projects"])
        if rnd.random() < 0.2:  # messy source values still match
            attrs["category"] = f"  {attrs['category'].upper()} "
        lines.append(attrs)
    return lines


class Command(BaseCommand):
    help = "Measure mapping resolution speed: lines per second with N rules (in memory)."

    def add_arguments(self, parser):
        parser.add_argument("--rules", type=int, default=10_000)
        parser.add_argument("--lines", type=int, default=200_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--repeat", type=int, default=3, help="Timed runs; the best is reported.")

    def handle(self, *args, rules, lines, seed, repeat, **options):
        world, rule_objs = build_world(rules, seed)
        pool = build_lines(world, lines, seed)

        tracemalloc.start()
        t0 = time.perf_counter()
        resolver = Resolver.from_rules(rule_objs)
        build_s = time.perf_counter() - t0
        _, index_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        resolve = resolver.resolve
        npool = len(pool)
        best = None
        hits = 0
        for _ in range(max(1, repeat)):
            hits = 0
            t0 = time.perf_counter()
            full, rest = divmod(lines, npool)
            for _round in range(full):
                for attrs in pool:
                    hits += len(resolve(attrs))
            for attrs in pool[:rest]:
                hits += len(resolve(attrs))
            elapsed = time.perf_counter() - t0
            best = elapsed if best is None else min(best, elapsed)
        rate = lines / best if best else float("inf")
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(
            f"rules: {len(rule_objs)} in {len(resolver.shapes())} shapes; index built in {build_s * 1000:.0f} ms "
            f"(peak {index_peak / 1e6:.1f} MB while building)\n"
            f"lines: {lines} resolved in {best:.3f} s (best of {max(1, repeat)}): {rate:,.0f} lines/second; "
            f"{hits / lines:.2f} target fields per line\n"
            f"peak memory (process RSS): {peak_rss_mb:.0f} MB"
        )
