"""The targets a chaos run can post into: how to make the flow, what faults the target suffers,
and how to read what it holds (reference -> {document -> [(account, signed amount, currency, texts)]})."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from integrations.flows.expensify_to_acumatica import ExpensifyToAcumatica
from integrations.flows.expensify_to_jde import ExpensifyToJde
from tests.flows.conftest import make_acumatica_flow, make_flow

from .world import control, journals

SLOW = 0.15  # a slow post: the target is still writing when the client gives up


@dataclass(frozen=True)
class Target:
    kind: str
    system: str
    handler: type
    make_flow: object  # (box, *, tenant, options, target_options) -> Flow
    write_endpoint: str
    read_endpoint: str
    auth_storm: dict  # a fault that makes the target refuse our sign-in or token
    ledger: object  # box -> {reference: {document: [lines]}}
    name: str = ""

    def faults(self, rng):
        w = self.write_endpoint
        return [
            lambda: {"system": self.system, "endpoint": w, "action": "latency", "latency_ms": SLOW * 1000,
                     "after": rng.randint(0, 3), "count": rng.randint(1, 2)},
            lambda: {"system": self.system, "endpoint": w, "action": "status_after", "status": rng.choice([500, 502, 504]),
                     "after": rng.randint(0, 3), "count": rng.randint(1, 2)},
            lambda: {"system": self.system, "endpoint": w, "action": "drop_before", "after": rng.randint(0, 3),
                     "count": rng.randint(1, 2)},
            lambda: {"system": self.system, "endpoint": w, "action": "drop_after", "after": rng.randint(0, 3),
                     "count": rng.randint(1, 2)},
            lambda: {"system": self.system, "endpoint": w, **self.auth_storm, "after": rng.randint(0, 3),
                     "count": rng.randint(2, 4)},
            lambda: {"system": self.system, "endpoint": self.read_endpoint, "action": "status", "status": 503,
                     "count": rng.randint(1, 6)},
        ]


def acumatica_journals(box):
    """JournalTransactions by their Description (the report's reference)."""
    out = defaultdict(dict)
    for doc in control(box, "GET", "acumatica/JournalTransaction"):
        lines = [(ln["Account"], Decimal(str(ln.get("DebitAmount") or 0)) - Decimal(str(ln.get("CreditAmount") or 0)),
                  doc["CurrencyID"], [ln.get("TransactionDescription") or "", doc.get("Description") or ""])
                 for ln in doc.get("Details") or []]
        out[doc["Description"]][doc["BatchNbr"]] = lines
    return dict(out)


def _acumatica_flow(box, *, tenant, options, target_options):
    return make_acumatica_flow(box, tenant=tenant, options={**options, "document": "journal"},
                               target_options=target_options)


JDE = Target("expensify_to_jde", "jde", ExpensifyToJde, make_flow, "orchestrator", "dataservice",
             {"action": "status", "status": 444}, journals, name="JD Edwards")
ACUMATICA = Target("expensify_to_acumatica", "acumatica", ExpensifyToAcumatica, _acumatica_flow, "put:JournalTransaction",
                   "get:JournalTransaction", {"action": "restart"}, acumatica_journals, name="Acumatica")
TARGETS = {t.kind: t for t in (JDE, ACUMATICA)}
