"""What the outside world holds after a chaos run, read through the sandbox's control API,
and the invariants every run must keep."""

from collections import defaultdict
from decimal import Decimal

import requests

from integrations.currencies import EXPONENTS
from integrations.engine.sanitize import has_control
from integrations.models import Batch

S = Batch.State
OFFSET_OBJECTS = ("2100", "2150")  # employee payable, card clearing (JD Edwards objects and Acumatica accounts)
SETTLED = (S.POSTED, S.CONFIRMED, S.HELD, S.SKIPPED)


def control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


def approved_reports(box):
    return {str(r["reportID"]): r for r in control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})}


def journals(box):
    """reference -> {document number -> [(object account, amount, currency, texts)]}, from the Z-file and the
    ledger: a journal processed into F0911 is one document whether its Z rows remain or were purged."""
    out = defaultdict(dict)
    for row in control(box, "GET", "jde/F0911Z1"):
        doc = str(row["VNDOC"])
        line = (row["VNOBJ"].strip(), Decimal(str(row["VNAA"])), row["VNCRCD"], [row.get("VNEXA", ""), row.get("VNEXR", "")])
        out[row["VNEDTN"]].setdefault(doc, {})[("z", row["VNEDBT"], row["VNEDLN"])] = line
    for row in control(box, "GET", "jde/F0911"):
        doc = str(row["GLDOC"])
        line = (row["GLOBJ"].strip(), Decimal(str(row["GLAA"])), row["GLCRCD"], [row.get("GLEXA", ""), row.get("GLEXR", "")])
        lines = out[row["GLEXR"]].setdefault(doc, {})
        if not any(key[0] == "z" for key in lines):  # the Z rows were purged: the ledger rows stand for them
            lines[("gl", row.get("GLICU"), row.get("GLJELN"))] = line
    return {ref: {doc: list(lines.values()) for doc, lines in docs.items()} for ref, docs in out.items()}


def check(box, tenant, seed, ledger=None, target="JD Edwards"):
    """Every approved report is in JD Edwards exactly once or held with a reason; none is lost; nothing
    is stuck; posted totals equal the source to the cent; no control character reached JD Edwards.
    Returns counts for the run."""
    reports = approved_reports(box)
    ledger = (ledger or journals)(box)
    batches = list(Batch.objects.filter(flow__tenant=tenant))
    by_ref = {b.external_ref: b for b in batches}
    where = f"seed {seed}"
    counts = defaultdict(int)
    for ref, docs in ledger.items():
        assert len(docs) == 1, f"{where}: {ref} is in {target} {len(docs)} times: {sorted(docs)}"
        for lines in docs.values():
            for _, _, _, texts in lines:
                assert not any(has_control(t or "") for t in texts), f"{where}: control character sent in {ref}"
    for batch in batches:
        assert batch.state in SETTLED, f"{where}: batch {batch.source_id} stuck in {batch.state}"
        if batch.state == S.HELD:
            assert batch.error_code and batch.last_error and batch.error_help, f"{where}: held without a reason"
    for report_id, report in reports.items():
        ref = f"EXP-{report_id}"
        batch = by_ref.get(ref)
        assert batch is not None, f"{where}: report {report_id} was lost (no batch)"
        in_jde = ref in ledger
        counts[batch.state] += 1
        if batch.state in (S.POSTED, S.CONFIRMED):
            assert in_jde, f"{where}: batch {report_id} is {batch.state} but not in JD Edwards"
            _check_totals(report, next(iter(ledger[ref].values())), where)
        else:
            assert not in_jde, f"{where}: report {report_id} is in JD Edwards but its batch is {batch.state}"
    counts["reports"] = len(reports)
    return dict(counts)


def _check_totals(report, lines, where):
    currency = report["currency"]
    exponent = EXPONENTS[currency]
    assert sum(amount for _, amount, _, _ in lines) == 0, f"{where}: journal of {report['reportID']} does not balance"
    expenses = sum(amount for obj, amount, _, _ in lines if obj not in OFFSET_OBJECTS)
    assert expenses == Decimal(int(report["total"])).scaleb(-exponent), (
        f"{where}: report {report['reportID']} totals {report['total']} minor units of {currency}, JD Edwards has {expenses}")
    assert {cur for _, _, cur, _ in lines} == {currency}
