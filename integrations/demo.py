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

from .cadence import default_interval
from .models import Connection, Flow

# Per-policy routing to business units, cost center tags to subsidiaries; the object
# account comes from each Expensify category's GL code (the flow's fallback).
DEMO_POLICY_UNITS = {"HQ": "100", "Field Sales": "200", "Engineering EU": "300"}
DEMO_COST_CENTERS = ["CC10", "CC20", "CC30"]
# IFS: cost center tags to code part B, project tags to code part C; the account (code part A)
# comes from each category's GL code, as above.
DEMO_PROJECTS = ["PRJ-ALPHA", "PRJ-BETA", "PRJ-GAMMA"]


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
    if flow.kind == "expensify_to_ifs":
        return install_demo_ifs_rules(flow)
    if MappingRule.objects.filter(tenant=flow.tenant).filter(
            Q(target_business_unit__gt="") | Q(target_subsidiary__gt="") | Q(target_object__gt="")).exists():
        return
    for policy, unit in DEMO_POLICY_UNITS.items():
        add_rule(flow, match={"policy": policy}, target={"business_unit": unit}, tenant_wide=True)
    for cost_center in DEMO_COST_CENTERS:
        # The sandbox's Acumatica subaccounts are the same cost centers.
        add_rule(flow, match={"tag:Cost Center": cost_center},
                 target={"subsidiary": cost_center, "acumatica_subaccount": cost_center}, tenant_wide=True)


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


DEMO_KINDS = ("expensify_to_jde", "expensify_to_ifs", "expensify_to_acumatica", "acumatica_to_expensify",
              "jde_to_procurify", "procurify_to_jde", "jde_to_bill", "bill_to_jde")
# Each ERP flow of the demo takes every approved report: its own labels, so no flow hides reports from
# another (a customer runs one of them).
IFS_LABELS = {"fetch_label": "ml-connector-ifs", "confirm_label": "ml-connector-ifs"}
ACUMATICA_LABELS = {"confirm_label": "ml-connector-acumatica"}


def setup_demo(box, *, progress=print, slug="demo", name="Demo Co", rate_limit=((5, 10), (20, 60)), flow_options=None,
               kinds=DEMO_KINDS, target_options=None):
    """The demo tenant with a flow of each of ``kinds``; returns ``(tenant, flows)`` in that order.
    ``target_options``: system -> extra connection options."""
    creds = sandbox_credentials(box.url)
    tenant, created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name, "alert_emails": "finance@demo.example", "time_zone": "America/Chicago"})
    progress(f"{'created' if created else 'reusing'} tenant {tenant.name}")
    extra = target_options or {}

    def connection(system, name, **fields):
        if system in extra:
            fields["options"] = {**fields.get("options", {}), **extra[system]}
        conn, _ = Connection.objects.update_or_create(
            tenant=tenant, name=name,
            defaults={"system": system, "base_url": box.system_url(system), "credentials": creds[system], **fields})
        return conn

    def flow(kind, name, source, target, options):
        made, _ = Flow.objects.get_or_create(
            tenant=tenant, name=name,
            defaults={"kind": kind, "source": source, "target": target,
                      "interval_minutes": default_interval(kind, options) or 60,
                      "options": {**options, **(flow_options or {})}})
        return made

    def reference(conn):
        # Cache the target's reference data first, so the rules are checked against it as a customer's would be.
        progress(f"reference data of {conn.name}: {refresh_reference(conn, actor='demo')}")

    start = (date.today() - timedelta(days=365)).isoformat()
    expensify = connection("expensify", "Expensify (sandbox)", options={"rate_limit": [list(w) for w in rate_limit]})
    flows = {}
    if "expensify_to_jde" in kinds:
        jde = connection("jde", "JD Edwards (sandbox)")
        flows["expensify_to_jde"] = flow("expensify_to_jde", "Expensify to JD Edwards", expensify, jde,
                                         {"start_date": start})
        reference(jde)
    if "expensify_to_ifs" in kinds:
        ifs = connection("ifs", "IFS Cloud (sandbox)")
        flows["expensify_to_ifs"] = flow("expensify_to_ifs", "Expensify to IFS Cloud", expensify, ifs,
                                         {"start_date": start, **IFS_LABELS})
        reference(ifs)
    if {"expensify_to_acumatica", "acumatica_to_expensify"} & set(kinds):
        acumatica = connection("acumatica", "Acumatica (sandbox)")
        reference(acumatica)
        if "expensify_to_acumatica" in kinds:
            flows["expensify_to_acumatica"] = flow(
                "expensify_to_acumatica", "Expensify to Acumatica", expensify, acumatica,
                {"start_date": start, "document": "bill", **ACUMATICA_LABELS})
        if "acumatica_to_expensify" in kinds:
            flows["acumatica_to_expensify"] = flow("acumatica_to_expensify", "Acumatica employees to Expensify",
                                                   acumatica, expensify, {})
            if not MappingRule.objects.filter(flow=flows["acumatica_to_expensify"]).exists():
                install_mirror_rules(flows["acumatica_to_expensify"])
    chain = []  # the Procurify flows, each direction and record kind its own flow, in the order they depend on
    if {"procurify_to_jde", "jde_to_procurify"} & set(kinds):
        procurify, jde = connection("procurify", "Procurify (sandbox)"), connection("jde", "JD Edwards (sandbox)")
        if "jde_to_procurify" in kinds:
            flows["jde_to_procurify"] = flow("jde_to_procurify", "JD Edwards accounts to Procurify", jde, procurify,
                                             {"records": "accounts"})
            chain.append(flows["jde_to_procurify"])
        if "procurify_to_jde" in kinds:  # vendors before bills: a bill needs its vendor's supplier
            chain.append(flow("procurify_to_jde", "Procurify vendors to JD Edwards", procurify, jde, {"records": "vendors"}))
        if "jde_to_procurify" in kinds:  # suppliers after vendors: they link the suppliers just added, in one round
            chain.append(flow("jde_to_procurify", "JD Edwards suppliers to Procurify", jde, procurify,
                              {"records": "suppliers"}))
        if "procurify_to_jde" in kinds:
            flows["procurify_to_jde"] = flow("procurify_to_jde", "Procurify bills to JD Edwards", procurify, jde,
                                             {"records": "bills", "start_date": start})
            chain.append(flows["procurify_to_jde"])
        if "jde_to_procurify" in kinds:  # orders last: they need the account codes and vendors above
            chain.append(flow("jde_to_procurify", "JD Edwards purchase orders to Procurify", jde, procurify,
                              {"records": "purchase_orders", "location": "Vancouver HQ", "department": "Operations"}))
        reference(jde)
    if {"jde_to_bill", "bill_to_jde"} & set(kinds):  # several flows of one kind: keys "jde_to_bill:bills"...
        from .demo_bill import bill_flows

        jde = connection("jde", "JD Edwards (sandbox)")
        bill = connection("bill", "BILL (sandbox)", base_url=box.system_url("bill") + "/connect", options={})
        # Payments from the sandbox's day on (its clock starts there); the bench's Control knows it by ``info``.
        anchor = getattr(box, "anchor", None) or (box.info()["anchor"] if hasattr(box, "info") else date.today())
        flows.update(bill_flows(box, flow, jde, bill, kinds, str(anchor)))
        if "expensify_to_jde" not in kinds:
            reference(jde)
    ordered = [f for k in kinds for key, f in flows.items() if key == k or key.startswith(f"{k}:")]
    if chain:
        at = min(i for i, f in enumerate(ordered) if f in chain)
        ordered = ordered[:at] + chain + [f for f in ordered[at:] if f not in chain]
    for made in ordered:
        install_demo_rules(made)
    progress(f"flows {', '.join(f.name for f in ordered)}: {MappingRule.objects.filter(tenant=tenant).count()} "
             "mapping rules")
    return tenant, ordered
