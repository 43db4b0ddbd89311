"""Test data builders, and the per-model factory hook the tenant-scoping test is built from.

``FACTORIES`` maps a model to ``fn(tenant) -> saved instance belonging to tenant`` (creating
whatever the row needs: connections for a flow, a flow for a batch...). The parametrized
scoping test (tests/portal/test_tenant_scoping.py) runs for every model in
``admin.site._registry`` and FAILS for a tenant-owned model without a factory here.

A new tenant-owned model registers its builder with the decorator, either in this file or
in a ``factories.py`` module of a tests sub-package (imported below automatically)::

    from tests.factories import factory

    @factory(MyModel)
    def make_my_model(tenant):
        return MyModel.objects.create(tenant=tenant, ...)
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from audit import log as audit
from audit.models import AuditEntry
from integrations.models import Batch, BatchState, Connection, Flow, SyncCycle
from portal.models import Membership, Tenant

FACTORIES: dict = {}
_seq = itertools.count(1)

# Credentials that pass each system's key validation; every value is unique and greppable.
SECRET_MARK = "S3CRET"


def credentials_for(system, tag="x"):
    from integrations.systems.registry import CREDENTIAL_KEYS, NON_SECRET_KEYS

    return {k: (f"{k}-{tag}" if k in NON_SECRET_KEYS else f"{SECRET_MARK}-{k}-{tag}") for k in CREDENTIAL_KEYS[system]}


def factory(model):
    def register(fn):
        FACTORIES[model] = fn
        return fn

    return register


def n():
    return next(_seq)


# -- portal -------------------------------------------------------------------------


def make_tenant(slug=None, **fields):
    slug = slug or f"t{n()}"
    return Tenant.objects.create(name=fields.pop("name", f"Tenant {slug}"), slug=slug, **fields)


@factory(Tenant)
def tenant_row(tenant):
    return tenant


def make_user(username=None, *, password=None, **fields):
    """No password by default (tests log in with force_login): hashing is slow on purpose."""
    User = get_user_model()
    return User.objects.create_user(username=username or f"user{n()}", password=password, **fields)


@factory(Membership)
def make_membership(tenant, user=None, role=Membership.CUSTOMER):
    user = user or make_user(is_staff=True)
    return Membership.objects.create(user=user, tenant=tenant, role=role)


# -- integrations -------------------------------------------------------------------


@factory(Connection)
def make_connection(tenant, system="expensify", name=None, credentials=None, **fields):
    i = n()
    return Connection.objects.create(
        tenant=tenant,
        system=system,
        name=name or f"{system} {i}",
        base_url=fields.pop("base_url", f"http://127.0.0.1:9/{system}"),
        credentials=credentials if credentials is not None else credentials_for(system, f"{tenant.slug}{i}"),
        **fields,
    )


@factory(Flow)
def make_flow(tenant, kind="expensify_to_jde", name=None, source=None, target=None, **fields):
    from integrations.systems.registry import FLOW_KINDS

    _, source_system, target_system = FLOW_KINDS[kind]
    return Flow.objects.create(
        tenant=tenant,
        name=name or f"Flow {n()}",
        kind=kind,
        source=source or make_connection(tenant, source_system),
        target=target or make_connection(tenant, target_system),
        **fields,
    )


@factory(Batch)
def make_batch(tenant, flow=None, state=BatchState.HELD, **fields):
    flow = flow or make_flow(tenant)
    i = n()
    fields.setdefault("payload", {"reportID": str(i), "total": 1234})
    fields.setdefault(
        "posting",
        {
            "reference": f"EXP-{i}",
            "date": "2026-01-31",
            "currency": "USD",
            "memo": "",
            "source_total": "12.34",
            "lines": [
                {
                    "account": {"business_unit": "100", "object": "6110"},
                    "amount": "12.34",
                    "memo": "Meals",
                    "kind": "expense",
                    "source_line": "t1",
                    "dimensions": {},
                },
                {
                    "account": {"business_unit": "100", "object": "2100"},
                    "amount": "-12.34",
                    "memo": "",
                    "kind": "offset",
                    "source_line": "",
                    "dimensions": {},
                },
            ],
        },
    )
    if state == BatchState.HELD:
        fields.setdefault("error_code", "MAP-UNMAPPED-CATEGORY")
        fields.setdefault("last_error", 'unmapped category "Meals" in policy "HQ"')
        fields.setdefault("error_help", "Add a mapping rule for the category.")
    return Batch.objects.create(
        flow=flow,
        source_kind="report",
        source_id=fields.pop("source_id", f"R{i}"),
        state=state,
        external_ref=fields.pop("external_ref", f"EXP-{i}"),
        **fields,
    )


@factory(SyncCycle)
def make_cycle(tenant, flow=None, state=SyncCycle.DONE, **fields):
    flow = flow or make_flow(tenant)
    fields.setdefault("finished_at", None if state == SyncCycle.RUNNING else timezone.now())
    fields.setdefault("progress", "fetched 3 reports")
    fields.setdefault("counts", {"posted": 2, "held": 1})
    return SyncCycle.objects.create(flow=flow, state=state, **fields)


# -- audit --------------------------------------------------------------------------


@factory(AuditEntry)
def make_audit_entry(tenant, flow=None, event="test.event", **fields):
    i = n()
    return audit.record(
        tenant.pk,
        event,
        flow_id=flow.pk if flow else None,
        source_ref=fields.pop("source_ref", f"report:{i}"),
        actor=fields.pop("actor", "system"),
        message=fields.pop("message", f"entry {i}"),
        **fields,
    )


# -- other apps register theirs in tests/<app>/factories.py (e.g. tests/mappings/factories.py)


def _load_sub_factories():
    """Import tests/<pkg>/factories.py modules so their @factory registrations count."""
    root = Path(__file__).parent
    for info in pkgutil.iter_modules([str(root)]):
        if info.ispkg and (root / info.name / "factories.py").exists():
            importlib.import_module(f"tests.{info.name}.factories")


_load_sub_factories()


def factory_for(model):
    return FACTORIES.get(model)
