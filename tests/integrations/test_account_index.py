"""``integrations.reference.account_index``: the accounts a flow validates against, from the shared reference cache."""

import pytest

from integrations.reference import account_index
from tests.flows.conftest import make_flow


@pytest.fixture
def flow(box, db):
    return make_flow(box)


def test_statuses_of_the_seeded_chart(flow):
    index = account_index(flow.target)
    assert index["100.6110.CC10"].active and index["100.6110.CC10"].postable
    assert not index["900.6110"].active  # closed business unit
    assert index["300.6900"].active and not index["300.6900"].postable  # non-posting
    assert "999.6110" not in index and index.get("999.6110") is None
    assert len(index) == len(list(index)) > 100


def test_a_second_cycle_does_not_reload_the_accounts(flow, django_assert_num_queries):
    first = account_index(flow.target)
    with django_assert_num_queries(2):  # is the cache stale? + has it changed since it was loaded?
        second = account_index(flow.target)
    assert dict(second) == dict(first)
