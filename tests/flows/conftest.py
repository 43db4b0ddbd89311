"""A real sandbox over loopback HTTP, a demo tenant and an Expensify -> JDE flow."""

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


def make_flow(box, *, tenant=None, options=None, alert_emails="finance@demo.example", target_options=None):
    """A flow over the sandbox. The JD Edwards connection's settle window is 0 s unless given: a batch in
    doubt is reconciled by the next cycle (tests of the window itself set one)."""
    from integrations.demo import install_demo_rules

    creds = control(box, "GET", "credentials")
    tenant = tenant or Tenant.objects.create(name="Demo Co", slug="demo", alert_emails=alert_emails)
    source = Connection.objects.create(tenant=tenant, system="expensify", name="Expensify", base_url=box.system_url("expensify"),
                                       credentials=creds["expensify"], options={"rate_limit": [[1000, 1]]})
    target = Connection.objects.create(tenant=tenant, system="jde", name="JD Edwards", base_url=box.system_url("jde"),
                                       credentials=creds["jde"], options={"settle_seconds": 0, **(target_options or {})})
    flow = Flow.objects.create(tenant=tenant, name="Expenses to JDE", kind="expensify_to_jde", source=source, target=target,
                               options={"start_date": (ANCHOR - dt.timedelta(days=200)).isoformat(), **(options or {})})
    install_demo_rules(flow)
    return flow


@pytest.fixture
def flow(box, db):
    return make_flow(box)
