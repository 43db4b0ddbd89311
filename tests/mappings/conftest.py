"""Two tenants, each with an Expensify -> JDE flow; helpers to build rules and reference data."""

import pytest

from integrations.models import Connection, Flow
from mappings.models import MappingRule
from mappings.reference import refresh_reference
from portal.models import Tenant

# A slice of the sandbox's F0901 (see sandbox/catalog.py): 900 is inactive, 300.6900 non-posting.
JDE_CHART = [
    *({"kind": "account", "key": f"{bu}.{obj}"} for bu in ("100", "200", "300") for obj in ("6100", "6110", "6120", "2100")),
    *({"kind": "account", "key": f"{bu}.6110.{cc}"} for bu in ("100", "200") for cc in ("CC10", "CC20")),
    {"kind": "account", "key": "900.6110", "active": False},
    {"kind": "account", "key": "300.6900", "postable": False},
]


def make_tenant(slug):
    return Tenant.objects.create(name=f"Tenant {slug}", slug=slug)


def make_flow(tenant, name="Expenses to JDE", kind="expensify_to_jde"):
    source = Connection.objects.create(tenant=tenant, system="expensify", name=f"{name} source",
                                       base_url="http://127.0.0.1:1/expensify", credentials={})
    target = Connection.objects.create(tenant=tenant, system="jde", name=f"{name} target",
                                       base_url="http://127.0.0.1:1/jde", credentials={})
    return Flow.objects.create(tenant=tenant, name=name, kind=kind, source=source, target=target)


def add_rule(tenant, flow=None, *, tags=None, **fields):
    """Validated and saved, like the admin form does."""
    rule = MappingRule(tenant=tenant, flow=flow, tags=tags or {}, **fields)
    rule.full_clean()
    rule.save()
    return rule


def load_chart(connection, chart=JDE_CHART):
    return refresh_reference(connection, lambda conn: list(chart))


@pytest.fixture
def tenant(db):
    return make_tenant("acme")


@pytest.fixture
def other_tenant(db):
    return make_tenant("globex")


@pytest.fixture
def flow(tenant):
    return make_flow(tenant)


@pytest.fixture
def other_flow(other_tenant):
    return make_flow(other_tenant, name="Globex expenses")


@pytest.fixture
def chart(flow):
    """The flow's JDE target with the chart of accounts cached."""
    load_chart(flow.target)
    return flow.target
