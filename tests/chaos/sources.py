"""The source side of a chaos run: what it seeds, its faults, and what must land in the target.

A target class names its source (``source = ProcurifySource``); without one it is Expensify. A source:
``configure`` (sandbox settings), ``make_flow`` (the flow and its connections over the sandbox),
``corrupt`` (bad records, optional), ``faults(rng)`` (sandbox fault bodies), ``recreate(options, rng, seed)``
and ``prepare(flow)`` (a re-created flow), ``expected(box)`` (external reference -> source record that must be
in the target once or held with a reason) and ``check_totals`` (a posted document against its record).
"""

from decimal import Decimal

from integrations.currencies import EXPONENTS
from integrations.models import Connection, Flow
from tests.flows.conftest import make_flow

from .world import control


class ExpensifySource:
    name = "Expensify"

    def configure(self, box, rng, events):
        box.config.setdefault("expensify", {}).update({
            "rate_limit": [[10000, 1]],
            "export_order": rng.choice(["approved", "report_id", "random"]),
            "mark_delay_seconds": rng.choice([0, 0, 0.03]),
        })
        events[f"order:{box.config['expensify']['export_order']}"] += 1

    def make_flow(self, box, rng, tenant, target, target_options):
        flow = make_flow(box, kind=target.kind, tenant=tenant, options={
            "page_size": rng.choice([2, 3, 100]), "mark_wait_seconds": 0.3, "mark_poll_seconds": 0.02, "max_attempts": 50,
            **getattr(target, "flow_options", {}),
        }, target_options=target_options)
        Connection.objects.filter(pk=flow.source_id).update(options={
            "rate_limit": [[10000, 1]], "max_attempts": 2, "backoff_max": 0.02, "download_wait_seconds": 0.5,
            "download_poll_seconds": 0.01})
        flow.refresh_from_db()
        return flow

    def corrupt(self, box, rng, events):
        from .scenario import corrupt

        reports = list(control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"}))
        for report in rng.sample(reports, k=min(len(reports), rng.choice([0, 0, 1, 2]))):
            kind = corrupt(box, rng, report)
            if kind:
                events[f"record:{kind}"] += 1

    def faults(self, rng):
        from .targets import expensify_faults

        return expensify_faults(rng)

    def recreate(self, options, rng, seed):
        if rng.random() < 0.5:
            options["fetch_label"] = f"other-label-{seed}"
        return options

    def prepare(self, flow):
        from integrations.demo import install_demo_rules

        install_demo_rules(flow)

    def expected(self, box):
        reports = control(box, "GET", "expensify/reports", params={"state": "APPROVED,REIMBURSED"})
        return {f"EXP-{r['reportID']}": r for r in reports}

    def check_totals(self, report, lines, where, target):
        currency = report["currency"]
        exponent = EXPONENTS[currency]
        assert sum(amount for _, amount, _, _ in lines) == 0, f"{where}: journal of {report['reportID']} does not balance"
        expenses = sum(amount for obj, amount, _, _ in lines if obj not in target.offsets)
        assert expenses == Decimal(int(report["total"])).scaleb(-exponent), (
            f"{where}: report {report['reportID']} totals {report['total']} minor units of {currency}, "
            f"{target.name} has {expenses}")
        assert {cur for _, _, cur, _ in lines} == {currency}


class ProcurifySource:
    """Procurify bills (approved or paid) and paid payments, as ``procurify_to_jde`` reads them."""

    name = "Procurify"
    payment_accounts = ("100.2110", "100.1110")  # A/P trade and bank (the flow's defaults)

    def configure(self, box, rng, events):
        from integrations.systems.procurify import clear_token_cache

        clear_token_cache()

    def make_flow(self, box, rng, tenant, target, target_options):
        creds = control(box, "GET", "credentials")
        source = Connection.objects.create(tenant=tenant, system="procurify", name="Procurify",
                                           base_url=box.system_url("procurify"), credentials=creds["procurify"],
                                           options={"max_attempts": 2, "backoff_max": 0.02})
        jde = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                        credentials=creds["jde"], options=target_options)
        known = {r["ABALPH"] for r in control(box, "GET", "jde/suppliers")}  # the supplier mirror's job, done here
        for name in sorted({b["vendor"]["name"] for b in control(box, "GET", "procurify/bills")} - known):
            control(box, "POST", "jde/suppliers", json={"name": name})
        for account in self.payment_accounts:
            control(box, "POST", "jde/accounts", json={"account": account})
        return Flow.objects.create(tenant=tenant, name="Procurify bills to JDE", kind=target.kind, source=source,
                                   target=jde, options={"page_size": rng.choice([2, 3, 100]), "max_attempts": 50})

    def corrupt(self, box, rng, events):
        pass  # the seeded bills already hold a missing and a non-posting account (held, then posted or kept held)

    def faults(self, rng):
        return [
            lambda: {"system": "procurify", "endpoint": "bills:get", "action": "status", "status": 500,
                     "after": rng.randint(0, 2), "count": rng.randint(1, 4)},
            lambda: {"system": "procurify", "endpoint": "bills:list", "action": "restart", "after": rng.randint(0, 2),
                     "count": 1},
            lambda: {"system": "procurify", "endpoint": "payments:list", "action": "drop_before", "count": 1},
        ]

    def recreate(self, options, rng, seed):
        return options

    def prepare(self, flow):
        pass

    def expected(self, box):
        bills = {f"PRC-BILL-{b['id']}": b for b in control(box, "GET", "procurify/bills") if b["status"] in (2, 3)}
        paid = {f"PRC-PAY-{p['id']}": p for p in control(box, "GET", "procurify/payments") if p["status"] == "paid"}
        return {**bills, **paid}

    def check_totals(self, record, lines, where, target):
        amounts = [amount for _, amount, _, _ in lines]
        if "total_cost_with_tax" in record:  # a bill: its G/L distribution is the gross, to the cent
            assert sum(amounts) == Decimal(str(record["total_cost_with_tax"])), (
                f"{where}: bill {record['id']} totals {record['total_cost_with_tax']}, {target.name} has {sum(amounts)}")
        else:  # a payment: one balanced journal, debit A/P for the amount paid
            assert sum(amounts) == 0 and max(amounts) == Decimal(str(record["amount"])), (
                f"{where}: payment {record['id']} of {record['amount']} is {amounts} in {target.name}")
