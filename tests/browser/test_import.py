"""A customer imports mapping rules from a spreadsheet: the flow's template downloaded from the import page, one row
filled in, uploaded, previewed, confirmed; the rule is there and a bad row is refused by row number, never with a
traceback."""

import csv
import io

from playwright.sync_api import expect

from mappings.models import MappingRule
from tests.browser.conftest import sign_in


def download_template(page, flow, tmp_path):
    with page.expect_download() as download:
        page.get_by_role("link", name=flow.name, exact=True).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    return saved


def fill(template, tmp_path, **values):
    """The template with its first data row filled in with ``values`` (header -> value), as a person would."""
    rows = list(csv.reader(io.StringIO(template.read_text())))
    header = rows[0]
    row = rows[1] if len(rows) > 1 else [""] * len(header)
    for column, value in values.items():
        row[header.index(column)] = value
    out = tmp_path / f"filled-{template.name}"
    with out.open("w", newline="") as f:
        csv.writer(f).writerows([header, row])
    return out


def upload(page, path):
    page.goto("/mappings/mappingrule/")
    page.get_by_role("link", name="Import").click()
    page.set_input_files("input[name=import_file]", str(path))
    # nobody picks a format: the page guesses it from the file's name
    expect(page.locator("select[name=format] option:checked")).to_have_text(path.suffix.lstrip("."))
    page.locator("input[type=submit]").click()


def test_customer_imports_a_rule_from_the_flow_template(page, world, tmp_path):
    flow = world["flow"]
    sign_in(page, "carla")
    page.goto("/mappings/mappingrule/")
    page.get_by_role("link", name="Import").click()
    template = download_template(page, flow, tmp_path)
    assert template.name.endswith(".csv")
    header = template.read_text().splitlines()[0]
    assert "Expensify category" in header and "JD Edwards object account" in header and "tenant" not in header.lower()

    before = MappingRule.objects.filter(tenant=world["tenant"]).count()
    upload(page, fill(template, tmp_path, **{"Expensify category": "Gifts", "JD Edwards object account": "6200"}))
    # the preview: the file's columns and the flow, in plain words, within the window
    preview = page.locator("table.import-preview")
    expect(preview).to_contain_text("Gifts")
    headers = [h.strip().lower() for h in preview.locator("thead th").all_inner_texts() if h.strip()]
    assert {"flow", "expensify category", "jd edwards object account"} <= set(headers), headers
    assert "target_object" not in headers and "rule id" not in headers and len(headers) <= 12, headers  # not 39
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.locator("input[type=submit][value*=Confirm]").click()
    expect(page.locator(".messagelist .success")).to_contain_text("1 new")
    rule = MappingRule.objects.get(tenant=world["tenant"], category="Gifts")
    assert (rule.flow_id, rule.target_object) == (flow.pk, "6200")
    assert MappingRule.objects.filter(tenant=world["tenant"]).count() == before + 1
    expect(page.locator("#result_list")).to_contain_text("Gifts")

    # a bad row: named by its number, nothing imported, no traceback
    upload(page, fill(template, tmp_path, **{"Expensify category": "Flowers", "JD Edwards object account": "=HYPERLINK()"}))
    errors = page.locator(".errorlist")
    expect(errors).to_contain_text("Row 1")
    assert "Traceback" not in page.content()
    assert not MappingRule.objects.filter(category="Flowers").exists()
