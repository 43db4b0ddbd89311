"""Expensify approved and reimbursed reports -> Acumatica AP bills or GL journal transactions.

One report becomes one document, per the flow's ``document`` option:

* ``bill`` (default): a Bill to the employee's vendor record (the ``vendor_map`` option, e-mail
  -> VendorID, else the Vendor whose main contact has the report's e-mail), a line per expense;
  the report ID is the bill's ``VendorRef`` (``EXP-<reportID>``). Acumatica books the AP side.
* ``journal``: a JournalTransaction with a debit per expense and a credit per offset (employee
  payable, card clearing); the report ID is its ``Description``.

Lines are coded by the mapping rules (Acumatica account, subaccount, branch, project, task;
policy, category, employee and tag matches), the category's GL code being the account when no
rule sets one; amounts are the report currency's cents converted by its exponent, exactly.
Acumatica has no idempotency key: every post searches for a document carrying the reference
first, so neither a retry nor a second flow creates a second one; one search (``$filter`` of
``or``-ed references) answers a whole group of posts, and a post not answered searches alone. The Expensify side (paging,
labels, markAsExported after a post) is ``expensify_source.ExpensifyReports``.

Options besides the source's: document ("bill" | "journal"), vendor_map, ap_account ("2000"),
employee_payable_account ("2100"), card_clearing_account ("2150"), default_subaccount ("000"),
branch ("HQ"), use_category_gl_code (true), hold (false), reference_max_age_minutes (60).
"""

import threading
from decimal import Decimal

from mappings.reference import ReferenceSet
from mappings.resolver import Resolver

from ..posting import Hold
from ..reference import refresh_if_stale
from ..systems.acumatica import AcumaticaClient, literal
from ..systems.text import fit
from .base import FlowHandler, FoundDocument, PostResult
from .expensify_source import ExpensifyReports
from .group_lookup import GroupAnswers, chunks

BILL, JOURNAL = "bill", "journal"

# Acumatica's reference gives no length for Description / TransactionDescription: 255, the connector's choice.
DESCRIPTION_LENGTH = 255


class ExpensifyToAcumatica(ExpensifyReports, FlowHandler):
    def open(self):
        self.open_source()
        self.document = str(self.options.get("document") or BILL).lower()
        if self.document not in (BILL, JOURNAL):
            raise Hold(f"the flow's document option is {self.document!r}; use 'bill' or 'journal'", code="FLOW-OPTION")
        if self.document == BILL:  # Acumatica books the vendor's AP account when the bill is released
            ap = {"account": str(self.options.get("ap_account", "2000")), "subaccount": self.default_subaccount}
            self.offsets = {True: ap, False: ap}
        else:
            self.offsets = {
                True: {"account": str(self.options.get("employee_payable_account", "2100")),
                       "subaccount": self.default_subaccount},
                False: {"account": str(self.options.get("card_clearing_account", "2150")),
                        "subaccount": self.default_subaccount},
            }
        self.acumatica = AcumaticaClient(self.flow.target)
        self.resolver = Resolver.for_flow(self.flow)
        self.references = None  # loaded on first validation, once per cycle
        self.vendors = None  # e-mail -> VendorID, loaded on first need
        self.vendors_loading = threading.Lock()
        self.answers = GroupAnswers()  # what each group's search found, for its posts

    # Options read by map_expense, which the batch page calls without opening the flow (``check_line``).
    @property
    def default_subaccount(self):
        return str(self.options.get("default_subaccount", "000"))

    @property
    def branch(self):
        return str(self.options.get("branch", "HQ"))

    # -- coverage ------------------------------------------------------------------------
    required_fields = ("acumatica_account",)

    def coverage_fallback(self, attrs):
        if self.options.get("use_category_gl_code", True) and attrs.get("category_gl_code"):
            return {"acumatica_account": attrs["category_gl_code"]}
        return {}

    # -- mapping (the posting is the Expensify source's; each line also names the employee) -----
    def build_posting(self, report, external_ref):
        posting = super().build_posting(report, external_ref)
        for line in posting.lines:
            line.dimensions["employee"] = str(report.get("accountEmail") or "")
        return posting

    def map_expense(self, report, expense):
        attrs = self.line_attributes(report, expense)
        target = self.resolver.resolve(attrs)
        account = target.get("acumatica_account")
        if not account and self.options.get("use_category_gl_code", True):
            account = (expense.get("categoryGlCode") or "").strip()
        if not account:
            raise Hold(
                f'unmapped category "{attrs["category"]}" in policy "{attrs["policy"]}"',
                code="MAP-UNMAPPED-CATEGORY",
                help="Add a mapping rule giving this category an Acumatica account (GL mappings > Mapping rules), "
                "or set the category's GL code in Expensify; then retry the batch.",
            )
        coded = {"account": account, "subaccount": target.get("acumatica_subaccount") or self.default_subaccount,
                 "branch": target.get("acumatica_branch") or self.branch}
        for name in ("project", "task"):
            if target.get(f"acumatica_{name}"):
                coded[name] = target[f"acumatica_{name}"]
        return coded

    def validate(self, posting):
        if self.references is None:
            refresh_if_stale(self.flow.target, max_age_minutes=int(self.options.get("reference_max_age_minutes", 60)))
            self.references = ReferenceSet.for_connection(self.flow.target).kinds
        lines = posting.lines if self.document == JOURNAL else [ln for ln in posting.lines if ln.kind != "offset"]
        for line in lines:
            for kind, key in (("account", line.account.get("account")), ("subaccount", line.account.get("subaccount"))):
                table = self.references.get(kind)
                if not table or not key:
                    continue
                entry = table.get(key)
                if entry is None:
                    raise Hold(f"{kind} {key} is not in Acumatica", code=f"ACU-{kind.upper()}-UNKNOWN",
                               help=f"Map the line to an existing {kind}, or create it in Acumatica and refresh the "
                               "reference data; then retry.")
                if entry[0] != "ok":
                    raise Hold(f"{kind} {key} is inactive in Acumatica", code=f"ACU-{kind.upper()}-INACTIVE",
                               help=f"Map the line to an active {kind} or reactivate it in Acumatica; then retry.")
        if self.document == BILL:
            self.vendor_for(posting)

    def line_mentions(self, account):
        # validate's holds: "account 6999 is not in Acumatica", "subaccount 000 is inactive in Acumatica"
        return [f"{kind} {account[kind]} is " for kind in ("account", "subaccount") if account.get(kind)]

    def vendor_for(self, posting):
        email = next((ln.dimensions.get("employee") for ln in posting.lines if ln.dimensions.get("employee")), "")
        email = email.strip().lower()
        mapped = {str(k).lower(): v for k, v in (self.options.get("vendor_map") or {}).items()}
        if email in mapped:
            return mapped[email]
        if self.vendors is None:
            # Posts on several threads may be first to need it: one loads it, and none sees it half filled.
            with self.vendors_loading:
                if self.vendors is None:
                    vendors = {}
                    for vendor in self.acumatica.list("Vendor", expand=["MainContact"], filter="Status eq 'Active'"):
                        contact = (vendor.get("MainContact") or {}).get("Email")
                        if contact:
                            vendors.setdefault(contact.lower(), vendor["VendorID"])
                    self.vendors = vendors
        if email not in self.vendors:
            raise Hold(f"no active Acumatica vendor record for employee {email}", code="MAP-NO-VENDOR",
                       help="Give the employee a vendor record in Acumatica with this e-mail on its main contact, or "
                       "add the e-mail to the flow's vendor_map option; then retry.")
        return self.vendors[email]

    # -- target ------------------------------------------------------------------------------
    def target_document(self, posting):
        entity, record = self.document_record(posting)
        return {"entity": entity, **record}

    def document_record(self, posting):
        if self.document == BILL:
            return "Bill", {
                "Type": "Bill", "Vendor": self.vendor_for(posting), "VendorRef": posting.reference, "Date": posting.date,
                "Description": fit(posting.memo, DESCRIPTION_LENGTH), "CurrencyID": posting.currency,
                "Hold": bool(self.options.get("hold")),
                "Details": [self._line(ln, {"Amount": ln.amount}) for ln in posting.lines if ln.kind != "offset"],
            }
        return "JournalTransaction", {
            "Module": "GL", "TransactionDate": posting.date, "Description": posting.reference,
            "CurrencyID": posting.currency, "Hold": bool(self.options.get("hold")),
            "Details": [self._line(ln, {"DebitAmount": max(ln.amount, Decimal(0)),
                                        "CreditAmount": max(-ln.amount, Decimal(0))}, journal=True)
                        for ln in posting.lines],
        }

    def _line(self, line, amounts, *, journal=False):
        coded = line.account
        out = {"Account": coded["account"], "Subaccount": coded.get("subaccount") or self.default_subaccount,
               "TransactionDescription": fit(line.memo, DESCRIPTION_LENGTH), **amounts}
        out["BranchID" if journal else "Branch"] = coded.get("branch") or self.branch
        if coded.get("project"):
            out["Project"] = coded["project"]
        if coded.get("task"):
            out["ProjectTask"] = coded["task"]
        return out

    # -- the search for existing documents: one per group, else one per post --------------------------------
    # The contract-based REST API's $filter takes "multiple conditions for the same field ... by using the AND and OR
    # operators" (Integration Development Guide, "$filter Parameter", help.myob.com.au/advanced/Docs/Published/
    # IntegrationDevelopmentGuide/IntegrationDev_RESTExample_Parameter_filter.html); acumatica.md, "Reads".
    lookup_group_size = 40

    def search_field(self):
        return ("Bill", "VendorRef") if self.document == BILL else ("JournalTransaction", "Description")

    def look_up(self, batches):
        entity, field = self.search_field()
        refs = list(dict.fromkeys(b.external_ref for b in batches))

        def where(values):
            return " or ".join(f"{field} eq {literal(v)}" for v in values)

        for run in chunks(refs, where, "$filter"):
            found = {}
            for doc in self.acumatica.list(entity, filter=where(run), expand=["Details"]):
                found.setdefault(str(doc.get(field) or "").lower(), []).append(doc)  # eq ignores case there
            self.answers.keep([r.lower() for r in run], found)

    def post(self, batch, posting):
        # No idempotency key: a document already carrying the reference is this report's, whoever sent it.
        docs = self.answers.take(batch.external_ref.lower())
        found = self.find(batch) if docs is None else self.found(batch, docs)
        if found:
            return PostResult(document_id=found[0].document_id, details=found[0].details, existing=True, found=found)
        entity, record = self.document_record(posting)
        saved = self.acumatica.put(entity, record)
        return PostResult(document_id=_document_id(entity, saved), details=_details(entity, saved))

    def find(self, batch):
        entity, field = self.search_field()
        return self.found(batch, self.acumatica.list(entity, filter=f"{field} eq {literal(batch.external_ref)}",
                                                     expand=["Details"]))

    def found(self, batch, docs):
        """The documents ``docs`` (read with their Details) as FoundDocument for ``batch``."""
        entity = self.search_field()[0]
        offsets = sum(1 for ln in (batch.posting or {}).get("lines", []) if ln.get("kind") == "offset")
        found = []
        for doc in docs:
            lines = doc.get("Details") or []
            if entity == "Bill":
                total = sum((Decimal(ln.get("Amount") or 0) for ln in lines if Decimal(ln.get("Amount") or 0) > 0),
                            Decimal(0))
                count = len(lines) + offsets  # the bill's AP side is the posting's offset lines
            else:
                total, count = Decimal(doc.get("DebitTotal") or 0), len(lines)
            found.append(FoundDocument(document_id=_document_id(entity, doc), total=total, line_count=count,
                                       currency=doc.get("CurrencyID") or "", details=_details(entity, doc)))
        return found


def _document_id(entity, record):
    if entity == "Bill":
        return f"{record.get('Type') or 'Bill'} {record.get('ReferenceNbr')}"
    return f"{record.get('Module') or 'GL'} {record.get('BatchNbr')}"


def _details(entity, record):
    keys = ("ReferenceNbr", "Vendor", "Status") if entity == "Bill" else ("BatchNbr", "Status")
    return {"entity": entity, "id": record.get("id", ""), **{k.lower(): str(record.get(k) or "") for k in keys}}
