"""The proof's verdict (integrations.proof.check) finds each kind of failure it is there to find."""

from integrations.proof.check import FlowFacts, judge, judge_all
from integrations.proof.kinds import SPECS, spec_key

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


class Fakes:
    """What a sandbox's control API answers, by path (the kinds' readers only call ``get``)."""

    anchor = "2026-11-01"

    def __init__(self, **paths):
        self.paths = {path.replace("__", "/"): rows for path, rows in paths.items()}

    def get(self, path, **params):
        return self.paths.get(path, [])


def bill(bill_id, invoice, description="", created="2026-11-01T00:10:00.000+00:00"):
    return {"id": bill_id, "invoice": {"invoiceNumber": invoice}, "description": description, "createdTime": created}


def test_a_bill_made_twice_for_one_order_is_a_duplicate():
    box = Fakes(bill__bills=[bill("00n01A", "PO-00001-5001-OP"), bill("00n01B", "PO-00001-5001-OP"),
                             bill("00n01C", "PO-00001-5002-OP"), bill("00n01D", "B-5000", created="2026-10-01")])
    ledger = SPECS["jde_to_bill:bills"].ledger(box)
    assert ledger == {"PO-00001-5001-OP": {"00n01A", "00n01B"}, "PO-00001-5002-OP": {"00n01C"}}  # not BILL's own B-5000
    batches = [("00001-5001-OP", "posted", "", "PO-00001-5001-OP"), ("00001-5002-OP", "posted", "", "PO-00001-5002-OP")]
    verdict = judge(FlowFacts("t1 jde_to_bill:bills", {"00001-5001-OP", "00001-5002-OP"}, batches, ledger=ledger))
    assert verdict["duplicates"] == {"PO-00001-5001-OP": ["00n01A", "00n01B"]} and not verdict["ok"]


def test_a_supplier_invoice_billed_twice_is_a_duplicate_whatever_its_invoice_number():
    voucher = "JD Edwards voucher PV 5000001 of company 00001"
    box = Fakes(bill__bills=[bill("00n01A", "SI-9100", voucher), bill("00n01B", "SI-9100-2", voucher),
                             bill("00n01C", "SI-9101", "JD Edwards voucher PV 5000002 of company 00001")])
    ledger = SPECS["jde_to_bill:invoices"].ledger(box)
    assert ledger == {"INV-00001-PV-5000001": {"00n01A", "00n01B"}, "INV-00001-PV-5000002": {"00n01C"}}
    batches = [("00001-PV-5000001", "posted", "", "INV-00001-PV-5000001"), ("00001-PV-5000002", "held", "X", "")]
    verdict = judge(FlowFacts("t1 jde_to_bill:invoices", {"00001-PV-5000001", "00001-PV-5000002"}, batches, ledger=ledger))
    assert list(verdict["duplicates"]) == ["INV-00001-PV-5000001"]
    assert verdict["in_target_not_posted"] == ["INV-00001-PV-5000002"] and not verdict["ok"]


def test_a_bill_payment_posted_back_twice_is_a_duplicate():
    box = Fakes(jde__F0411=[{"RPRMK": "stp01PAY1", "RPDOC": 7001}, {"RPRMK": "stp01PAY1", "RPDOC": 7002},
                            {"RPRMK": "", "RPDOC": 5000001}],
                bill__payments=[{"id": "stp01PAY1", "status": "PAID", "createdTime": "2026-11-01T01:00:00.000+00:00"},
                                {"id": "stp01OLD", "status": "PAID", "createdTime": "2026-09-01T01:00:00.000+00:00"}])
    assert SPECS["bill_to_jde"].expected(box) == {"stp01PAY1"}  # the sandbox's own older payments are not the run's
    assert SPECS["bill_to_jde"].ledger(box) == {"stp01PAY1": {"7001", "7002"}}


def test_a_kind_of_several_record_kinds_has_a_spec_per_record_kind():
    assert spec_key("jde_to_bill", {}) == "jde_to_bill:vendors"
    assert spec_key("jde_to_bill", {"records": "invoices"}) == "jde_to_bill:invoices"
    assert spec_key("bill_to_jde", {"start_date": "2026-11-01"}) == "bill_to_jde"
    assert {"jde_to_bill:vendors", "jde_to_bill:bills", "jde_to_bill:invoices", "bill_to_jde"} <= set(SPECS)
