"""What a flow module provides to the engine.

The engine (``integrations.engine``) owns the cycle, batches, states, the posting
protocol, audit and alerts; a flow module only knows its two systems: how to page
through source records, turn one into a Posting, validate it against the target's
reference data, post it carrying the external reference, find it again (reconcile)
and acknowledge it at the source.
"""

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal


def payload_hash(payload):
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class SourceRecord:
    id: str
    payload: dict
    summary: str = ""  # a short human description, e.g. report name and employee


@dataclass
class Page:
    records: list[SourceRecord]
    cursor: dict = field(default_factory=dict)  # the flow cursor once these records are stored


@dataclass
class PostResult:
    document_id: str
    details: dict = field(default_factory=dict)
    existing: bool = False  # the target already had this reference and answered with that document
    # With ``existing``: the documents the post's own search found (FoundDocument), judged as reconcile would
    # without searching again; None: the engine searches (``handler.find``).
    found: list | None = None


@dataclass
class FoundDocument:
    """A document reconcile found in the target, in terms the engine compares with the posting."""

    document_id: str
    total: Decimal  # debit total
    line_count: int
    currency: str
    details: dict = field(default_factory=dict)

    def as_dict(self):
        return {"document_id": self.document_id, "total": str(self.total), "line_count": self.line_count,
                "currency": self.currency, **self.details}

    def as_result(self):
        return PostResult(document_id=self.document_id, details={**self.details, "found_by_reconcile": True})


class FlowHandler(ABC):
    source_kind = "record"
    reference_prefix = "REF"

    def __init__(self, flow, *, log=None):
        self.flow = flow
        self.options = dict(flow.options or {})
        self.log = log or (lambda message: None)

    # -- lifecycle ----------------------------------------------------------
    def open(self):
        """Per-cycle set-up: clients, resolver, reference data."""

    def close(self):
        """Per-cycle tear-down."""

    # -- source side ---------------------------------------------------------
    @abstractmethod
    def fetch(self, cursor):
        """Yield Pages of source records newer than ``cursor``."""

    # Source fields that change without changing what would be posted (e.g. approval stamps).
    volatile_fields = ()

    def fingerprint(self, payload):
        """What decides 'the same record offered again' versus 'a changed record'."""
        return payload_hash({k: v for k, v in payload.items() if k not in self.volatile_fields})

    def source_amount(self, payload):
        """(Decimal amount, currency) the source record is worth, shown on the batch from the start."""
        return None, ""

    def check_record(self, payload):
        """``(payload to store, notes, problems)`` for one source record. ``problems`` are
        ``(code, message)`` pairs: a record with any is stored held with them, never mapped. ``notes``
        say what was changed on the way (e.g. control characters removed from free text)."""
        return payload, [], []

    def source_changed(self, batch):
        """The current source version of ``batch`` when it differs from the stored one, else None
        (also None when the source cannot be asked for one record)."""
        record = self.fetch_record(batch.source_id)
        if record is None:
            return None
        payload = self.stored_payload(record.payload)
        return payload if self.fingerprint(payload) != batch.payload_hash else None

    def stored_payload(self, payload):
        """``payload`` as intake would store it (checked, storable): what a batch's fingerprint is taken of."""
        from ..engine.sanitize import storable

        return storable(self.check_record(payload)[0])

    # -- posted records withdrawn at the source (engine.recheck) ---------------------
    # The hold code of a posted record the source withdrew afterwards (e.g. an Expensify report unapproved after
    # posting); empty: the source is never asked again about what was posted.
    retracted_code = ""
    retracted_reason = "withdrawn at the source after posting"  # as the reconciliation report lists it

    def recheck(self, batches):
        """Ask the source once about ``batches`` (posted, or held with ``retracted_code``): ``{source_id: message}``
        for each the answer positively shows withdrawn, ``{source_id: None}`` for each it shows back exactly as
        posted. A record the answer says nothing certain about is left out. Raise IntegrationError when the
        source cannot answer (nothing is flagged then)."""
        return {}

    def fetch_record(self, source_id):
        """One source record by id (for previews), or None when the source has no such record."""
        return None

    def target_document(self, posting):
        """The document exactly as it would be sent to the target (for previews)."""
        return posting.to_json()

    def after_store(self, page):
        """Called once a page's batches are committed (e.g. advance a source-side marker)."""

    def confirm(self, batches):
        """Acknowledge posted batches at the source where it can; return the ones confirmed."""
        return []

    # -- explaining a hold (admin; no network calls) ---------------------------
    def source_lines(self, payload):
        """The record's lines as a person reads them in the source: a list of dicts of labelled
        values, each with a ``line`` id (the ``source_line`` of its posting line). [] = no lines."""
        return []

    def check_line(self, payload, index):
        """Map line ``index`` of ``source_lines`` from the portal's own data only (rules, options):
        ``{"account": {...}}`` (with ``"field"``: the source field it comes from, if one), or
        ``{"field": <source field at fault>, "code":..., "message":...}``."""
        return {}

    def line_mentions(self, account):
        """What this flow's target checks write of ``account`` (a posting line's account dict) in a hold message,
        besides the account in the target's notation (``display.account_text``): a line whose account a hold
        message mentions so is the line at fault."""
        return []

    # Amounts in the source record are counts of minor units (Expensify's cents): the batch page converts them.
    source_minor_units = False

    # -- mapping and target side ---------------------------------------------
    # -- holds that end by themselves ------------------------------------------------------
    # Hold codes meaning "waiting for something in the target" (a code part value, an account, a
    # vendor): each cycle asks ``waiting_over`` which of those batches can go on; the cycle moves
    # them back to ``new`` (fenced, audited) and maps them again. Nobody has to release them.
    waiting_codes = ()

    def waiting_over(self, batches):
        """Of ``batches`` (held with one of ``waiting_codes``), those whose wait is over, each with a
        note saying why (``[(batch, note)]``)."""
        return []

    def external_ref(self, source_id):
        return f"{self.reference_prefix}-{source_id}"

    @abstractmethod
    def build_posting(self, record_payload, external_ref):
        """Return a Posting, or raise posting.Hold with a code a person can act on."""

    def validate(self, posting):
        """Raise posting.Hold when the target would refuse the posting (unknown/inactive account...)."""

    # A handler that searches many references in one call sets this (the engine's groups are then at least this
    # big) and ``look_up``; 0: each post searches on its own, if it must.
    lookup_group_size = 0

    def look_up(self, batches):
        """Search the target once for every reference of a claimed group and keep the answer for ``post`` (called
        on a sending thread, while other posts run). Raising is harmless: each post then searches for itself."""

    @abstractmethod
    def post(self, batch, posting):
        """Send the posting carrying ``batch.external_ref``; return PostResult or raise IntegrationError."""

    @abstractmethod
    def find(self, batch):
        """Every document in the target carrying ``batch.external_ref`` (list of FoundDocument; [] when
        certainly absent). Raise IntegrationError when the target cannot tell right now."""
