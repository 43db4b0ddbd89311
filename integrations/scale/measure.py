"""Queries and render time of the admin's busiest pages, as support and as a customer user.

Each page is rendered through Django's test client (the whole stack: middleware, scoping, the
template), once to warm the caches and then ``repeat`` times; the figure is the fastest run and
its query count. The users are made on first use (``year-support``, ``year-customer`` with a
membership in the first seeded tenant), so the command runs on any seeded database.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEntry
from portal import roles
from portal.models import Membership, Tenant

from ..models import Batch, BatchState
from .history import SLUG_PREFIX

ROLES = ("support", "customer")


@dataclass
class Figure:
    page: str
    role: str
    queries: int
    ms: float
    db_ms: float  # of ms, the time spent in the database (the rest: Python, templates)
    status: int


def users():
    """(support user, customer user of the first seeded tenant), made on first use."""
    roles.ensure_groups()
    tenant = Tenant.objects.filter(slug__startswith=SLUG_PREFIX).order_by("pk").first() or Tenant.objects.order_by("pk").first()
    made = {}
    for role in ROLES:
        user, _ = get_user_model().objects.get_or_create(username=f"year-{role}", defaults={"is_staff": True})
        Membership.objects.get_or_create(user=user, tenant=tenant,
                                         defaults={"role": Membership.SUPPORT if role == "support" else Membership.CUSTOMER})
        user.refresh_from_db()
        made[role] = user
    return made, tenant


def pages(tenant, deep_page=50):
    """(name, path) of every page measured; the search terms are ids of the customer's own tenant."""
    batches = reverse("admin:integrations_batch_changelist")
    audit = reverse("admin:audit_auditentry_changelist")
    held = Batch.objects.filter(flow__tenant=tenant, state=BatchState.HELD).order_by("pk").values_list("source_id", flat=True)
    term = held.first() or "R1"
    ref = AuditEntry.objects.filter(tenant=tenant).order_by("pk").values_list("source_ref", flat=True).first() or "R1"
    return [
        ("dashboard", reverse("dashboard")),
        ("batches", batches),
        ("batches: held (filter)", f"{batches}?state__exact=held"),
        ("batches: search an id", f"{batches}?q={term}"),
        (f"batches: page {deep_page}", f"{batches}?p={deep_page}"),
        ("audit entries", audit),
        ("audit: one event (filter)", f"{audit}?event=batch.held"),
        ("audit: search a reference", f"{audit}?q={ref}"),
        (f"audit: page {deep_page}", f"{audit}?p={deep_page}"),
        ("cycles", reverse("admin:integrations_synccycle_changelist")),
        ("cycles: failed (filter)", reverse("admin:integrations_synccycle_changelist") + "?state__exact=failed"),
        ("mapping rules", reverse("admin:mappings_mappingrule_changelist")),
    ]


def render(client, path):
    """(queries, ms, database ms, status) of one GET."""
    with CaptureQueriesContext(connection) as ctx:
        began = time.perf_counter()
        response = client.get(path)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()
        ms = (time.perf_counter() - began) * 1000
    db_ms = sum(float(q["time"]) for q in ctx.captured_queries) * 1000
    return len(ctx), ms, db_ms, response.status_code


def measure(repeat=3, only=None):
    """A Figure for every page and role (``only``: page names to keep)."""
    accounts, tenant = users()
    figures = []
    for role in ROLES:
        client = Client()
        client.force_login(accounts[role])
        for name, path in pages(tenant):
            if only and name not in only:
                continue
            render(client, path)  # warm: content types, session, templates
            runs = [render(client, path) for _ in range(repeat)]
            queries, ms, db_ms, status = min(runs, key=lambda r: r[1])
            figures.append(Figure(name, role, queries, round(ms, 1), round(db_ms, 1), status))
    return figures


def as_rows(figures):
    return [asdict(f) for f in figures]
