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


# -- JD Edwards <-> BILL ------------------------------------------------------------------------------------------
def _jde_to_bill(sandbox, *, slug, page_size, progress):
    """The bills flow (approved purchase orders), measured once the vendors flow made their vendors."""
    from ..demo import setup_demo
    from ..engine import run_cycle

    _, flows = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                          flow_options={"page_size": page_size}, kinds=("jde_to_bill",))
    run_cycle(flows[0], trigger="benchmark", progress=progress)  # vendors: not measured
    return next(f for f in flows if f.options.get("records") == "bills")


def _bill_to_jde(sandbox, *, slug, page_size, progress):
    """The payments flow, polled, over one payment per purchase order the bills flow made a bill of."""
    from ..demo import setup_demo
    from ..demo_bill import pay_bills
    from ..engine import run_cycle

    _, flows = setup_demo(sandbox, progress=progress, slug=slug, name=f"Benchmark {slug}", rate_limit=NO_LIMIT,
                          flow_options={"page_size": page_size}, kinds=("jde_to_bill", "bill_to_jde"))
    by_records = {f.options.get("records"): f for f in flows if f.kind == "jde_to_bill"}
    for flow in (by_records["vendors"], by_records["bills"]):
        run_cycle(flow, trigger="benchmark", progress=progress)  # not measured
    progress(f"{len(pay_bills(sandbox, by_records['bills'], count=10**6))} bills paid in BILL")
    return next(f for f in flows if f.kind == "bill_to_jde")


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
))
register("bill_to_jde", KindSetup(
    setup=_bill_to_jde,
    write_system="jde",
    write_endpoint="orchestrator",
    is_write=lambda method, url, body=None: method == "POST" and "/orchestrator/" in url and "/orchestrator/jde-" not in url,
    before_cycle=_forget_bill_sessions,
))
