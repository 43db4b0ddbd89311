"""Procurify bills changed while a cycle pages through them: none skipped, none read or posted twice (over real HTTP).

A change stamps a bill "now", which moves it to the end of the last-modified order: with page-number paging every
later bill moves one place forward and the first bill of the next page is never read.
"""

import json
from collections import Counter
from types import SimpleNamespace

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch, SyncCycle
from integrations.systems.procurify import ProcurifyClient

from .conftest import control
from .test_procurify_to_jde import _fresh_tokens, expected_vouchers, make_procurify_flow, postable_bills, vouchers

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["_fresh_tokens"]  # the autouse fixture, imported to apply here too


def change_served_bills(box, monkeypatch, *, answers, pick=0):
    """After each bill list answer numbered in ``answers`` (1 = the first), someone saves the ``pick``-th bill of
    that answer in Procurify (no field the flow reads changes: only its stamp, so a second read stores nothing)."""
    fake, count, changed = box.fakes["procurify"], [0], []
    served = fake.bill_list

    def bill_list(req):
        response = served(req)
        rows = json.loads(response.body)["data"]
        count[0] += 1
        if count[0] in answers and len(rows) > pick:
            changed.append(rows[pick]["id"])
            fake._control_bill({}, rows[pick]["id"])
        return response

    monkeypatch.setattr(fake, "bill_list", bill_list)
    return changed


def one_stamp(box, count):
    """The first ``count`` bills (oldest change first) made to share one stamp: more of them than a page."""
    bills = sorted(box.fakes["procurify"].world["bills"], key=lambda b: (b["last_modified_datetime"], b["id"]))
    stamp = bills[0]["last_modified_datetime"]
    for bill in bills[:count]:
        bill["last_modified_datetime"] = stamp
    return [b["id"] for b in bills[:count]]


def client(box, page_size):
    creds = control(box, "GET", "credentials")["procurify"]
    return ProcurifyClient(SimpleNamespace(base_url=box.system_url("procurify"), credentials=creds,
                                           options={"page_size": page_size, "backoff_max": 0.01}))


def test_bills_changed_between_pages_are_neither_skipped_nor_posted_twice(box, monkeypatch):
    flow = make_procurify_flow(box)
    flow.source.options = {"page_size": 5}
    flow.source.save()
    changed = change_served_bills(box, monkeypatch, answers=(1, 2, 3))
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    assert len(changed) == 3
    stored = Counter(int(b.source_id[5:]) for b in Batch.objects.filter(flow=flow, source_id__startswith="BILL-"))
    assert set(stored) == set(postable_bills(box)), "a postable bill was never read"
    posted, found = expected_vouchers(box), vouchers(box)
    assert {int(ref.rsplit("-", 1)[1]) for ref in found if ref.startswith("PRC-BILL-")} == posted
    assert all(len(found[f"PRC-BILL-{i}"]) == 1 for i in posted)


def test_a_group_of_one_stamp_longer_than_a_page_survives_a_change_inside_it(box, monkeypatch):
    group = one_stamp(box, 13)
    # Answers: 1 page 1 of every bill, all of one stamp; 2 page 1 of those changed since it, nothing new: more of
    # that stamp than a page; 3 the stamp's own page 1, whose 2nd bill then changes (page-number paging: page 3).
    changed = change_served_bills(box, monkeypatch, answers=(3,), pick=1)
    bills = client(box, page_size=5).bills_since(None)
    ids = Counter(b.id for b in bills)
    assert changed and changed[0] in group
    assert set(ids) == {b["id"] for b in box.fakes["procurify"].world["bills"]}
    assert [i for i, n in ids.items() if n > 1] == changed  # only the changed bill, read again as its new version
    assert [b.modified for b in bills] == sorted(b.modified for b in bills)
