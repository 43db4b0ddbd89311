"""Expensify approved reports -> IFS Cloud accrual vouchers.

One report becomes one voucher (``expensify_journal.report_journal``): a debit row per expense
with code part A (account) from the mapping rules (``ifs_code_a``; the category's GL code is
the fallback), B (cost center) and C (project) from the tag rules (``ifs_code_b``,
``ifs_code_c``; D..J likewise when rules set them), and one credit row per offset (employee
payable for reimbursable spend, card clearing for card spend), in the report currency, exact
to the cent. The report ID is the dedup key: the batch key in the portal and the
``EXP-<reportID>`` ReferenceNumber the voucher and its rows keep in IFS, which reconcile searches.

Every code part value is checked before posting (the product page's promise: no orphaned code
part): against the connection's cached reference data first (``refresh_if_stale``), and live in
IFS for any value the cache does not show as usable on the voucher date. A value that does not
exist, is inactive or is not valid on that date holds the batch with ``IFS-CODE-PART-MISSING``
"waiting for code part X value Y". Those batches wait without a person: each cycle, before mapping,
the engine asks ``waiting_over``, which checks live whether their values now exist; the cycle moves
the complete ones back to ``new`` (fenced, audited ``batch.requeued``), so the same cycle maps and
posts them. A preview opens the handler too and moves nothing.

The Expensify side (paging, labels, cursor, bad records) is ``expensify_source.ExpensifyReports``.

Options (Flow.options), all optional, besides the source's: employee_payable_account ("2100"),
card_clearing_account ("2150"), use_category_gl_code (true), reference_max_age_minutes (60). The
target connection's options (company, voucher_projection, voucher_template...) are the client's.
"""


from mappings.models import ReferenceEntry
from mappings.resolver import Resolver
from mappings.vocabulary import IFS_CODE_FIELDS

from ..posting import Hold
from ..reference import refresh_if_stale
from ..systems.errors import ValidationRejected
from ..systems.ifs import IfsClient, VoucherDocument, VoucherRow
from .base import FlowHandler, FoundDocument, PostResult
from .expensify_journal import unmapped_category
from .expensify_source import ExpensifyReports

WAITING = "IFS-CODE-PART-MISSING"
PART_NAMES = {"A": "Account", "B": "Cost Center", "C": "Project"}
WAITING_HELP = (
    "Create the value in IFS (or activate it, or extend its validity): the batch posts by itself on the "
    "next cycle, nobody needs to release it. Or map the line to an existing value and retry the batch."
)
TEXT_LENGTH = 200


def code_parts(account):
    """{"A": "6100", "B": "CC10"} from a line's account dict ({"code_a": "6100", "code_b": "CC10"})."""
    return {key[-1].upper(): value for key, value in account.items() if key.startswith("code_") and value}


class CodePartIndex:
    """(part, value) -> (active, valid_from, valid_until): the cached reference data, overruled by live answers."""

    def __init__(self, client, connection, max_age_minutes):
        refresh_if_stale(connection, max_age_minutes=max_age_minutes)
        self.client = client
        self.table = {}
        for kind, key, active, data in ReferenceEntry.objects.filter(
            connection_id=connection.pk, kind__startswith="code_"
        ).values_list("kind", "key", "active", "data"):
            data = data or {}
            self.table[(kind[-1].upper(), key)] = (active, data.get("valid_from"), data.get("valid_until"))
        self.asked = set()

    def problem(self, part, value, day):
        """None when ``value`` is usable on ``day``, else why not."""
        entry = self.table.get((part, value))
        if entry is None or not _usable(entry, day):
            self.ask([(part, value)])
            entry = self.table.get((part, value))
        if entry is None:
            return "it does not exist in IFS"
        active, start, end = entry
        if not active:
            return "it is inactive in IFS"
        if not _usable(entry, day):
            return f"it is not valid on {day} (valid {start} to {end})"
        return None

    def ask(self, pairs, *, again=False):
        """Ask IFS live about values not asked yet this cycle (``again``: even those), 20 values per query."""
        fresh = sorted(set(pairs)) if again else [p for p in pairs if p not in self.asked]
        if not fresh:
            return
        self.asked.update(fresh)
        found = self.client.lookup_code_parts(fresh)
        for pair in fresh:
            row = found.get(pair)
            if row is None:
                self.table.pop(pair, None)
            else:
                self.table[pair] = (row.get("Objstate") == "Active", row.get("ValidFrom"), row.get("ValidUntil"))


def _usable(entry, day):
    active, start, end = entry
    return active and (not start or start <= day) and (not end or day <= end)


class ExpensifyToIfs(ExpensifyReports, FlowHandler):
    def open(self):
        self.open_source()
        self.offsets = {
            True: {"code_a": str(self.options.get("employee_payable_account", "2100"))},
            False: {"code_a": str(self.options.get("card_clearing_account", "2150"))},
        }
        self.ifs = IfsClient(self.flow.target)
        self.resolver = Resolver.for_flow(self.flow)
        self._index = None

    @property
    def index(self):
        if self._index is None:  # built on first use, once per cycle
            self._index = CodePartIndex(self.ifs, self.flow.target, int(self.options.get("reference_max_age_minutes", 60)))
        return self._index

    # -- coverage ------------------------------------------------------------------------------
    required_fields = ("ifs_code_a",)

    def coverage_fallback(self, attrs):
        if self.options.get("use_category_gl_code", True) and attrs.get("category_gl_code"):
            return {"ifs_code_a": attrs["category_gl_code"]}
        return {}

    # -- mapping (build_posting is the Expensify source's: a debit per expense, an offset per kind) ----
    def map_expense(self, report, expense):
        attrs = self.line_attributes(report, expense)
        target = self.resolver.resolve(attrs)
        account = target.get("ifs_code_a")
        if not account and self.options.get("use_category_gl_code", True):
            account = (expense.get("categoryGlCode") or "").strip()
        if not account:
            raise unmapped_category(attrs["category"], attrs["policy"])
        codes = {"code_a": account}
        for name in IFS_CODE_FIELDS[1:]:
            if target.get(name):
                codes[f"code_{name[-1]}"] = target[name]
        return codes

    def validate(self, posting):
        for line in posting.lines:
            for part, value in sorted(code_parts(line.account).items()):
                problem = self.index.problem(part, value, posting.date)
                if problem:
                    raise waiting_hold(part, value, problem)

    def line_mentions(self, account):
        return [f"{waiting_subject(part, value)}:" for part, value in sorted(code_parts(account).items())]

    # -- waiting batches (the cycle asks, then moves them back to new) ------------------------------
    waiting_codes = (WAITING,)

    def waiting_over(self, batches):
        """Batches waiting for code part values that all exist in IFS now (asked live, once per value)."""
        needs = []
        for batch in batches:
            try:
                posting = self.build_posting(batch.payload, batch.external_ref)
            except Hold:
                continue  # a mapping gap now: it stays held until a person retries it
            needs.append((batch, {(p, v) for ln in posting.lines for p, v in code_parts(ln.account).items()}, posting.date))
        self.index.ask(sorted({pair for _, pairs, _ in needs for pair in pairs}))
        return [(batch, "every code part value it waited for exists in IFS now") for batch, pairs, day in needs
                if all(self.index.problem(p, v, day) is None for p, v in sorted(pairs))]

    # -- target ----------------------------------------------------------------------------------
    def voucher_document(self, posting):
        return VoucherDocument(
            reference=posting.reference,
            voucher_date=posting.date,
            currency=posting.currency,
            text=posting.memo[:TEXT_LENGTH],
            rows=[
                VoucherRow(
                    account=ln.account["code_a"],
                    amount=ln.amount,
                    text=ln.memo[:TEXT_LENGTH],
                    codes={p: v for p, v in code_parts(ln.account).items() if p != "A"},
                )
                for ln in posting.lines
            ],
        )

    def target_document(self, posting):
        return {
            "template": self.ifs.template,
            "projection": self.ifs.voucher_projection,
            "company": self.ifs.company,
            **self.ifs.voucher_payload(self.voucher_document(posting)),
        }

    def post(self, batch, posting):
        try:
            voucher = self.ifs.create_voucher(self.voucher_document(posting))
        except ValidationRejected as exc:
            # IFS refused a value the cache showed usable (deactivated since): ask again and wait for it like
            # any missing value, instead of holding the batch for a person.
            pairs = {(p, v) for ln in posting.lines for p, v in code_parts(ln.account).items()}
            self.index.ask(pairs, again=True)
            for part, value in sorted(pairs):
                problem = self.index.problem(part, value, posting.date)
                if problem:
                    raise waiting_hold(part, value, problem) from exc
            raise
        return PostResult(
            document_id=voucher.document_id,
            details={
                "company": voucher.company,
                "accounting_year": voucher.year,
                "voucher_type": voucher.voucher_type,
                "voucher_no": voucher.number,
            },
        )

    def find(self, batch):
        return [
            FoundDocument(
                document_id=v.document_id,
                total=v.debit_total,
                line_count=v.line_count,
                currency=v.currency,
                details={
                    "company": v.company,
                    "accounting_year": v.year,
                    "voucher_type": v.voucher_type,
                    "voucher_no": v.number,
                    "credit_total": str(v.credit_total),
                },
            )
            for v in self.ifs.find_vouchers(batch.external_ref)
        ]


def waiting_subject(part, value):
    return f"code part {part} ({PART_NAMES.get(part, f'code part {part}')}) value {value}"


def waiting_hold(part, value, problem):
    return Hold(f"waiting for {waiting_subject(part, value)}: {problem}", code=WAITING, help=WAITING_HELP)
