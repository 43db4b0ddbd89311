"""``PartyIndex`` answers as ``matches`` does (tax ids first, then tax ids or names), without a scan per party."""

import itertools
import random

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
