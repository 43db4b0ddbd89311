"""How to build a flow of each kind over the sandbox: a small registry, one entry per kind.

The benchmark iterates over ``integrations.flows.implemented_kinds()`` and skips a kind with
no entry here, so a new flow is measured once it registers a setup: a function
``setup(sandbox, *, slug, page_size, progress) -> Flow`` (``sandbox`` has ``url`` and
``system_url(name)``), the target's write endpoint as the sandbox names it (where the
latency is added and posts are counted), a test telling a recorded request is such a write,
and a hook run right before the measured cycle.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .sandbox import NO_LIMIT


@dataclass(frozen=True)
class KindSetup:
    setup: Callable
    write_system: str
    write_endpoint: str
    is_write: Callable  # (method, url, body) -> bool, for a recorded request
    before_cycle: Callable = lambda: None
    after_reset: Callable = lambda box: None  # (sandbox control) the world the flow expects, set again at each reset
    # (sandbox, flow): what the setup wrote to the sandbox, written again after the replay's reset
    rebuild: Callable = lambda sandbox, flow: None


SETUPS: dict[str, KindSetup] = {}


def register(kind, spec):
    SETUPS[kind] = spec
    return spec


def setup_for(kind):
    return SETUPS.get(kind)


# -- expensify_to_jde ------------------------------------------------------------------------------------------
def _expensify_to_jde(sandbox, *, slug, page_size, progress):
    from ..demo import setup_demo

    _, (flow,) = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                            flow_options={"page_size": page_size}, kinds=("expensify_to_jde",))
    return flow


def _forget_jde_tokens():
    # The setup's reference refresh left an AIS token in this process's cache. Without it the cycle
    # fetches its own, as a fresh worker does, and the recording holds the token request that the
    # replay needs (the sandbox forgets tokens when it is reset).
    from ..systems.jde import clear_token_cache

    clear_token_cache()


register("expensify_to_jde", KindSetup(
    setup=_expensify_to_jde,
    write_system="jde",
    write_endpoint="orchestrator",
    # Journals are written by the orchestration; the v3 login/session calls share its path prefix.
    is_write=lambda method, url, body=None: method == "POST" and "/orchestrator/" in url and "/orchestrator/jde-" not in url,
    before_cycle=_forget_jde_tokens,
))


# -- the Acumatica flows -------------------------------------------------------------------------------------------
def _acumatica_setup(kind):
    def setup(sandbox, *, slug, page_size, progress):
        from ..demo import setup_demo

        _, (flow,) = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                                flow_options={"page_size": page_size}, kinds=(kind,))
        return flow

    return setup


def _forget_acumatica_tokens():
    from ..systems.acumatica import clear_token_cache

    clear_token_cache()


# -- expensify_to_ifs ------------------------------------------------------------------------------------------
def _expensify_to_ifs(sandbox, *, slug, page_size, progress):
    from ..demo import setup_demo

    # The sandbox's tenant limit is lifted for the benchmark; so is the client's own bucket.
    _, (flow,) = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                            flow_options={"page_size": page_size}, kinds=("expensify_to_ifs",),
                            target_options={"ifs": {"rate_limit": [1_000_000_000, 1]}})
    return flow


def _forget_ifs_tokens():
    from ..systems.ifs import clear_token_cache

    clear_token_cache()


def _is_employee_update(method, url, body=None):
    from urllib.parse import unquote_plus

    text = unquote_plus((body or b"").decode("utf-8", "replace")) if isinstance(body, bytes) else unquote_plus(body or "")
    return method == "POST" and '"type": "update"' in text and '"type": "employees"' in text


register("expensify_to_acumatica", KindSetup(
    setup=_acumatica_setup("expensify_to_acumatica"),
    write_system="acumatica",
    write_endpoint="put:Bill",
    is_write=lambda method, url, body=None: method == "PUT" and "/entity/" in url and url.split("?")[0].endswith("/Bill"),
    before_cycle=_forget_acumatica_tokens,
))
register("acumatica_to_expensify", KindSetup(
    setup=_acumatica_setup("acumatica_to_expensify"),
    write_system="expensify",
    write_endpoint="update:employees",
    is_write=_is_employee_update,
    before_cycle=_forget_acumatica_tokens,
))
register("expensify_to_ifs", KindSetup(
    setup=_expensify_to_ifs,
    write_system="ifs",
    write_endpoint="action:VoucherTemplate_CreateVoucher",
    is_write=lambda method, url, body=None: method == "POST" and "VoucherTemplate_CreateVoucher" in url,
    before_cycle=_forget_ifs_tokens,
))


# -- the Procurify flows ---------------------------------------------------------------------------------------
def _procurify_setup(kind, records):
    """The demo's Procurify flow of ``kind`` moving ``records`` (the bills, or the accounts mirror)."""
    def setup(sandbox, *, slug, page_size, progress):
        from ..demo import setup_demo
        _, flows = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                              flow_options={"page_size": page_size}, kinds=(kind,))
        return next(f for f in flows if f.options.get("records") == records)

    return setup


def _forget_procurify_and_jde_tokens():
    from ..systems.procurify import clear_token_cache

    clear_token_cache()
    _forget_jde_tokens()


def _suppliers_for_bills(box):
    """A JD Edwards supplier for every Procurify vendor name (what the vendors -> suppliers flow does), so the
    measured cycle posts bills rather than holding them; done through the sandbox's control API after each
    reset, so the replay meets the same world. From the vendors, not the bills: this runs in the measured worker,
    and the 10,000 bills with their lines (8.5 MB of JSON, 35 MB parsed) made most of its peak memory."""
    known = {r["ABALPH"] for r in box._call("GET", "jde/suppliers")}
    for name in sorted({v["name"] for v in box._call("GET", "procurify/vendors")} - known):
        box._call("POST", "jde/suppliers", json={"name": name})


register("procurify_to_jde", KindSetup(
    setup=_procurify_setup("procurify_to_jde", "bills"),
    after_reset=_suppliers_for_bills,
    write_system="jde",
    write_endpoint="orchestrator",
    is_write=lambda method, url, body=None: method == "POST" and "/orchestrator/" in url and "/orchestrator/jde-" not in url,
    before_cycle=_forget_procurify_and_jde_tokens,
))
register("jde_to_procurify", KindSetup(
    setup=_procurify_setup("jde_to_procurify", "accounts"),
    write_system="procurify",
    write_endpoint="account_codes:create",
    is_write=lambda method, url, body=None: method == "POST" and url.split("?")[0].rstrip("/").endswith("/account-codes"),
    before_cycle=_forget_procurify_and_jde_tokens,
))


# -- JD Edwards <-> BILL ------------------------------------------------------------------------------------------
# Their setups write to the sandbox (BILL vendors, and for payments bills and payments too). The replay resets the
# sandbox first, so ``rebuild`` writes the same again, one call at a time (the fake's ids come out the same).
def _bill_flows(sandbox, *, slug, page_size, progress, kind):
    from ..demo import setup_demo

    _, flows = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                          flow_options={"page_size": page_size}, kinds=(kind,))
    return flows


def _vendors(bill, jde):
    """A BILL vendor for each active JD Edwards supplier, as the vendors flow makes them (not measured)."""
    from ..flows.bill_vendors import BillVendors
    from ..flows.jde_to_bill import JdeSuppliersToBill

    target = BillVendors(bill)
    return {s.address_number: target.create(JdeSuppliersToBill.state(s)) for s in jde.suppliers_changed_since(None)
            if s.active and s.name}


def _rebuild_vendors(sandbox, flow):
    from ..systems.bill import BillClient
    from ..systems.jde import JdeClient

    _forget_bill_sessions()
    _vendors(BillClient(flow.target), JdeClient(flow.source))


def _jde_to_bill(sandbox, *, slug, page_size, progress):
    """The bills flow (approved purchase orders) over vendors already in BILL."""
    flow = next(f for f in _bill_flows(sandbox, slug=slug, page_size=page_size, progress=progress, kind="jde_to_bill")
                if f.options.get("records") == "bills")
    _rebuild_vendors(sandbox, flow)
    return flow


def _rebuild_payments(sandbox, flow):
    """A vendor per active supplier, a bill per approved purchase order on accounts both sides know, each paid."""
    from decimal import Decimal

    from ..demo_bill import shared_accounts
    from ..systems.bill import BillClient, BillLine
    from ..systems.jde import JdeClient

    _forget_bill_sessions()
    bill, jde = BillClient(flow.source), JdeClient(flow.target)
    vendors = _vendors(bill, jde)
    charts = {c.number: c.id for c in bill.chart_of_accounts() if not c.archived}
    departments = {d.number: d.id for d in bill.departments() if not d.archived}
    accounts = [a.split(".") for a in shared_accounts(sandbox)]
    for index, order in enumerate(jde.purchase_orders_changed_since(None)):
        live = [ln for ln in order.lines if not ln.cancelled and ln.extended_amount > 0]
        if not live or order.supplier not in vendors or not accounts:
            continue
        unit, obj = accounts[index % len(accounts)]
        lines = [BillLine(Decimal(ln.extended_amount), charts[obj], departments[unit], ln.description) for ln in live]
        made = bill.create_bill(vendors[order.supplier], f"BENCH-{order.number}", order.order_date, order.order_date, lines)
        sandbox.session.post(f"{sandbox.url}/_sandbox/bill/payments", json={"billId": made.id}, timeout=30).raise_for_status()


def _bill_to_jde(sandbox, *, slug, page_size, progress):
    """The payments flow, polled, over one paid bill per approved purchase order."""
    (flow,) = _bill_flows(sandbox, slug=slug, page_size=page_size, progress=progress, kind="bill_to_jde")
    _rebuild_payments(sandbox, flow)
    return flow


def _forget_bill_sessions():
    from ..systems.bill import clear_session_cache
    from ..systems.jde import clear_token_cache

    clear_session_cache()
    clear_token_cache()


register("jde_to_bill", KindSetup(
    setup=_jde_to_bill,
    write_system="bill",
    write_endpoint="bills:create",
    is_write=lambda method, url, body=None: method == "POST" and url.split("?")[0].endswith("/v3/bills"),
    before_cycle=_forget_bill_sessions,
    rebuild=_rebuild_vendors,
))
register("bill_to_jde", KindSetup(
    setup=_bill_to_jde,
    write_system="jde",
    write_endpoint="orchestrator",
    is_write=lambda method, url, body=None: method == "POST" and "/orchestrator/" in url and "/orchestrator/jde-" not in url,
    before_cycle=_forget_bill_sessions,
    rebuild=_rebuild_payments,
))
