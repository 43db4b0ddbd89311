"""The demo tenant: connections to a running sandbox, mapping rules and flows.

Used by ``manage.py demo`` and by tests; idempotent, so a second run reuses the tenant
and only points its connections at the sandbox's current address.
"""

from datetime import date, timedelta

import requests

from mappings.models import MappingRule
from mappings.reference import refresh_reference
from portal.models import Tenant

from .models import Connection, Flow

# Per-policy routing to business units, cost center tags to subsidiaries; the object
# account comes from each Expensify category's GL code (the flow's fallback).
DEMO_POLICY_UNITS = {"HQ": "100", "Field Sales": "200", "Engineering EU": "300"}
DEMO_COST_CENTERS = ["CC10", "CC20", "CC30"]


def install_mirror_rules(flow):
    """The employee mirror's department -> policy rules for the sandbox world (the Acumatica department of
    each Expensify policy's people), as mapping rules a customer edits like the GL ones."""
    from sandbox import acumatica_data, catalog

    for name, dept in acumatica_data.POLICY_DEPARTMENTS.items():
        add_rule(flow, match={"acumatica_department": dept}, target={"expensify_policy": catalog.POLICIES[name][0]})


def add_rule(flow, *, match, target, tenant_wide=False):
    """One mapping rule from plain dicts, e.g. match={"policy": "HQ"}, target={"business_unit": "100"}."""
    fields = {k: v for k, v in match.items() if not k.startswith("tag:")}
    tags = {k[4:]: v for k, v in match.items() if k.startswith("tag:")}
    rule = MappingRule(tenant=flow.tenant, flow=None if tenant_wide else flow, tags=tags, **fields,
                       **{f"target_{k}": v for k, v in target.items()})
    rule.full_clean()
    rule.save()
    return rule


def install_demo_rules(flow):
    if MappingRule.objects.filter(tenant=flow.tenant).exists():
        return
    for policy, unit in DEMO_POLICY_UNITS.items():
        add_rule(flow, match={"policy": policy}, target={"business_unit": unit}, tenant_wide=True)
    for cost_center in DEMO_COST_CENTERS:
        # The sandbox's Acumatica subaccounts are the same cost centers.
        add_rule(flow, match={"tag:Cost Center": cost_center},
                 target={"subsidiary": cost_center, "acumatica_subaccount": cost_center}, tenant_wide=True)


def sandbox_credentials(base_url):
    response = requests.get(f"{base_url}/_sandbox/credentials", timeout=10)
    response.raise_for_status()
    return response.json()


DEMO_KINDS = ("expensify_to_jde", "expensify_to_acumatica", "acumatica_to_expensify")


def setup_demo(box, *, progress=print, slug="demo", name="Demo Co", rate_limit=((5, 10), (20, 60)), flow_options=None,
               kinds=DEMO_KINDS):
    """The demo tenant with a flow of each of ``kinds``; returns ``(tenant, flows)`` in that order."""
    creds = sandbox_credentials(box.url)
    tenant, created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name, "alert_emails": "finance@demo.example", "time_zone": "America/Chicago"})
    progress(f"{'created' if created else 'reusing'} tenant {tenant.name}")

    def connection(system, name, **extra):
        conn, _ = Connection.objects.update_or_create(
            tenant=tenant, name=name,
            defaults={"system": system, "base_url": box.system_url(system), "credentials": creds[system], **extra})
        return conn

    def flow(kind, name, source, target, options):
        made, _ = Flow.objects.get_or_create(
            tenant=tenant, name=name,
            defaults={"kind": kind, "source": source, "target": target, "interval_minutes": 60,
                      "options": {**options, **(flow_options or {})}})
        return made

    start = (date.today() - timedelta(days=365)).isoformat()
    expensify = connection("expensify", "Expensify (sandbox)", options={"rate_limit": [list(w) for w in rate_limit]})
    flows = {}
    if "expensify_to_jde" in kinds:
        jde = connection("jde", "JD Edwards (sandbox)")
        flows["expensify_to_jde"] = flow("expensify_to_jde", "Expensify to JD Edwards", expensify, jde,
                                         {"start_date": start})
        # Cache JD Edwards' chart first, so the rules are checked against it as a customer's would be.
        progress(f"reference data of {jde.name}: {refresh_reference(jde, actor='demo')}")
    if {"expensify_to_acumatica", "acumatica_to_expensify"} & set(kinds):
        acumatica = connection("acumatica", "Acumatica (sandbox)")
        progress(f"reference data of {acumatica.name}: {refresh_reference(acumatica, actor='demo')}")
        if "expensify_to_acumatica" in kinds:
            # Its own label, so the demo shows the same reports in both ERPs (a customer runs one of them).
            flows["expensify_to_acumatica"] = flow(
                "expensify_to_acumatica", "Expensify to Acumatica", expensify, acumatica,
                {"start_date": start, "document": "bill", "confirm_label": "ml-connector-acumatica"})
        if "acumatica_to_expensify" in kinds:
            flows["acumatica_to_expensify"] = flow("acumatica_to_expensify", "Acumatica employees to Expensify",
                                                   acumatica, expensify, {})
            if not MappingRule.objects.filter(flow=flows["acumatica_to_expensify"]).exists():
                install_mirror_rules(flows["acumatica_to_expensify"])
    ordered = [flows[k] for k in kinds if k in flows]
    install_demo_rules(ordered[0])
    progress(f"flows {', '.join(f.name for f in ordered)}: {MappingRule.objects.filter(tenant=tenant).count()} "
             "mapping rules")
    return tenant, ordered
