"""Spreadsheets people can use: plain-word headers, no id column, a template per flow, row errors without tracebacks."""

import csv
import io

import pytest
from django.urls import reverse

from mappings.models import MappingRule
from portal.models import Membership

from .conftest import add_rule
from .test_admin import IMPORT, PROCESS_IMPORT, csv_file, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(client, tenant, django_user_model):
    client.force_login(member(django_user_model, tenant, "fiona"))
    return client


@pytest.fixture
def support(client, tenant, django_user_model):
    client.force_login(member(django_user_model, tenant, "sam", role=Membership.SUPPORT))
    return client


def import_file(client, rows):
    response = client.post(reverse(IMPORT), {"format": 0, "import_file": csv_file(rows)})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Traceback" not in html and 'class="traceback"' not in html
    return response


def confirm(client, response):
    form = response.context["confirm_form"]
    return client.post(reverse(PROCESS_IMPORT), {k: form[k].value() for k in form.fields})


def test_a_natural_three_column_csv_imports_and_a_second_one_updates_by_natural_key(customer, tenant, flow):
    rows = [
        ["Expensify category", "JD Edwards business unit", "JD Edwards object account"],
        ["Meals", "100", "6110"],
        ["Lodging", "100", "6120"],
    ]
    response = import_file(customer, rows)
    result = response.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [r.import_type for r in result.rows] == ["new", "new"]
    assert confirm(customer, response).status_code == 302
    assert set(MappingRule.objects.values_list("tenant_id", "category", "target_object")) == {
        (tenant.pk, "Meals", "6110"),
        (tenant.pk, "Lodging", "6120"),
    }

    response = import_file(customer, [["category", "Target Object"], ["meals", "6100"]])  # any case, no id
    assert [r.import_type for r in response.context["result"].rows] == ["update"]
    confirm(customer, response)
    assert MappingRule.objects.count() == 2
    assert MappingRule.objects.get(category__iexact="meals").target_object == "6100"


def test_the_same_rule_twice_in_one_file_is_a_row_error(customer, tenant, flow):
    rows = [
        ["Flow", "Expensify category", "JD Edwards object account"],
        [flow.name, "Meals", "6110"],
        [flow.name, "Meals", "6120"],
    ]
    response = import_file(customer, rows)
    html = response.content.decode()
    assert "confirm_form" not in response.context
    assert "Row 2: this row ties with rule" in html and "row 1 of this file" in html
    assert MappingRule.objects.count() == 0


def test_row_errors_name_the_row_and_column_without_a_traceback(customer, tenant, flow):
    rows = [
        ["Flow", "Expensify category", "Expensify tags (List=Value; ...)", "JD Edwards object account"],
        ["No such flow", "Meals", "", "6110"],
        [flow.name, "Gifts", "Cost Center", "6900"],
    ]
    html = import_file(customer, rows).content.decode()
    assert "Nothing was imported" in html
    assert "Row 1: flow: there is no flow named" in html or "No such flow" in html
    assert "Row 2: tags:" in html
    assert MappingRule.objects.count() == 0


def test_template_per_flow_has_plain_headers_its_systems_columns_and_its_rules(
    customer, support, tenant, flow, other_flow, client
):
    add_rule(tenant, flow, category="Meals", target_object="6110")
    response = client.get(reverse("admin:mappings_mappingrule_template", args=[flow.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    header = rows[0]
    assert header[:2] == ["Tenant", "Flow"]  # support: the tenant column is there (client is support last)
    assert "Expensify category" in header and "JD Edwards object account" in header
    assert not any("Acumatica" in h or "IFS" in h or "BILL" in h for h in header)  # only this flow's systems
    assert rows[1][header.index("Expensify category")] == "Meals"
    assert rows[1][header.index("Flow")] == flow.name

    # the template imports back unchanged
    response = import_file(client, rows)
    assert [r.import_type for r in response.context["result"].rows] == ["skip"]


def test_customer_template_has_no_tenant_column_and_other_tenants_flows_are_404(customer, flow, other_flow):
    response = customer.get(reverse("admin:mappings_mappingrule_template", args=[flow.pk]))
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert header[0] == "Flow" and "Tenant" not in header
    assert customer.get(reverse("admin:mappings_mappingrule_template", args=[other_flow.pk])).status_code == 404
    page = customer.get(reverse(IMPORT)).content.decode()
    assert flow.name in page and other_flow.name not in page


def test_support_may_leave_the_tenant_out_when_the_flow_names_it(support, tenant, flow):
    response = import_file(support, [["Flow", "Expensify category", "JD Edwards object account"], [flow.name, "Meals", "6110"]])
    assert [r.import_type for r in response.context["result"].rows] == ["new"]
    confirm(support, response)
    assert MappingRule.objects.get().tenant_id == tenant.pk


def test_an_unknown_column_is_named_not_ignored(customer, tenant, flow):
    html = import_file(customer, [["category", "Objekt"], ["Meals", "6110"]]).content.decode()
    assert "Unknown column(s): Objekt" in html and "confirm_form" not in html
    assert MappingRule.objects.count() == 0


def test_import_page_lists_the_flows_columns_in_plain_words(customer, flow):
    html = customer.get(reverse(IMPORT)).content.decode()
    assert "Expensify category" in html and "JD Edwards object account" in html
    assert "target_ifs_code_a" not in html and "procurify_location" not in html


def test_the_preview_shows_the_file_columns_in_plain_words(customer, tenant, flow):
    rows = [["Expensify category", "JD Edwards object account"], ["Meals", "6110"]]
    result = import_file(customer, rows).context["result"]
    headers = result.diff_headers
    assert {"Expensify category", "JD Edwards object account"} <= set(headers), headers
    assert len(headers) < 8 and "target_object" not in headers and "id" not in headers, headers  # not all 39 fields
    assert all(len(r.diff) == len(headers) for r in result.rows)
    assert any("6110" in cell for cell in result.rows[0].diff)
