"""The mapping admin as a customer finance user sees it: own tenant only, validation, import/export, refresh."""

import io

import openpyxl
import pytest
from django.urls import reverse

from audit.models import AuditEntry
from mappings import reference
from mappings.models import MappingRule, ReferenceEntry
from portal.models import Membership

from .conftest import JDE_CHART, add_rule

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:mappings_mappingrule_changelist"
ADD = "admin:mappings_mappingrule_add"
IMPORT = "admin:mappings_mappingrule_import"
PROCESS_IMPORT = "admin:mappings_mappingrule_process_import"
EXPORT = "admin:mappings_mappingrule_export"


def member(django_user_model, tenant, username, role=Membership.CUSTOMER):
    user = django_user_model.objects.create_user(username, password="pw-123456!")
    Membership.objects.create(user=user, tenant=tenant, role=role)
    user.refresh_from_db()
    return user


@pytest.fixture
def customer(client, tenant, django_user_model):
    user = member(django_user_model, tenant, "fiona")
    client.force_login(user)
    return user


@pytest.fixture
def others(other_tenant, other_flow):
    return add_rule(other_tenant, other_flow, category="Secret Sauce", target_object="6666")


def form_data(flow=None, **fields):
    data = {"flow": flow.pk if flow else "", "active": "on", "note": "", "tags": ""}
    data.update(fields)
    return data


def test_customer_sees_and_opens_only_own_rules(client, customer, tenant, flow, others):
    mine = add_rule(tenant, flow, category="Meals", target_object="6110")
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "Meals" in page.content.decode() and "Secret Sauce" not in page.content.decode()
    assert client.get(reverse("admin:mappings_mappingrule_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:mappings_mappingrule_change", args=[others.pk])).status_code == 404


def test_customer_adds_a_rule_in_own_tenant_and_it_is_audited(client, customer, tenant, flow, other_flow):
    page = client.get(reverse(ADD))
    flow_choices = [v for v, _ in page.context["adminform"].form.fields["flow"].choices if v]
    assert [int(str(v)) for v in flow_choices] == [flow.pk]  # other tenants' flows are not offered
    response = client.post(reverse(ADD), form_data(flow, category="Meals", tags="Cost Center=CC10",
                                                   target_object="6110", target_subsidiary="CC10"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = MappingRule.objects.get()
    assert rule.tenant == tenant and rule.flow == flow and rule.tags == {"Cost Center": "CC10"}
    entry = AuditEntry.objects.get(event="mapping.created")
    assert entry.actor == "fiona" and entry.after["target_object"] == "6110"

    response = client.post(reverse(ADD), form_data(other_flow, category="Lodging", target_object="6120"))
    assert response.status_code == 200 and MappingRule.objects.count() == 1  # not a valid choice


def test_a_tie_is_a_form_error_naming_both_rules(client, customer, tenant, flow):
    first = add_rule(tenant, category="Meals", target_object="6110")
    response = client.post(reverse(ADD), form_data(category="MEALS ", target_object="6115"))
    assert response.status_code == 200
    text = " ".join(response.context["adminform"].form.non_field_errors())
    assert f"#{first.pk}" in text and "new rule" in text and "both set object" in text
    assert MappingRule.objects.count() == 1


def test_an_unknown_or_inactive_account_is_a_form_error_naming_it(client, customer, tenant, flow, chart):
    response = client.post(reverse(ADD), form_data(flow, category="Meals", target_business_unit="900",
                                                   target_object="6110"))
    errors = response.context["adminform"].form.errors
    assert "900.6110" in " ".join(errors["target_object"]) and "inactive" in " ".join(errors["target_object"])
    response = client.post(reverse(ADD), form_data(flow, category="Meals", target_business_unit="200",
                                                   target_object="6110", target_subsidiary="CC77"))
    assert "200.6110.CC77" in " ".join(response.context["adminform"].form.errors["target_object"])
    assert MappingRule.objects.count() == 0


def test_without_reference_data_the_save_is_allowed_with_a_warning(client, customer, flow):
    response = client.post(reverse(ADD), form_data(flow, category="Meals", target_object="6110"), follow=True)
    assert MappingRule.objects.get().reference_status == "unchecked"
    assert any("not checked" in str(m) for m in response.context["messages"])


def test_bulk_delete_is_audited_with_the_user(client, customer, tenant, flow):
    rules = [add_rule(tenant, flow, category=c, target_object="6110") for c in ("Meals", "Snacks")]
    response = client.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [r.pk for r in rules],
                                                 "post": "yes"})
    assert response.status_code == 302 and MappingRule.objects.count() == 0
    deleted = AuditEntry.objects.filter(event="mapping.deleted")
    assert deleted.count() == 2 and {e.actor for e in deleted} == {"fiona"} and len({e.action_id for e in deleted}) == 1


# -- import / export through the admin ---------------------------------------------------------------
def csv_file(rows, name="rules.csv"):
    f = io.BytesIO(("\n".join(",".join(map(str, r)) for r in rows) + "\n").encode())
    f.name = name
    return f


def xlsx_file(rows, name="rules.xlsx"):
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(list(r))
    f = io.BytesIO()
    wb.save(f)
    f.seek(0)
    f.name = name
    return f


FILES = {"csv": (0, csv_file), "xlsx": (1, xlsx_file)}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_previews_then_applies_on_confirm(client, customer, tenant, flow, fmt):
    index, make = FILES[fmt]
    rows = [["id", "flow", "policy", "category", "tags", "target_business_unit", "target_object"],
            ["", "", "Field Sales", "", "", "200", ""],
            ["", "Expenses to JDE", "", "Meals", "Cost Center=CC10", "", "6110"]]
    response = client.post(reverse(IMPORT), {"format": index, "import_file": make(rows)})
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [r.import_type for r in result.rows] == ["new", "new"]
    assert MappingRule.objects.count() == 0  # only a preview so far
    confirm = response.context["confirm_form"]
    response = client.post(reverse(PROCESS_IMPORT), {k: confirm[k].value() for k in confirm.fields})
    assert response.status_code == 302
    assert set(MappingRule.objects.values_list("tenant_id", flat=True)) == {tenant.pk}
    assert MappingRule.objects.count() == 2
    summary = AuditEntry.objects.get(event="mapping.imported")
    assert summary.actor == "fiona" and summary.after["new"] == 2


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_with_an_invalid_row_shows_row_errors_and_offers_no_confirm(client, customer, tenant, flow, chart, fmt):
    index, make = FILES[fmt]
    rows = [["id", "tenant", "category", "target_business_unit", "target_object"],
            ["", "", "Meals", "200", "6110"],
            ["", "", "Lodging", "900", "6110"]]  # inactive account
    response = client.post(reverse(IMPORT), {"format": index, "import_file": make(rows)})
    result = response.context["result"]
    assert result.has_validation_errors() and "confirm_form" not in response.context
    assert [r.number for r in result.invalid_rows] == [2]
    assert "900.6110" in response.content.decode()
    assert MappingRule.objects.count() == 0


def test_customer_cannot_import_into_another_tenant(client, customer, other_tenant):
    rows = [["id", "tenant", "category", "target_object"], ["", other_tenant.slug, "Meals", "6110"]]
    response = client.post(reverse(IMPORT), {"format": 0, "import_file": csv_file(rows)})
    assert response.context["result"].has_errors() and "confirm_form" not in response.context
    assert MappingRule.objects.count() == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_customer_export_contains_only_own_rows(client, customer, tenant, flow, others, fmt):
    add_rule(tenant, flow, category="Meals", target_object="6110")
    add_rule(tenant, policy="HQ", target_business_unit="100")
    index = FILES[fmt][0]
    response = client.post(reverse(EXPORT), {"format": index, "resource": 0})
    assert response.status_code == 200
    if fmt == "csv":
        body = response.content.decode()
        lines = [line for line in body.splitlines()[1:] if line.strip()]
    else:
        ws = openpyxl.load_workbook(io.BytesIO(response.content)).active
        lines = [",".join(str(c or "") for c in row) for row in ws.iter_rows(min_row=2, values_only=True)]
        body = "\n".join(lines)
    assert len(lines) == 2
    assert "Secret Sauce" not in body and "globex" not in body and "Meals" in body


def test_support_staff_see_every_tenant(client, tenant, other_tenant, others, django_user_model):
    staff = member(django_user_model, tenant, "sam", role=Membership.SUPPORT)
    client.force_login(staff)
    add_rule(tenant, category="Meals", target_object="6110")
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert "Secret Sauce" in body and "Meals" in body


# -- reference data ----------------------------------------------------------------------------------
def test_refresh_view_loads_own_connections_only(client, customer, flow, other_flow, monkeypatch):
    loaded = []
    monkeypatch.setitem(reference.LOADERS, "jde", lambda conn: loaded.append(conn.pk) or list(JDE_CHART))
    url = reverse("admin:mappings_referenceentry_refresh")
    page = client.get(url)
    assert page.status_code == 200
    assert [c.pk for c, _ in page.context["connections"]] == [flow.target.pk]
    response = client.post(url, {"connection": [flow.target.pk, other_flow.target.pk]}, follow=True)
    assert loaded == [flow.target.pk]
    assert ReferenceEntry.objects.filter(connection=flow.target).count() == len(JDE_CHART)
    assert not ReferenceEntry.objects.filter(connection=other_flow.target).exists()
    assert any("refreshed" in str(m) for m in response.context["messages"])
    changelist = client.get(reverse("admin:mappings_referenceentry_changelist")).content.decode()
    assert "900.6110" in changelist


def test_reference_changelist_is_scoped_and_read_only(client, customer, flow, other_flow):
    reference.refresh_reference(other_flow.target, lambda c: [{"kind": "account", "key": "777.7777"}])
    reference.refresh_reference(flow.target, lambda c: [{"kind": "account", "key": "100.6110"}])
    body = client.get(reverse("admin:mappings_referenceentry_changelist")).content.decode()
    assert "100.6110" in body and "777.7777" not in body
    entry = ReferenceEntry.objects.get(key="100.6110")
    response = client.post(reverse("admin:mappings_referenceentry_change", args=[entry.pk]), {"key": "x"})
    assert response.status_code == 403


def test_try_a_line_shows_each_field_with_the_rule_that_set_it(client, customer, tenant, flow, chart, other_flow):
    routing = add_rule(tenant, policy="Field Sales", target_business_unit="200")
    meals = add_rule(tenant, flow, category="Meals", target_object="6110")
    add_rule(tenant, tags={"Cost Center": "CC10"}, target_subsidiary="CC10")
    url = reverse("admin:mappings_mappingrule_try")
    assert 'href="' + url in client.get(reverse(CHANGELIST)).content.decode()
    page = client.get(url, {"flow": flow.pk, "policy": "field sales", "category": "MEALS", "tags": "Cost Center=CC20"})
    assert page.status_code == 200
    rows = {f: (v, r) for f, v, r in page.context["rows"]}
    assert rows == {"business_unit": ("200", routing), "object": ("6110", meals)}
    assert page.context["problems"] == []  # 200.6110 exists
    page = client.get(url, {"flow": flow.pk, "policy": "Field Sales", "category": "Meals", "tags": "Cost Center=CC30",
                            "other": "jde_object=1"})
    assert page.context["rows"] and "subsidiary" not in {f for f, _, _ in page.context["rows"]}
    MappingRule.objects.create(tenant=tenant, tags={"Cost Center": "CC30"}, target_subsidiary="CC30")  # saved unchecked
    page = client.get(url, {"flow": flow.pk, "policy": "Field Sales", "category": "Meals", "tags": "Cost Center=CC30"})
    assert [p.value for p in page.context["problems"]] == ["200.6110.CC30"]
    assert "200.6110.CC30" in page.content.decode()
    page = client.get(url, {"flow": flow.pk, "policy": "field sales", "category": "Meals", "tags": "Cost Center=CC10"})
    assert [f for f, _, _ in page.context["rows"]] == ["business_unit", "object", "subsidiary"]
    assert page.context["problems"] == []
    # another tenant's flow is not a valid choice
    page = client.get(url, {"flow": other_flow.pk, "category": "Meals"})
    assert "flow" not in page.context or page.context["form"].errors.get("flow")
