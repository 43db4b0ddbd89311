"""The demo tenant: connections to a running sandbox, mapping rules and flows.

Used by ``manage.py demo`` and by tests; idempotent, so a second run reuses the tenant
and only points its connections at the sandbox's current address.
"""

from datetime import date, timedelta

import requests
from django.db.models import Q

from mappings.models import MappingRule
from mappings.reference import refresh_reference
from portal.models import Tenant

from .models import Connection, Flow

# Per-policy routing to business units, cost center tags to subsidiaries; the object
# account comes from each Expensify category's GL code (the flow's fallback).
DEMO_POLICY_UNITS = {"HQ": "100", "Field Sales": "200", "Engineering EU": "300"}
DEMO_COST_CENTERS = ["CC10", "CC20", "CC30"]
# IFS: cost center tags to code part B, project tags to code part C; the account (code part A)
# comes from each category's GL code, as above.
DEMO_PROJECTS = ["PRJ-ALPHA", "PRJ-BETA", "PRJ-GAMMA"]


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
    if flow.kind == "expensify_to_ifs":
        return install_demo_ifs_rules(flow)
    if MappingRule.objects.filter(tenant=flow.tenant).filter(
            Q(target_business_unit__gt="") | Q(target_subsidiary__gt="") | Q(target_object__gt="")).exists():
        return
    for policy, unit in DEMO_POLICY_UNITS.items():
        add_rule(flow, match={"policy": policy}, target={"business_unit": unit}, tenant_wide=True)
    for cost_center in DEMO_COST_CENTERS:
        add_rule(flow, match={"tag:Cost Center": cost_center}, target={"subsidiary": cost_center}, tenant_wide=True)


def install_demo_ifs_rules(flow):
    if MappingRule.objects.filter(tenant=flow.tenant).filter(
            Q(target_ifs_code_b__gt="") | Q(target_ifs_code_c__gt="")).exists():
        return
    for cost_center in DEMO_COST_CENTERS:
        add_rule(flow, match={"tag:Cost Center": cost_center}, target={"ifs_code_b": cost_center}, tenant_wide=True)
    for project in DEMO_PROJECTS:
        add_rule(flow, match={"tag:Project": project}, target={"ifs_code_c": project}, tenant_wide=True)


def sandbox_credentials(base_url):
    response = requests.get(f"{base_url}/_sandbox/credentials", timeout=10)
    response.raise_for_status()
    return response.json()


DEMO_KINDS = ("expensify_to_jde", "expensify_to_ifs")
# The IFS flow takes every approved report too: its own labels, so neither flow hides reports from the other.
IFS_LABELS = {"fetch_label": "ml-connector-ifs", "confirm_label": "ml-connector-ifs"}


def setup_demo(box, *, progress=print, slug="demo", name="Demo Co", rate_limit=((5, 10), (20, 60)), flow_options=None,
               kinds=DEMO_KINDS, target_options=None):
    """The demo tenant with a flow of each of ``kinds``; ``target_options``: system -> extra connection options."""
    creds = sandbox_credentials(box.url)
    tenant, created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name, "alert_emails": "finance@demo.example", "time_zone": "America/Chicago"})
    progress(f"{'created' if created else 'reusing'} tenant {tenant.name}")

    def connection(system, name, **extra):
        conn, _ = Connection.objects.update_or_create(
            tenant=tenant, name=name,
            defaults={"system": system, "base_url": box.system_url(system), "credentials": creds[system], **extra})
        return conn

    def flow_to(kind, target, flow_name, **options):
        flow, _ = Flow.objects.get_or_create(
            tenant=tenant, name=flow_name,
            defaults={"kind": kind, "source": expensify, "target": target, "interval_minutes": 60,
                      "options": {"start_date": (date.today() - timedelta(days=365)).isoformat(), **options,
                                  **(flow_options or {})}})
        # Cache the target's reference data first, so the rules are checked against it as a customer's would be.
        progress(f"reference data of {target.name}: {refresh_reference(target, actor='demo')}")
        install_demo_rules(flow)
        return flow

    expensify = connection("expensify", "Expensify (sandbox)", options={"rate_limit": [list(w) for w in rate_limit]})
    extra = target_options or {}
    flows = []
    if "expensify_to_jde" in kinds:
        jde = connection("jde", "JD Edwards (sandbox)", **({"options": extra["jde"]} if "jde" in extra else {}))
        flows.append(flow_to("expensify_to_jde", jde, "Expensify to JD Edwards"))
    if "expensify_to_ifs" in kinds:
        ifs = connection("ifs", "IFS Cloud (sandbox)", **({"options": extra["ifs"]} if "ifs" in extra else {}))
        flows.append(flow_to("expensify_to_ifs", ifs, "Expensify to IFS Cloud", **IFS_LABELS))
    progress(f"flows {', '.join(f.name for f in flows)}: {MappingRule.objects.filter(tenant=tenant).count()} mapping rules")
    return tenant, flows
