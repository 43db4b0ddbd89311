"""The pages use the window on a laptop (1366 px) and on a wide screen (1920 px): the dashboard is not squeezed
into a column, the product name stays on one line, the held list's reason column is in view and readable, and a
batch's wide tables (a report's expenses) scroll inside their box instead of being cut off."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WIDTHS, sign_in


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_dashboard_and_held_list_are_readable(page, world, width):
    sign_in(page, "sam")
    flows = page.locator("#dashboard-flows").bounding_box()
    assert flows["width"] > 0.6 * width, f"the flows table is {flows['width']:.0f} px wide in a {width} px window"
    assert page.locator("#dashboard-flows thead th").first.bounding_box()["height"] < 40, "the headings wrap mid-word"
    name = page.locator("#site-name").bounding_box()
    assert name["height"] < 50, f"the product name wraps: {name['height']:.0f} px tall"

    page.get_by_role("navigation", name="Product").get_by_role("link", name="Held batches").click()
    page.wait_for_url("**/integrations/batch/?state__exact=held")
    cells = page.locator("#result_list td.field-problem")
    expect(cells).to_have_count(world["result"].held)
    # What a person sees without scrolling sideways: the part of the cell inside the list's scroll box and the
    # window, left of the filter panel.
    shown = page.locator("#changelist .results").bounding_box()
    right = min(shown["x"] + shown["width"], width, page.locator("#changelist-filter").bounding_box()["x"])
    for i in range(cells.count()):
        box = cells.nth(i).bounding_box()
        visible = min(box["x"] + box["width"], right) - max(box["x"], shown["x"])
        assert visible > 120 and visible >= box["width"] - 1, (
            f"{visible:.0f} px of the reason column is in view at {width} px (cell {box}, list ends at {right:.0f})")
        assert cells.nth(i).get_attribute("title") or cells.nth(i).locator("[title]").count()  # the full text on hover
    assert page.locator("#result_list th.column-problem").inner_text().strip().lower() == "problem"

    # a held batch's page: every value fits the window, or scrolls sideways inside its own box
    cells.first.locator("xpath=ancestor::tr").locator("th a").click()
    page.wait_for_url("**/integrations/batch/*/change/**")
    cut = page.evaluate("""() => [...document.querySelectorAll('#content .readonly')].filter(el => {
        const box = el.getBoundingClientRect(), style = getComputedStyle(el);
        const scrolls = el.scrollWidth > el.clientWidth && ['auto', 'scroll'].includes(style.overflowX);
        return box.right > window.innerWidth + 1 || (el.scrollWidth > el.clientWidth + 1 && !scrolls);
    }).map(el => el.closest('.form-row').className)""")
    assert not cut, f"values cut off at {width} px: {cut}"
