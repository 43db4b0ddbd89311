"""Supplier contact details both ways over real HTTP: the contact person (JD Edwards Who's Who line 1,
Procurify ``contact``) and the phone (F0115 line 1, ``phoneOne``) follow ``supplier_rules`` (procurement
owns them by default), a phone is compared by its digits, and versions written before these fields were
synced count as not knowing them (the first-pairing rule), never as a change on both sides."""

import pytest

from integrations.engine import mirror
from integrations.flows.supplier_sync import phone_key
from integrations.models import Batch

from .conftest import control
from .test_suppliers_both_ways import (
    _fresh_tokens,  # noqa: F401 (an autouse fixture)
    both_ways,
    orchestrations,
    procurify,
    procurify_writes,
    suppliers,
    sync,
    vendors,
)

pytestmark = pytest.mark.django_db(transaction=True)


def a_pair(box):
    """An active, paired supplier's address number and its vendor (after a first sync)."""
    an8 = next(n for n, r in suppliers(box).items() if r["ABAT1"] == "V" and r["A6HDPY"] != "Y")
    return an8, next(v for v in vendors(box).values() if v["external_id"] == str(an8))


def jde_phone(box, an8):
    """The business phone of Who's Who line 1 in F0115, as compared."""
    rows = [r for r in suppliers(box)[an8]["phones"] if r["WPPHTP"] == ""]
    return phone_key(rows[0]["WPAR1"] + rows[0]["WPPH1"]) if rows else ""


def test_a_phone_changed_in_procurify_reaches_f0115_and_a_jde_contact_reaches_procurify(box, db):
    out, back = both_ways(box)
    sync(out, back)
    an8, vendor = a_pair(box)
    procurify(box).update_vendor(vendor["id"], phoneOne="+1 (604) 555-0199")
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "contact": "Robin Vale"})
    sync(out, back)
    sync(out, back)
    assert jde_phone(box, an8) == "+16045550199"
    assert vendors(box)[vendor["id"]]["contact"] == "Robin Vale" == suppliers(box)[an8]["contact"]
    control(box, "DELETE", "calls")
    sync(out, back)
    assert orchestrations(box) == 0 and procurify_writes(box) == 0  # nothing changed: no write call


def test_a_phone_only_reformatted_is_no_change(box, db):
    out, back = both_ways(box)
    sync(out, back)
    an8, vendor = a_pair(box)
    procurify(box).update_vendor(vendor["id"], phoneOne="+1 250 555 0123")
    sync(back, out)
    assert jde_phone(box, an8) == "+12505550123"
    procurify(box).update_vendor(vendor["id"], phoneOne="+1-250-555-0123")
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "phone": "+1 (250) 555.0123"})
    control(box, "DELETE", "calls")
    sync(back, out)
    sync(out, back)
    assert orchestrations(box) == 0 and procurify_writes(box) == 0


@pytest.mark.parametrize("rules, phone_from", [({}, "procurify"), ({"phone": "jde"}, "jde")])
def test_contact_details_changed_on_both_sides_follow_the_rule(box, db, rules, phone_from):
    out, back = both_ways(box, supplier_rules=rules) if rules else both_ways(box)
    sync(out, back)
    an8, vendor = a_pair(box)
    phones = {"jde": "+1 403 555 0101", "procurify": "+1 403 555 0202"}
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "phone": phones["jde"], "contact": "Jo From JDE"})
    procurify(box).update_vendor(vendor["id"], phoneOne=phones["procurify"], contact="Jo From Procurify")
    for first, second in ((back, out), (out, back)):  # whichever direction runs first
        sync(first, second)
    assert jde_phone(box, an8) == phone_key(vendors(box)[vendor["id"]]["phoneOne"]) == phone_key(phones[phone_from])
    assert suppliers(box)[an8]["contact"] == vendors(box)[vendor["id"]]["contact"] == "Jo From Procurify"
    control(box, "DELETE", "calls")
    sync(out, back)
    sync(back, out)
    assert orchestrations(box) == 0 and procurify_writes(box) == 0  # settled: nobody flips back


def forget_contact_fields(*flows):
    """Make each record's newest version look like one written before contact and phone were synced: its
    states without them, its source id (and reference) the fingerprint of that state."""
    newest = {}
    for batch in Batch.objects.filter(flow__in=flows).order_by("pk"):
        newest[(batch.flow_id, mirror.key_of(batch.source_id))] = batch
    for batch in newest.values():
        target = (batch.payload or {}).get("target") or {}
        for state in (target, *(target.get("_after") or {}).values()):
            for name in ("contact", "phone"):
                (state or {}).pop(name, None)
        old, batch.source_id = batch.source_id, mirror.version_id(target)
        batch.external_ref = batch.external_ref.replace(old, batch.source_id)
        batch.save(update_fields=["payload", "source_id", "external_ref"])


def test_a_baseline_without_contact_fields_takes_the_filled_value_and_writes_nothing_else(box, db):
    out, back = both_ways(box)
    sync(out, back)
    sync(out, back)
    an8, vendor = a_pair(box)
    control(box, "POST", "jde/suppliers", json={"AN8": an8, "contact": "Kept In JDE"})
    sync(out, back)
    assert vendors(box)[vendor["id"]]["contact"] == "Kept In JDE"
    procurify(box).update_vendor(vendor["id"], contact="")
    forget_contact_fields(out, back)  # as if the last versions were written before contacts were synced
    control(box, "DELETE", "calls")
    sync(out, back)
    sync(back, out)
    # not known: the first-pairing rule (a blank never wins), not "changed on both" (Procurify's blank)
    assert suppliers(box)[an8]["contact"] == vendors(box)[vendor["id"]]["contact"] == "Kept In JDE"
    assert orchestrations(box) == 0 and procurify_writes(box) == 1
