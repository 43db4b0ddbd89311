"""Spreadsheet import/export of mapping rules through the resource: preview, row errors, atomicity, tenancy."""

import io

import openpyxl
import pytest
from import_export.formats.base_formats import CSV, XLSX

from audit.models import AuditEntry
from mappings.models import MappingRule
from mappings.resources import MappingRuleResource, parse_tags
from portal.models import Tenant

from .conftest import add_rule

pytestmark = pytest.mark.django_db

HEADER = ["id", "flow", "policy", "category", "tags", "target_business_unit", "target_object", "target_subsidiary",
          "active", "note"]


def csv_dataset(rows, header=HEADER):
    lines = [",".join(header)] + [",".join(f'"{c}"' if "," in str(c) else str(c) for c in row) for row in rows]
    return CSV().create_dataset("\n".join(lines) + "\n")


def xlsx_dataset(rows, header=HEADER):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append([c if c != "" else None for c in row])
    buf = io.BytesIO()
    wb.save(buf)
    return XLSX().create_dataset(buf.getvalue())


DATASETS = {"csv": csv_dataset, "xlsx": xlsx_dataset}

GOOD = [
    ["", "", "Field Sales", "", "", "200", "", "", "yes", "routing"],
    ["", "Expenses to JDE", "", "Meals", "Cost Center=CC10", "", "6110", "CC10", "", ""],
]


def row_errors(result):
    out = [(r.number, " ".join(r.error.messages)) for r in result.invalid_rows]
    for number, errs in result.row_errors():
        out += [(number, str(e.error)) for e in errs]
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_dry_run_previews_changes_without_applying_them(tenant, flow, fmt):
    existing = add_rule(tenant, category="Lodging", target_object="6120")
    rows = [*GOOD, [existing.pk, "", "", "Lodging", "", "", "6121", "", "", ""]]
    resource = MappingRuleResource(tenant=tenant)
    result = resource.import_data(DATASETS[fmt](rows), dry_run=True)
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(result)
    assert [r.import_type for r in result.rows] == ["new", "new", "update"]
    assert result.rows[2].diff  # the preview shows what changes
    assert MappingRule.objects.count() == 1 and MappingRule.objects.get().target_object == "6120"
    assert not AuditEntry.objects.filter(event="mapping.imported").exists()

    result = MappingRuleResource(tenant=tenant).import_data(DATASETS[fmt](rows), dry_run=False, file_name=f"rules.{fmt}")
    assert not result.has_errors() and not result.has_validation_errors()
    assert MappingRule.objects.count() == 3
    scoped = MappingRule.objects.get(category="Meals")
    assert scoped.flow == flow and scoped.tags == {"Cost Center": "CC10"} and scoped.tenant == tenant
    assert MappingRule.objects.get(pk=existing.pk).target_object == "6121"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_any_invalid_row_reports_row_errors_and_applies_nothing(tenant, flow, chart, fmt):
    add_rule(tenant, category="Airfare", target_business_unit="100", target_object="6100")
    rows = [
        *GOOD,  # valid
        ["", "No such flow", "", "Lodging", "", "", "6120", "", "", ""],  # row 3: unknown flow
        ["", "", "", "airfare ", "", "", "6110", "", "", ""],  # row 4: no id: updates the existing rule (natural key)
        ["", "", "Closed", "", "", "900", "", "", "", ""],  # row 5: inactive business unit
        ["", "", "", "Meals", "Cost Center=CC10", "", "6120", "", "", ""],  # row 6: fine (tenant-wide, not a tie)
        ["", "", "", "Meals", "Cost Center=CC10", "", "6110", "", "", ""],  # row 7: ties with row 6 of this file
        ["", "", "", "Gifts", "Cost Center", "", "6900", "", "", ""],  # row 8: bad tags
    ]
    for dry_run in (True, False):
        result = MappingRuleResource(tenant=tenant).import_data(DATASETS[fmt](rows), dry_run=dry_run)
        assert result.has_validation_errors()
        errors = row_errors(result)
        numbers = sorted(n for n, _ in errors)
        assert numbers == [3, 5, 7, 8], errors
        text = dict(errors)
        assert "No such flow" in text[3]
        assert "business unit 900" in text[5] and "inactive" in text[5]
        assert "ties with rule" in text[7]
        assert "Cost Center" in text[8]
        assert MappingRule.objects.count() == 1  # nothing applied, not even the valid rows
    assert not AuditEntry.objects.filter(event__in=["mapping.created", "mapping.imported"]).exclude(
        message__contains="Airfare").exists()


def test_customers_cannot_import_into_another_tenant_or_touch_its_rules(tenant, flow, other_tenant, other_flow):
    theirs = add_rule(other_tenant, category="Meals", target_object="6110")
    header = ["id", "tenant", "category", "target_object"]
    result = MappingRuleResource(tenant=tenant).import_data(
        csv_dataset([["", "globex", "Lodging", "6120"]], header), dry_run=False)
    assert result.has_errors()
    assert "own tenant" in row_errors(result)[0][1]

    result = MappingRuleResource(tenant=tenant).import_data(
        csv_dataset([[theirs.pk, "", "Meals", "9999"]], header), dry_run=False)
    assert result.has_errors() and f"rule {theirs.pk} does not exist" in row_errors(result)[0][1]
    assert MappingRule.objects.get(pk=theirs.pk).target_object == "6110"
    assert MappingRule.objects.filter(tenant=tenant).count() == 0

    # a flow name is looked up in the importing tenant only
    result = MappingRuleResource(tenant=tenant).import_data(
        csv_dataset([["", "Globex expenses", "Meals", "6110"]], ["id", "flow", "category", "target_object"]), dry_run=False)
    assert result.has_validation_errors() and MappingRule.objects.filter(tenant=tenant).count() == 0


def test_support_staff_import_names_the_tenant(tenant, flow):
    header = ["id", "tenant", "category", "target_object"]
    result = MappingRuleResource().import_data(csv_dataset([["", "", "Meals", "6110"]], header), dry_run=False)
    assert result.has_errors() and "slug" in row_errors(result)[0][1]
    result = MappingRuleResource().import_data(csv_dataset([["", "acme", "Meals", "6110"]], header), dry_run=False)
    assert not result.has_errors() and MappingRule.objects.get().tenant == tenant


def test_export_is_scoped_to_the_tenant_and_round_trips_unchanged(tenant, flow, other_tenant):
    add_rule(tenant, flow, category="Meals", tags={"Cost Center": "CC10"}, target_object="6110")
    add_rule(tenant, policy="HQ", target_business_unit="100")
    add_rule(other_tenant, category="Secret", target_object="6666")
    dataset = MappingRuleResource(tenant=tenant).export()
    assert len(dataset) == 2
    assert set(dataset["tenant"]) == {"acme"} and "Secret" not in dataset.csv
    assert "Cost Center=CC10" in dataset.csv and "Expenses to JDE" in dataset.csv
    xlsx = dataset.export("xlsx")
    assert isinstance(xlsx, bytes) and len(xlsx) > 0
    result = MappingRuleResource(tenant=tenant).import_data(XLSX().create_dataset(xlsx), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(result)
    assert {r.import_type for r in result.rows} == {"skip"}  # nothing changed
    assert len(MappingRuleResource().export()) == 3  # support staff see all tenants


def test_import_is_audited_with_the_user_and_one_action_id(tenant, flow, django_user_model):
    user = django_user_model.objects.create_user("fiona")
    old = add_rule(tenant, category="Lodging", target_object="6120")
    gone = add_rule(tenant, category="Airfare", target_object="6100")
    header = ["id", "category", "target_object", "delete"]
    rows = [["", "Meals", "6110", ""], [old.pk, "Lodging", "6121", ""], [gone.pk, "Airfare", "6100", "yes"]]
    result = MappingRuleResource(tenant=tenant, user=user).import_data(
        csv_dataset(rows, header), dry_run=False, file_name="rules.csv", user=user)
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(result)
    assert not MappingRule.objects.filter(pk=gone.pk).exists()
    rows = list(AuditEntry.objects.filter(actor="fiona").order_by("id"))
    assert [e.event for e in rows] == ["mapping.created", "mapping.changed", "mapping.deleted", "mapping.imported"]
    assert len({e.action_id for e in rows}) == 1
    assert rows[1].before["target_object"] == "6120" and rows[1].after["target_object"] == "6121"
    assert rows[2].before["category"] == "Airfare"
    assert rows[3].after == {"new": 1, "update": 1, "delete": 1, "skip": 0} and "rules.csv" in rows[3].message


def test_parse_tags():
    assert parse_tags("Cost Center=CC10; Project = PRJ-ALPHA") == {"Cost Center": "CC10", "Project": "PRJ-ALPHA"}
    assert parse_tags('{"Cost Center": "CC10"}') == {"Cost Center": "CC10"}
    assert parse_tags("") == {}
    with pytest.raises(ValueError):
        parse_tags("CC10")


def test_a_customer_of_several_tenants_names_one_of_them_per_row(tenant, flow, other_tenant, db):
    third = Tenant.objects.create(name="Initech", slug="initech")
    header = ["id", "tenant", "category", "target_object"]
    resource = MappingRuleResource(tenants={tenant.pk, other_tenant.pk})
    result = resource.import_data(csv_dataset([["", "", "Meals", "6110"]], header), dry_run=False)
    assert result.has_errors() and "slug" in row_errors(result)[0][1]
    result = MappingRuleResource(tenants={tenant.pk, other_tenant.pk}).import_data(
        csv_dataset([["", "acme", "Meals", "6110"], ["", "globex", "Meals", "6110"], ["", "initech", "Meals", "6110"]],
                    header), dry_run=False)
    assert [n for n, _ in row_errors(result)] == [3] and "own tenant" in row_errors(result)[0][1]
    assert MappingRule.objects.count() == 0
    result = MappingRuleResource(tenants={tenant.pk, other_tenant.pk}).import_data(
        csv_dataset([["", "acme", "Meals", "6110"], ["", "globex", "Meals", "6110"]], header), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    assert sorted(MappingRule.objects.values_list("tenant__slug", flat=True)) == ["acme", "globex"]
    assert not MappingRule.objects.filter(tenant=third).exists()
