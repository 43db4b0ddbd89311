"""JD Edwards journals: the journal orchestration's payload, posting and reconcile search.

The orchestration ``MLC_AddJournalBatch`` is a customer-side artifact of this product, whose
input and output are documented in ``sandbox/jde.py``; see ``integrations/systems/jde.py``
for the contract summary and the reconcile design (F0911Z1 by VNEDTN and F0911 by GLEXR).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .jde_checks import INVALID, TEXT_LENGTH, control_problems, exponent_of, line_problems, reference_problems, refuse
from .jde_values import clean
from .text import fit


@dataclass
class JournalLine:
    account: str  # "BU.OBJ.SUB" or "BU.OBJ"
    amount: Decimal  # signed: debit +, credit -
    explanation: str = ""
    remark: str = ""  # sent as the line's Remark; the orchestration stores the reference in VNEXR instead


@dataclass
class JournalDocument:
    reference: str  # the external reference: VNEDTN and every line's VNEXR, at most 22 characters
    gl_date: dt.date
    currency: str
    company: str = "00001"
    document_type: str = "JE"
    explanation: str = ""
    lines: list[JournalLine] = field(default_factory=list)


@dataclass
class JournalResult:
    batch_number: str
    document_number: int | str
    raw: dict = field(default_factory=dict, repr=False)
    existing: bool = False  # the orchestration found the reference already written and wrote nothing


@dataclass(frozen=True)
class FoundJournal:
    """One journal document found for a reference, wherever it lives now.

    Identified by (company, document_type, document_number): a Z batch the processor has
    copied into F0911 is the same journal as its F0911 rows. Counts and totals come from
    the F0911 lines when there are any (the Z rows may be purged), else from the Z rows."""

    document_number: int | str
    document_type: str
    company: str
    batch_number: str  # VNEDBT when the Z rows remain (what the orchestration answered), else GLICU
    currency: str
    line_count: int
    debit_total: Decimal  # sum of the positive amounts
    net: Decimal  # sum of every amount (zero for a balanced journal)
    gl_date: dt.date | None
    where: str  # "F0911Z1", "F0911" or "F0911Z1+F0911"
    processed: bool  # in F0911, or every Z row has VNEDSP "1"


class JournalPosting:
    """Mixed into ``JdeClient``: needs ``browse``, ``batch_user``, ``orchestration`` and ``_post_orchestration``."""

    def journal_payload(self, doc: JournalDocument) -> dict:
        """The orchestration input for ``doc``, after the local checks (raises ValidationRejected).

        Each line's ``Remark`` is still sent, but the orchestration stores the BatchReference
        in VNEXR (so that reconcile finds the journal in F0911 as GLEXR) and ignores it."""
        reference = str(doc.reference or "").strip()
        currency = str(doc.currency or "").strip().upper()
        exponent = exponent_of(currency)
        quantum = Decimal(1).scaleb(-exponent)
        problems = reference_problems(doc.reference) + control_problems(
            "the journal", {"Explanation": doc.explanation})  # (code, text) pairs
        if not doc.lines:
            problems.append((INVALID, "the journal has no lines"))
        lines, total = [], Decimal(0)
        for number, line in enumerate(doc.lines, start=1):
            amount, found = line_problems(number, line, currency, exponent)
            if found:
                problems += found
                continue
            total += amount
            lines.append({"LineNumber": number, "Account": str(line.account).strip(),
                          "Amount": format(amount.quantize(quantum), "f"),
                          "Explanation": fit(line.explanation or "", TEXT_LENGTH),
                          "Remark": fit(line.remark or "", TEXT_LENGTH)})
        if not problems and total != 0:
            problems.append((INVALID, f"the journal is out of balance by {total} {currency}"))
        if problems:
            refuse("Journal", reference, problems)
        payload = {"BatchReference": reference, "DocumentType": str(doc.document_type or "JE"),
                   "Company": str(doc.company or "00001"), "GLDate": doc.gl_date.isoformat(), "Currency": currency,
                   "Explanation": fit(doc.explanation or "", TEXT_LENGTH), "Lines": lines}
        if self.batch_user:
            payload["User"] = str(self.batch_user)
        return payload

    def post_journal(self, doc: JournalDocument) -> JournalResult:
        """One orchestration call writing ``doc`` to F0911Z1. Raises ``OutcomeUnknown`` when
        it may have been written without an answer: reconcile with ``find_journals`` first.
        ``existing`` on the result: the orchestration already had this reference and wrote
        nothing (its idempotency; the numbers are the existing journal's)."""
        return self._post_orchestration(self.orchestration, self.journal_payload(doc), "journal", "BatchReference",
                                        JournalResult)

    def find_journals(self, reference, *, document_type=None, company=None) -> list[FoundJournal]:
        """Every journal document written for ``reference``, wherever it lives now.

        Searches F0911Z1 by VNEDTN (processed or not) and F0911 by GLEXR, which our
        orchestration fills with the reference and R09110Z carries over, so a journal is
        still found after its Z rows were processed and purged. One entry per document
        (company, type, number): a Z batch and the F0911 rows made from it are one journal;
        two entries mean the reference was written twice. Ordered by document number.
        ``document_type``/``company`` narrow both searches (GLEXR is no key of F0911, so on a
        large ledger they spare the server work)."""
        reference = str(reference)
        groups: dict[tuple, dict] = {}
        # VNCO, not VNKCO, narrows the Z rows: an orchestration must fill VNCO, VNKCO may stay blank.
        for row in self._batch_rows(reference, _narrowing(document_type, "CO", company)):
            groups.setdefault(_z_document(row), {"z": [], "gl": []})["z"].append(row)
        for row in self._ledger_rows(reference, _narrowing(document_type, "KCO", company)):
            key = (row["KCO"], row["DCT"], row["DOC"])
            groups.setdefault(key, {"z": [], "gl": []})["gl"].append(row)
        found = [_found_journal(g["z"], g["gl"]) for g in groups.values()]
        return sorted(found, key=lambda j: (str(j.document_number).zfill(15), j.company, j.document_type))

    def find_journal(self, reference) -> list[dict]:
        """F0911Z1 rows whose transaction number (VNEDTN) is ``reference``, every batch of it,
        ordered by batch and line. Keys are bare aliases (EDBT, DOC, AA...), text stripped,
        AA a Decimal. Superseded by ``find_journals``: rows the site has purged from F0911Z1
        after processing are NOT found here; kept until every caller has moved."""
        return self._batch_rows(str(reference))

    def _batch_rows(self, reference, narrowing=()):
        """F0911Z1 rows of ``reference`` (any VNEDSP), cleaned: text stripped, AA Decimal, DOC number, DGJ date."""
        columns = ["EDUS", "EDBT", "EDTN", "EDLN", "EDSP", "DCT", "DOC", "KCO", "CO", "DGJ", "ANI", "AID", "MCU", "OBJ",
                   "SUB", "AA", "CRCD", "EXA", "EXR"]
        conditions = [("EDTN", "EQUAL", reference), *narrowing]
        rows = [clean(row) for row in self.browse("F0911Z1", columns, conditions)]
        return [r for r in rows if r.get("EDTN") == reference]  # defensive: a server comparing loosely

    def _ledger_rows(self, reference, narrowing=()):
        """F0911 rows whose remark (GLEXR) is ``reference``, cleaned like ``_batch_rows``."""
        columns = ["KCO", "DCT", "DOC", "DGJ", "JELN", "LT", "AA", "CRCD", "EXR", "CO", "ICU", "POST"]
        conditions = [("EXR", "EQUAL", reference), *narrowing]
        rows = [clean(row) for row in self.browse("F0911", columns, conditions)]
        return [r for r in rows if r.get("EXR") == reference]


def _narrowing(document_type, company_column, company):
    return [(column, "EQUAL", value) for column, value in (("DCT", document_type), (company_column, company)) if value]



# -- found journals --------------------------------------------------------------------------------------------
def _z_document(row):
    """The journal a Z row belongs to: its document (company, type, number). A row without a
    document number (R09110Z assigns one when VNDOC is blank) stands for its batch instead."""
    if row.get("DOC") in (None, "", 0):
        return ("F0911Z1", row.get("EDUS"), row.get("EDBT"))
    return (row.get("KCO") or row.get("CO") or "", row.get("DCT") or "", row["DOC"])


def _found_journal(batch_rows, ledger_rows):
    # F0911 has a row per ledger type; the orchestration writes the AA (actual amounts) ledger,
    # so counts and totals come from it (other ledgers, e.g. CA, would double the lines).
    actual = [r for r in ledger_rows if r.get("LT") in ("AA", "", None)] or ledger_rows
    lines = actual or batch_rows
    first = lines[0]
    amounts = [r.get("AA") or Decimal(0) for r in lines]
    where = "+".join(name for name, rows in (("F0911Z1", batch_rows), ("F0911", ledger_rows)) if rows)
    return FoundJournal(
        document_number=first.get("DOC"), document_type=first.get("DCT") or "",
        company=first.get("KCO") or first.get("CO") or "",
        batch_number=batch_rows[0].get("EDBT", "") if batch_rows else ledger_rows[0].get("ICU", ""),
        currency=first.get("CRCD") or "", line_count=len(lines),
        debit_total=sum((a for a in amounts if a > 0), Decimal(0)), net=sum(amounts, Decimal(0)),
        gl_date=first.get("DGJ"), where=where,
        processed=bool(ledger_rows) or all(r.get("EDSP") == "1" for r in batch_rows),
    )
