"""Bad source records are held with a reason a person can act on, never stopping the flow: every
other report of the page posts, and no control character ever reaches JD Edwards."""

import pytest

from integrations.engine import run_cycle
from integrations.models import Batch, SyncCycle

from .conftest import approved_reports, change_report, control_characters, jde_rows, journals_by_reference, make_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State

# What is done to each victim report, and the code its batch must be held with.
CORRUPTIONS = [
    ("bad_amount", "SRC-BAD-AMOUNT"),
    ("missing_amount", "SRC-MISSING-AMOUNT"),
    ("negative_total", "SRC-NEGATIVE-TOTAL"),
    ("no_lines", "SRC-EMPTY-REPORT"),
    ("duplicate_line", "SRC-DUPLICATE-LINE"),
    ("unknown_currency", "SRC-UNKNOWN-CURRENCY"),
    ("total_mismatch", "SRC-TOTAL-MISMATCH"),
    ("too_large_for_jde", "JDE-AMOUNT-TOO-LARGE"),
]


def corrupt(box, how, report):
    rid, txn = report["reportID"], report["transactions"][0]
    tid = txn["transactionID"]
    body = {
        "bad_amount": {"set_transaction": {"transactionID": tid, "convertedAmount": "12.x"}},
        "missing_amount": {"set_transaction": {"transactionID": tid, "convertedAmount": None}},
        "negative_total": {"set_report": {"total": -500}},
        "no_lines": {"remove_transactions": True},
        "duplicate_line": {"add_transaction": dict(txn)},  # the same transactionID twice
        "unknown_currency": {"set_report": {"currency": "XYZ"}},
        "total_mismatch": {"set_report": {"total": report["total"] + 100}},
        # A real edit (line and total): the portal stores it, JD Edwards' 15-digit amount column does not.
        "too_large_for_jde": {"set_amount": {"transactionID": tid, "amount": 10**15}},
    }[how]
    change_report(box, rid, **body)


def clean_candidates(box):
    """USD reports whose expenses all map (no Gifts): they post unless corrupted."""
    reports = approved_reports(box)
    return [reports[rid] for rid in sorted(reports, key=int)
            if reports[rid]["currency"] == "USD"
            and all(t["category"] != "Gifts" and t["currency"] == "USD" for t in reports[rid]["transactions"])]


def test_bad_records_are_held_with_their_reason_and_the_rest_of_the_page_posts(box):
    candidates = clean_candidates(box)
    assert len(candidates) >= len(CORRUPTIONS) + 1
    victims = {}
    for (how, code), report in zip(CORRUPTIONS, candidates, strict=False):
        corrupt(box, how, report)
        victims[report["reportID"]] = code
    # NUL and other control characters in free text: cleaned, noted, posted.
    dirty = candidates[len(CORRUPTIONS)]
    dirty_txn = dirty["transactions"][0]
    change_report(box, dirty["reportID"], set_report={"reportName": "Trip\x00\tReport"},
                  set_transaction={"transactionID": dirty_txn["transactionID"], "merchant": "AB\x00CD\x07"})

    flow = make_flow(box, options={"page_size": 100})  # one page holds them all
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message

    batches = {b.source_id: b for b in Batch.objects.filter(flow=flow)}
    assert len(batches) == 31
    wrong = {rid: (batches[rid].state, batches[rid].error_code, batches[rid].last_error)
             for rid, code in victims.items() if (batches[rid].state, batches[rid].error_code) != (S.HELD, code)}
    assert not wrong, wrong
    for rid in victims:
        assert batches[rid].last_error and batches[rid].error_help
        assert jde_rows(box, reference=batches[rid].external_ref) == []
    # Every other report posted (but the three the seeded rules cannot map).
    others = [b for rid, b in batches.items() if rid not in victims]
    unposted = [(b.source_id, b.error_code) for b in others if b.state not in (S.POSTED, S.CONFIRMED)]
    assert len(unposted) == 3 and all(code.startswith(("MAP-", "JDE-ACCOUNT-")) for _, code in unposted), unposted
    assert result.posted == len(others) - 3

    # The dirty report went to JD Edwards without its control characters, and the batch says so.
    cleaned = batches[dirty["reportID"]]
    assert cleaned.state in (S.POSTED, S.CONFIRMED)
    assert any("merchant" in note for note in cleaned.notes) and any("reportName" in note for note in cleaned.notes)
    rows = jde_rows(box, reference=cleaned.external_ref)
    assert any("ABCD" in row["VNEXA"] for row in rows)
    # No row JD Edwards holds carries a control character, and each journal is there once.
    assert control_characters(jde_rows(box)) == []
    journals = journals_by_reference(box)
    assert len(journals) == result.posted and all(len(numbers) == 1 for numbers in journals.values())


def test_an_amount_beyond_any_real_amount_is_held_as_out_of_range(box):
    """10**22 cents is a number, just no real amount: SRC-AMOUNT-OUT-OF-RANGE, on a line or on the total."""
    on_line, on_total, *_ = clean_candidates(box)
    txn = on_line["transactions"][0]
    change_report(box, on_line["reportID"], set_transaction={"transactionID": txn["transactionID"], "convertedAmount": 10**22})
    change_report(box, on_total["reportID"], set_report={"total": 10**22})
    flow = make_flow(box)
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    codes = {}
    for where, report in (("line", on_line), ("total", on_total)):
        batch = Batch.objects.get(flow=flow, source_id=report["reportID"])
        assert batch.state == S.HELD
        assert jde_rows(box, reference=batch.external_ref) == []
        codes[where] = (batch.error_code, batch.last_error[:90])
    assert {where: code for where, (code, _) in codes.items()} == {
        "line": "SRC-AMOUNT-OUT-OF-RANGE", "total": "SRC-AMOUNT-OUT-OF-RANGE"}, codes


def test_a_record_that_breaks_the_source_checks_is_held_and_the_page_goes_on(box, monkeypatch):
    """The engine's guard: a record on which the flow's own checks raise (a shape nobody expected) is stored held
    SRC-UNREADABLE with the defect named; the cycle does not fail and the other reports post."""
    from integrations.flows.expensify_to_jde import ExpensifyToJde

    victim = clean_candidates(box)[0]["reportID"]
    checked = ExpensifyToJde.check_record

    def check_record(self, payload):
        if str(payload.get("reportID")) == str(victim):
            raise TypeError("unhashable type: 'list'")
        return checked(self, payload)

    monkeypatch.setattr(ExpensifyToJde, "check_record", check_record)
    flow = make_flow(box)
    result = run_cycle(flow)
    assert result.state == SyncCycle.DONE, result.message
    batch = Batch.objects.get(flow=flow, source_id=str(victim))
    assert (batch.state, batch.error_code) == (S.HELD, "SRC-UNREADABLE") and "TypeError" in batch.last_error
    assert result.posted >= 20
