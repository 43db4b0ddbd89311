"""``PartyIndex`` answers as ``matches`` does (tax ids first, then tax ids or names), without a scan per party."""

import itertools
import random
from types import SimpleNamespace

from integrations.flows.bill_vendors import PartyIndex, matches

NAMES = ["Acme", "acme ", "ACME  Corp", "Beta", "", None]
TAXES = ["1", " 1", "2", "", None, "3 "]


def test_the_index_finds_what_a_scan_finds_in_the_same_order():
    rnd = random.Random(7)
    for _ in range(2000):
        items = [(rnd.choice(NAMES), rnd.choice(TAXES), n) for n in range(rnd.randint(0, 8))]
        index = PartyIndex(items, name_of=lambda i: i[0], tax_of=lambda i: i[1])
        for name, tax in itertools.product(NAMES, TAXES):
            assert index.matches(name, tax) == matches(items, name, tax, name_of=lambda i: i[0], tax_of=lambda i: i[1])


SUPPLIER_NAMES = ["Acme Supply", "acme  supply", "ACME SUPPLY ", "Borealis Ltd", "", None]
SUPPLIER_TAXES = ["12-345", " 12-345", "12-345 ", "98-765", "", None]


def test_the_index_gives_the_scan_answer_for_every_kind_of_party():
    rng = random.Random(5)
    items = [SimpleNamespace(n=i, name=rng.choice(SUPPLIER_NAMES), tax=rng.choice(SUPPLIER_TAXES)) for i in range(60)]
    index = PartyIndex(items, name_of=lambda s: s.name, tax_of=lambda s: s.tax)
    asked = 0
    for name in SUPPLIER_NAMES + ["Nobody"]:
        for tax in SUPPLIER_TAXES + ["00-000"]:
            expected = matches(items, name, tax, name_of=lambda s: s.name, tax_of=lambda s: s.tax)
            assert [s.n for s in index.matches(name, tax)] == [s.n for s in expected], (name, tax)
            asked += bool(expected)
    assert asked > 10
