"""The admin reads as the product: its name, a navigation to the places people work, only flow kinds that exist."""

import re

from django.urls import reverse

from integrations.flows import implemented_kinds
from integrations.systems.registry import FLOW_KINDS
from tests.factories import make_flow


def kind_options(html):
    select = re.search(r'<select name="kind"[^>]*>(.*?)</select>', html, re.S).group(1)
    return set(re.findall(r'<option value="([^"]+)"', select))


def test_every_page_names_the_product_and_navigates(customer_client):
    html = customer_client.get(reverse("admin:integrations_batch_changelist")).content.decode()
    assert "ml-connector portal" in html and "Django administration" not in html
    nav = re.search(r'<nav id="product-nav".*?</nav>', html, re.S).group(0)
    for label in ("Dashboard", "Flows", "Held batches", "Sync cycles", "Mapping rules", "Audit trail"):
        assert f">{label}</a>" in nav
    assert "/integrations/batch/?state__exact=held" in nav


def test_flow_form_offers_only_implemented_kinds(support_client, tenant, monkeypatch):
    # Every kind of the registry has a handler now: take one away, as for a kind declared before its module.
    from integrations import flows

    monkeypatch.delitem(flows.HANDLERS, "bill_to_jde")
    unimplemented = set(FLOW_KINDS) - set(implemented_kinds())
    assert unimplemented == {"bill_to_jde"}
    offered = kind_options(support_client.get(reverse("admin:integrations_flow_add")).content.decode())
    assert offered == set(implemented_kinds())
    # a flow saved earlier with a kind that has no handler keeps it on its page instead of failing validation
    legacy = make_flow(tenant, kind=sorted(unimplemented)[0])
    offered = kind_options(support_client.get(reverse("admin:integrations_flow_change", args=[legacy.pk])).content.decode())
    assert legacy.kind in offered and offered - {legacy.kind} == set(implemented_kinds())
