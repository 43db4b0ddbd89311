"""Expensify approved reports -> JD Edwards journal batches (F0911Z1 via an AIS orchestration).

One report becomes one journal: a debit line per expense (account from the mapping
rules: policy routing, category, employee and tag rules; the category's GL code is the
fallback object account) and one credit line per offset (employee payable for
reimbursable spend, card clearing for corporate-card spend), in the report currency,
exact to the cent. The report ID is the dedup key: the batch key in the portal and the
``EXP-<reportID>`` transaction number (VNEDTN) in F0911Z1, which reconcile searches.

The Expensify side (paging, labels, cursor, bad records) is ``expensify_source.ExpensifyReports``,
shared with every flow from Expensify.

Options (Flow.options), all optional, besides the source's: employee_payable_account
("100.2100"), card_clearing_account ("100.2150"), use_category_gl_code (true), company
("00001"), document_type ("JE"), reference_max_age_minutes (60).
"""

from datetime import date

from mappings.resolver import Resolver

from ..posting import Hold
from ..reference import account_index
from ..systems.jde import JdeClient, JournalDocument, JournalLine, max_amount
from ..systems.jde_checks import TEXT_LENGTH
from ..systems.text import fit
from .base import FlowHandler, FoundDocument, PostResult
from .expensify_journal import unmapped_category
from .expensify_source import ExpensifyReports


def split_account(text):
    """'100.2100' or '200.6110.CC10' -> JDE target fields."""
    parts = (text or "").split(".")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"{text!r} is not a JD Edwards account in BU.OBJECT[.SUBSIDIARY] form")
    return {"business_unit": parts[0], "object": parts[1], "subsidiary": parts[2] if len(parts) > 2 else ""}


def account_key(account):
    key = f"{account['business_unit']}.{account['object']}"
    return f"{key}.{account['subsidiary']}" if account.get("subsidiary") else key


class ExpensifyToJde(ExpensifyReports, FlowHandler):
    def open(self):
        self.open_source()
        self.offsets = {
            True: split_account(self.options.get("employee_payable_account", "100.2100")),
            False: split_account(self.options.get("card_clearing_account", "100.2150")),
        }
        self.jde = JdeClient(self.flow.target)
        self.resolver = Resolver.for_flow(self.flow)
        self.accounts = None  # loaded on first validation, once per cycle

    # -- coverage ------------------------------------------------------------------
    required_fields = ("business_unit", "object")

    def coverage_fallback(self, attrs):
        if self.options.get("use_category_gl_code", True) and attrs.get("category_gl_code"):
            return {"object": attrs["category_gl_code"]}
        return {}

    # -- mapping (build_posting is the Expensify source's: a debit per expense, an offset per kind) ----
    def map_expense(self, report, expense):
        attrs = self.line_attributes(report, expense)
        target = self.resolver.resolve(attrs)
        category, policy = attrs["category"], attrs["policy"]
        obj = target.get("object")
        if not obj and self.options.get("use_category_gl_code", True):
            obj = (expense.get("categoryGlCode") or "").strip()
        if not obj:
            raise unmapped_category(category, policy)
        business_unit = target.get("business_unit")
        if not business_unit:
            raise Hold(
                f'no business unit for policy "{policy}" (category "{category}")',
                code="MAP-NO-BUSINESS-UNIT",
                help="Add a rule routing this policy (or its cost center tag) to a JD Edwards business unit; then retry.",
            )
        return {"business_unit": business_unit, "object": obj, "subsidiary": target.get("subsidiary", "")}

    HOLD_FIELDS = {**ExpensifyReports.HOLD_FIELDS, "MAP-NO-BUSINESS-UNIT": "policy"}

    def validate(self, posting):
        limit = max_amount(posting.currency)
        for line in posting.lines:
            if abs(line.amount) > limit:
                raise Hold(
                    f"{line.amount} {posting.currency} on line {line.source_line or line.memo} is more than JD Edwards "
                    f"accepts ({limit})",
                    code="JDE-AMOUNT-TOO-LARGE",
                    help="Check the source record for a mistyped amount and correct it there.",
                )
        if self.accounts is None:
            self.accounts = account_index(
                self.flow.target, max_age_minutes=int(self.options.get("reference_max_age_minutes", 60))
            )
        for line in posting.lines:
            key = account_key(line.account)
            entry = self.accounts.get(key)
            if entry is None:
                raise Hold(
                    f"account {key} is not in F0901",
                    code="JDE-ACCOUNT-UNKNOWN",
                    help="Map the line to an existing account, or create the account in JD Edwards "
                    "and refresh the reference data; then retry.",
                )
            if not entry.active:
                raise Hold(
                    f"account {key} is inactive in F0901",
                    code="JDE-ACCOUNT-INACTIVE",
                    help="Map the line to an active account or reactivate it in JD Edwards; then retry.",
                )
            if not entry.postable:
                raise Hold(
                    f"account {key} is a non-posting account in F0901",
                    code="JDE-ACCOUNT-NON-POSTING",
                    help="Map the line to a posting account (posting edit code blank); then retry.",
                )

    # -- target ----------------------------------------------------------------------
    def post(self, batch, posting):
        result = self.jde.post_journal(self.journal_document(posting))
        return PostResult(
            document_id=f"{self.options.get('document_type', 'JE')} {result.document_number}",
            details={"batch_number": str(result.batch_number), "document_number": str(result.document_number)},
            existing=result.existing,
        )

    def target_document(self, posting):
        doc = self.journal_document(posting)
        return {
            "orchestration": self.jde.orchestration,
            "BatchReference": doc.reference,
            "GLDate": doc.gl_date.isoformat(),
            "Currency": doc.currency,
            "Company": doc.company,
            "DocumentType": doc.document_type,
            "Explanation": doc.explanation,
            "Lines": [
                {
                    "LineNumber": i,
                    "Account": ln.account,
                    "Amount": str(ln.amount),
                    "Explanation": ln.explanation,
                    "Remark": ln.remark,
                }
                for i, ln in enumerate(doc.lines, start=1)
            ],
        }

    def journal_document(self, posting):
        return JournalDocument(
            reference=posting.reference,
            gl_date=date.fromisoformat(posting.date),
            currency=posting.currency,
            company=self.options.get("company", "00001"),
            document_type=self.options.get("document_type", "JE"),
            explanation=fit(posting.memo, TEXT_LENGTH),
            lines=[
                JournalLine(
                    account=account_key(ln.account),
                    amount=ln.amount,
                    explanation=fit(ln.memo, TEXT_LENGTH),
                    # The orchestration keeps the reference in VNEXR (it survives R09110Z into F0911.GLEXR).
                    remark=posting.reference,
                )
                for ln in posting.lines
            ],
        )

    def find(self, batch):
        found = self.jde.find_journals(batch.external_ref)
        return [
            FoundDocument(
                document_id=f"{doc.document_type or self.options.get('document_type', 'JE')} {doc.document_number}",
                total=doc.debit_total,
                line_count=doc.line_count,
                currency=doc.currency,
                details={"batch_number": str(doc.batch_number), "document_number": str(doc.document_number),
                         "where": doc.where, "processed": doc.processed},
            )
            for doc in found
        ]
