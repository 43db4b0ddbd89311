"""What a chaos run needs to know about each target: its flow kind, its faults, and how to read its ledger.

``ledger(box)`` answers reference -> {document -> [(account, signed amount, currency, [texts sent])]}, read
through the sandbox's control API: more than one document for a reference is a duplicate post.
"""

from collections import defaultdict
from decimal import Decimal

from integrations.flows.expensify_to_acumatica import ExpensifyToAcumatica
from integrations.flows.expensify_to_ifs import ExpensifyToIfs
from integrations.flows.expensify_to_jde import ExpensifyToJde
from integrations.flows.procurify_to_jde import ProcurifyToJde

from .sources import ProcurifySource
from .world import control

READ_TIMEOUT = 0.08  # the target client's read timeout in chaos runs (seconds)
SLOW = 0.15  # a slow post: the target is still writing when the client gives up


def expensify_faults(rng):
    return [
        lambda: {"system": "expensify", "endpoint": "download", "action": "status", "status": 500,
                 "after": rng.randint(0, 2), "count": rng.randint(1, 8)},
        lambda: {"system": "expensify", "endpoint": "file:combinedReportData", "action": "drop_before",
                 "after": rng.randint(0, 3), "count": 1},
    ]


def write_faults(rng, system, endpoint):
    """Faults on the target's write: slow beyond the timeout, 5xx after commit, drops before and after."""
    return [
        lambda: {"system": system, "endpoint": endpoint, "action": "latency", "latency_ms": SLOW * 1000,
                 "after": rng.randint(0, 3), "count": rng.randint(1, 2)},
        lambda: {"system": system, "endpoint": endpoint, "action": "status_after", "status": rng.choice([500, 502, 504]),
                 "after": rng.randint(0, 3), "count": rng.randint(1, 2)},
        lambda: {"system": system, "endpoint": endpoint, "action": "drop_before", "after": rng.randint(0, 3),
                 "count": rng.randint(1, 2)},
        lambda: {"system": system, "endpoint": endpoint, "action": "drop_after", "after": rng.randint(0, 3),
                 "count": rng.randint(1, 2)},
    ]


class JdeTarget:
    kind, system, name = "expensify_to_jde", "jde", "JD Edwards"
    handler = ExpensifyToJde
    offsets = ("2100", "2150")  # employee payable, card clearing objects (the demo rules)

    def configure(self, box, rng, events):
        box.config.setdefault("jde", {})["journal_idempotent"] = rng.random() < 0.3

    def faults(self, rng):
        return write_faults(rng, "jde", "orchestrator") + [
            lambda: {"system": "jde", "endpoint": "orchestrator", "action": "status", "status": 444,
                     "after": rng.randint(0, 3), "count": rng.randint(2, 4)},
            lambda: {"system": "jde", "endpoint": "dataservice", "action": "status", "status": 503,
                     "count": rng.randint(1, 6)},
        ]

    def after_faults(self, box, rng, events):
        if rng.random() < 0.3:  # the site's batch processor ran and purged the Z-file before a late reconcile
            events["purge"] += 1
            control(box, "POST", "jde/process", json={})
            control(box, "POST", "jde/purge", json={})

    def ledger(self, box):
        """From the Z-file and the ledger: a journal processed into F0911 is one document whether its Z rows
        remain or were purged."""
        out = defaultdict(dict)
        for row in control(box, "GET", "jde/F0911Z1"):
            line = (row["VNOBJ"].strip(), Decimal(str(row["VNAA"])), row["VNCRCD"], [row.get("VNEXA", ""),
                                                                                     row.get("VNEXR", "")])
            out[row["VNEDTN"]].setdefault(str(row["VNDOC"]), {})[("z", row["VNEDBT"], row["VNEDLN"])] = line
        for row in control(box, "GET", "jde/F0911"):
            line = (row["GLOBJ"].strip(), Decimal(str(row["GLAA"])), row["GLCRCD"], [row.get("GLEXA", ""),
                                                                                     row.get("GLEXR", "")])
            lines = out[row["GLEXR"]].setdefault(str(row["GLDOC"]), {})
            if not any(key[0] == "z" for key in lines):  # the Z rows were purged: the ledger rows stand for them
                lines[("gl", row.get("GLICU"), row.get("GLJELN"))] = line
        return {ref: {doc: list(lines.values()) for doc, lines in docs.items()} for ref, docs in out.items()}


class IfsTarget:
    kind, system, name = "expensify_to_ifs", "ifs", "IFS Cloud"
    handler = ExpensifyToIfs
    offsets = ("2100", "2150")
    create = "action:VoucherTemplate_CreateVoucher"

    def configure(self, box, rng, events):
        self.restore = False
        box.config.setdefault("ifs", {}).update({"rate_limit": [[100000, 60]], "token_lifetime": rng.choice([180, 3600])})
        if rng.random() < 0.3:  # someone edits the voucher template right after the connector reads it
            events["template-edits"] += 1
            control(box, "POST", "ifs/templates/MLC-ACCRUAL/touch", json={"on_next_read": rng.randint(1, 3)})
        if rng.random() < 0.2:  # a cost center is missing until the run's quiet phase creates it
            events["missing-cost-center"] += 1
            control(box, "DELETE", "ifs/code-parts/B/CC20")
            self.restore = True

    def faults(self, rng):
        return write_faults(rng, "ifs", self.create) + [
            lambda: {"system": "ifs", "endpoint": self.create, "action": "restart", "after": rng.randint(0, 3), "count": 1},
            lambda: {"system": "ifs", "endpoint": self.create, "action": "status", "status": 401,
                     "after": rng.randint(0, 3), "count": rng.randint(2, 4)},
            lambda: {"system": "ifs", "endpoint": self.create, "action": "status", "status": 429, "retry_after": 0.01,
                     "after": rng.randint(0, 3), "count": rng.randint(1, 6)},
            lambda: {"system": "ifs", "endpoint": "read:CodePartValueSet", "action": "status", "status": 503,
                     "count": rng.randint(1, 6)},
        ]

    def after_faults(self, box, rng, events):
        if self.restore:
            control(box, "POST", "ifs/code-parts", json={"part": "B", "value": "CC20"})

    def ledger(self, box):
        out = defaultdict(dict)
        for voucher in control(box, "GET", "ifs/vouchers"):
            doc = f"{voucher['AccountingYear']}-{voucher['VoucherNo']}"
            out[voucher["ReferenceNumber"]][doc] = [
                (row["Account"], Decimal(row["CurrencyDebitAmount"] or 0) - Decimal(row["CurrencyCreditAmount"] or 0),
                 voucher["CurrencyCode"], [row.get("Text") or "", voucher.get("VoucherText") or ""])
                for row in voucher["Rows"]]
        return dict(out)


class AcumaticaTarget:
    kind, system, name = "expensify_to_acumatica", "acumatica", "Acumatica"
    handler = ExpensifyToAcumatica
    offsets = ("2100", "2150")  # employee payable, card clearing accounts (the sandbox's chart)
    flow_options = {"document": "journal"}
    create = "put:JournalTransaction"

    def configure(self, box, rng, events):
        from integrations.systems.acumatica import clear_token_cache

        clear_token_cache()

    def faults(self, rng):
        return write_faults(rng, "acumatica", self.create) + [
            # A restart ends every access token: the client refreshes, then signs in again.
            lambda: {"system": "acumatica", "endpoint": self.create, "action": "restart", "after": rng.randint(0, 3),
                     "count": rng.randint(2, 4)},
            lambda: {"system": "acumatica", "endpoint": "get:JournalTransaction", "action": "status", "status": 503,
                     "count": rng.randint(1, 6)},
        ]

    def after_faults(self, box, rng, events):
        pass

    def ledger(self, box):
        """JournalTransactions by their Description (the report's reference)."""
        out = defaultdict(dict)
        for doc in control(box, "GET", "acumatica/JournalTransaction"):
            lines = [(ln["Account"], Decimal(str(ln.get("DebitAmount") or 0)) - Decimal(str(ln.get("CreditAmount") or 0)),
                      doc["CurrencyID"], [ln.get("TransactionDescription") or "", doc.get("Description") or ""])
                     for ln in doc.get("Details") or []]
            out[doc["Description"]][doc["BatchNbr"]] = lines
        return dict(out)


class ProcurifyJdeTarget(JdeTarget):
    """Procurify bills and payments -> JD Edwards AP vouchers and payment journals: the JD Edwards faults, the
    purge, and the same ledger (a voucher's G/L distribution is in F0911Z1/F0911 under its reference)."""

    kind = "procurify_to_jde"
    handler = ProcurifyToJde
    source = ProcurifySource

    def configure(self, box, rng, events):
        box.config.setdefault("jde", {})["voucher_idempotent"] = rng.random() < 0.3
        box.config["jde"]["journal_idempotent"] = rng.random() < 0.3


TARGETS = {t.kind: t for t in (JdeTarget, IfsTarget, AcumaticaTarget, ProcurifyJdeTarget)}
