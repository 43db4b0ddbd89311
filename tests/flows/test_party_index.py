"""``PartyIndex`` answers exactly what ``matches`` answers (the rule both BILL directions use), from indexes."""

import random
from types import SimpleNamespace

from integrations.flows.bill_vendors import PartyIndex, matches

NAMES = ["Acme Supply", "acme  supply", "ACME SUPPLY ", "Borealis Ltd", "", None]
TAXES = ["12-345", " 12-345", "12-345 ", "98-765", "", None]


def test_the_index_gives_the_scan_answer_for_every_kind_of_party():
    rng = random.Random(5)
    items = [SimpleNamespace(n=i, name=rng.choice(NAMES), tax=rng.choice(TAXES)) for i in range(60)]
    index = PartyIndex(items, name_of=lambda s: s.name, tax_of=lambda s: s.tax)
    asked = 0
    for name in NAMES + ["Nobody"]:
        for tax in TAXES + ["00-000"]:
            expected = matches(items, name, tax, name_of=lambda s: s.name, tax_of=lambda s: s.tax)
            assert [s.n for s in index.matches(name, tax)] == [s.n for s in expected], (name, tax)
            asked += bool(expected)
    assert asked > 10
