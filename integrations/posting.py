"""A Posting: the target-neutral document a flow builds from one source record.

Plain data with ``Decimal`` amounts (debit positive, credit negative). Each flow module
turns it into its target's document (JDE F0911Z1 rows, an IFS voucher, an Acumatica
bill...). It is stored on the Batch as JSON so a person can see exactly what was or
will be posted, and it must balance before anything is sent.
"""

import copy
from dataclasses import dataclass, field
from decimal import Decimal

from .currencies import EXPONENTS as CURRENCY_EXPONENTS
from .systems.errors import IntegrationError


def exponent(currency):
    """Minor-unit digits of ``currency`` (2 for an unknown code: callers check ``currencies.is_known`` first)."""
    return CURRENCY_EXPONENTS.get((currency or "").upper(), 2)


def from_minor_units(value, currency):
    """Integer minor units (Expensify cents) to an exact Decimal in the currency's exponent."""
    return Decimal(int(value)).scaleb(-exponent(currency))


class Hold(IntegrationError):
    """A record that needs a person (mapping gap, invalid account...): the batch is held."""


def _copied(value):
    """A copy of JSON-like ``value`` as ``dataclasses.asdict`` makes it (containers copied, at any depth), without
    asdict's walk over every field of every dataclass (a tenth of a cycle's own time, profiled)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, (str, int, float, bool, Decimal)) or value is None:
        return value
    return copy.deepcopy(value)


@dataclass
class PostingLine:
    account: dict  # target fields, e.g. {"business_unit": "200", "object": "6110", "subsidiary": "CC10"}
    amount: Decimal  # signed: debit positive, credit negative
    memo: str = ""
    source_line: str = ""  # e.g. the Expensify transactionID this line came from
    kind: str = "expense"  # expense | offset
    dimensions: dict = field(default_factory=dict)

    def to_json(self):
        return {"account": _copied(self.account), "amount": str(self.amount), "memo": self.memo,
                "source_line": self.source_line, "kind": self.kind, "dimensions": _copied(self.dimensions)}


@dataclass
class Posting:
    reference: str
    date: str  # ISO date (the GL date)
    currency: str
    memo: str = ""
    lines: list[PostingLine] = field(default_factory=list)
    source_total: Decimal | None = None  # what the source says the document totals
    notes: list[str] = field(default_factory=list)  # what was changed on the way (e.g. control characters removed)

    @property
    def debit_total(self):
        return sum((ln.amount for ln in self.lines if ln.amount > 0), Decimal(0))

    @property
    def imbalance(self):
        return sum((ln.amount for ln in self.lines), Decimal(0))

    def check_balanced(self):
        if self.imbalance != 0:
            raise Hold(
                f"journal {self.reference} does not balance: out by {self.imbalance} {self.currency}",
                code="POST-UNBALANCED",
                help="This is a defect in the mapping of offset accounts; report it to support.",
            )
        expense_total = sum((ln.amount for ln in self.lines if ln.kind == "expense"), Decimal(0))
        if self.source_total is not None and expense_total != self.source_total:
            raise Hold(
                f"lines total {expense_total} {self.currency} but the source says {self.source_total}",
                code="SRC-TOTAL-MISMATCH",
                help="The source record's lines do not add up to its total; check it in the source system.",
            )

    def to_json(self):
        # The fields in their declared order, as asdict gave them (tests/flows/test_posting.py compares).
        return {"reference": self.reference, "date": self.date, "currency": self.currency, "memo": self.memo,
                "lines": [line.to_json() for line in self.lines],
                "source_total": None if self.source_total is None else str(self.source_total),
                "notes": _copied(self.notes)}

    @classmethod
    def from_json(cls, data):
        lines = [PostingLine(**{**ln, "amount": Decimal(ln["amount"])}) for ln in data.get("lines", [])]
        total = data.get("source_total")
        return cls(
            reference=data["reference"],
            date=data["date"],
            currency=data["currency"],
            memo=data.get("memo", ""),
            lines=lines,
            source_total=None if total is None else Decimal(total),
            notes=list(data.get("notes") or []),
        )
