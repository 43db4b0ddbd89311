"""A real sandbox over loopback HTTP, a demo tenant and an Expensify -> JDE (or IFS) flow."""

import datetime as dt

import pytest
import requests

from integrations.models import Connection, Flow
from portal.models import Tenant

# The ``sandbox`` (session) and ``box`` (reseeded per test) fixtures live in tests/conftest.py.
from tests.conftest import ANCHOR


def control(box, method, path, **kwargs):
    response = requests.request(method, f"{box.url}/_sandbox/{path}", timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()


TARGET_OPTIONS = {
    # settle window 0 s: a batch in doubt is reconciled by the next cycle (tests of the window itself set one)
    "jde": {"settle_seconds": 0},
    # and the tenant's rate loose enough for fast tests (tests of the rate set their own)
    "ifs": {"settle_seconds": 0, "rate_limit": [100000, 60]},
    "acumatica": {"settle_seconds": 0},
}
TARGET_NAMES = {"jde": "JD Edwards", "ifs": "IFS Cloud", "acumatica": "Acumatica"}
FLOW_NAMES = {"jde": "Expenses to JDE", "ifs": "Expenses to IFS", "acumatica": "Expenses to Acumatica"}


def make_flow(
    box, *, tenant=None, options=None, alert_emails="finance@demo.example", target_options=None, kind="expensify_to_jde"
):
    """A flow of ``kind`` over the sandbox, with the demo's mapping rules."""
    from integrations.demo import install_demo_rules
    from integrations.systems.registry import FLOW_KINDS

    system = FLOW_KINDS[kind][2]
    creds = control(box, "GET", "credentials")
    tenant = tenant or Tenant.objects.create(name="Demo Co", slug="demo", alert_emails=alert_emails)
    source = Connection.objects.create(
        tenant=tenant,
        system="expensify",
        name="Expensify",
        base_url=box.system_url("expensify"),
        credentials=creds["expensify"],
        options={"rate_limit": [[1000, 1]]},
    )
    target = Connection.objects.create(
        tenant=tenant,
        system=system,
        name=TARGET_NAMES[system],
        base_url=box.system_url(system),
        credentials=creds[system],
        options={**TARGET_OPTIONS[system], **(target_options or {})},
    )
    flow = Flow.objects.create(
        tenant=tenant,
        name=FLOW_NAMES[system],
        kind=kind,
        source=source,
        target=target,
        options={"start_date": (ANCHOR - dt.timedelta(days=200)).isoformat(), **(options or {})},
    )
    install_demo_rules(flow)
    return flow


def make_acumatica_flow(box, *, tenant=None, options=None, kind="expensify_to_acumatica", name="Expenses to Acumatica",
                        target_options=None, source=None):
    """An Expensify -> Acumatica flow over the sandbox (or, with ``kind="acumatica_to_expensify"``, the employee
    mirror the other way), with the demo's mapping rules."""
    from integrations.demo import install_demo_rules

    creds = control(box, "GET", "credentials")
    tenant = tenant or Tenant.objects.create(name="Demo Co", slug="demo", alert_emails="finance@demo.example")
    expensify = source or Connection.objects.create(
        tenant=tenant, system="expensify", name=f"Expensify {name}", base_url=box.system_url("expensify"),
        credentials=creds["expensify"], options={"rate_limit": [[1000, 1]]})
    acumatica = Connection.objects.create(tenant=tenant, system="acumatica", name=f"Acumatica {name}",
                                          base_url=box.system_url("acumatica"), credentials=creds["acumatica"],
                                          options={"settle_seconds": 0, **(target_options or {})})
    ends = (expensify, acumatica) if kind.startswith("expensify") else (acumatica, expensify)
    flow = Flow.objects.create(tenant=tenant, name=name, kind=kind, source=ends[0], target=ends[1],
                               options={"start_date": (ANCHOR - dt.timedelta(days=200)).isoformat(), **(options or {})})
    install_demo_rules(flow)
    return flow


@pytest.fixture
def flow(box, db):
    return make_flow(box)
