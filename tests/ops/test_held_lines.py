"""Every posting flow's held batch names its failing line(s) and field with the source values, shows the posting
with accounts in the target's own notation, and its amounts in the currency's precision (issue #14 point 2).

Real cycles against the sandbox over HTTP, a real database, the batch page read through the admin."""

import re

import pytest

from integrations.demo import add_rule
from integrations.engine import run_cycle
from integrations.models import Batch
from integrations.systems.bill import BillClient
from sandbox.procurify_data import MISSING_IN_JDE
from tests.flows.bill_setup import make_bill_flow, paid_bill, supplier_vendor
from tests.flows.conftest import control, make_acumatica_flow, make_flow
from tests.flows.test_jde_to_bill import approved_orders, flows  # noqa: F401 - a fixture
from tests.flows.test_procurify_to_jde import make_procurify_flow

pytestmark = pytest.mark.django_db(transaction=True)
S = Batch.State


def page(client, batch):
    response = client.get(f"/integrations/batch/{batch.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def line_rows(html):
    """line id -> (at fault, [cell texts]) of the failing-lines table."""
    table = html.split('<table class="hold-lines">')[1].split("</table>")[0]
    rows = {}
    for css, cells in re.findall(r'<tr class="(\w*)">(.*?)</tr>', table, re.S):
        texts = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", cells, re.S)]
        rows[texts[0]] = (css == "problem", texts)
    return rows


def summary(html):
    return re.search(r"<p>(\d+ of \d+ line\(s\) at fault: [^<]*)</p>", html).group(1)


def held(flow, code, contains=""):
    return next(b for b in Batch.objects.filter(flow=flow, state=S.HELD, error_code=code) if contains in b.last_error)


def test_ifs_code_part_hold_marks_the_lines_coded_with_the_missing_value(box, support_client):
    flow = make_flow(box, kind="expensify_to_ifs")
    control(box, "DELETE", "ifs/code-parts/C/PRJ-GAMMA")
    run_cycle(flow)
    batch = held(flow, "IFS-CODE-PART-MISSING", "PRJ-GAMMA")
    html = page(support_client, batch)
    rows = line_rows(html)
    expenses = {str(t["transactionID"]): t for t in batch.payload["transactions"]}
    assert set(rows) == set(expenses)
    for tid, (at_fault, cells) in rows.items():
        # the lines whose Project tag codes part C as the value IFS lacks, and only those
        assert at_fault == ("PRJ-GAMMA" in (expenses[tid].get("tag") or "")), (tid, cells)
        if at_fault:
            assert " · C:PRJ-GAMMA" in cells[-2] and "waiting for code part C (Project) value PRJ-GAMMA" in cells[-1]
    faulty = [t for t, (f, _) in rows.items() if f]
    assert summary(html).startswith(f"{len(faulty)} of {len(rows)} line(s) at fault: line {faulty[0]}")
    # a posted voucher reads in IFS's own notation: Account, then each code part by its letter
    posted = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED]).exclude(posting={})
    assert any(re.search(r"<td>\d{4} · B:CC\d0 · C:PRJ-\w+</td>", page(support_client, b)) for b in posted[:10])


def test_acumatica_unknown_account_and_unmapped_category_name_their_lines(box, support_client):
    flow = make_acumatica_flow(box, options={"document": "journal"})
    add_rule(flow, match={"category": "Software"}, target={"acumatica_account": "6999"})
    run_cycle(flow)
    batch = held(flow, "ACU-ACCOUNT-INACTIVE")  # the sandbox's chart has 6999, inactive
    assert batch.last_error == "account 6999 is inactive in Acumatica"
    rows = line_rows(page(support_client, batch))
    categories = {str(t["transactionID"]): t["category"] for t in batch.payload["transactions"]}
    assert {t for t, (f, _) in rows.items() if f} == {t for t, c in categories.items() if c == "Software"}
    assert any(re.fullmatch(r"6999-(000|CC\d0) · branch HQ", cells[-2]) for _, cells in rows.values())
    # a mapping gap: the category is the field at fault, in bold, with its source value
    gap = held(flow, "MAP-UNMAPPED-CATEGORY")
    html = page(support_client, gap)
    category = re.search(r'category "([^"]+)"', gap.last_error).group(1)
    assert f"<td><strong>{category}</strong></td>" in html
    assert "line(s) at fault: line " in html and f"(category &quot;{category}&quot;)" in html
    # the good lines of the same report show where they would post, Account-Subaccount
    assert any(re.fullmatch(r"6\d{3}-(000|CC\d0) · branch HQ", cells[-2]) for _, cells in line_rows(html).values())


def test_procurify_bill_names_the_line_whose_account_code_is_not_in_f0901(box, support_client):
    flow = make_procurify_flow(box)
    run_cycle(flow)
    batch = held(flow, "JDE-ACCOUNT-NOT-FOUND")
    assert batch.last_error == f"account {MISSING_IN_JDE} not found in F0901"
    html = page(support_client, batch)
    rows = line_rows(html)
    lines = batch.payload["lines"]
    faulty = [str(n) for n, ln in enumerate(lines, start=1) if ln["account_code"] == MISSING_IN_JDE]
    assert [t for t, (f, _) in rows.items() if f] == faulty
    assert summary(html).startswith(f"{len(faulty)} of {len(lines)} line(s) at fault: line {faulty[0]} "
                                    f"(account code &quot;{MISSING_IN_JDE}&quot;)")
    assert f"<td><strong>{MISSING_IN_JDE}</strong></td>" in html  # the source field at fault, in bold
    # "1" is no mention of line 1 in "account 100.4000 ...": a line with a good account is not at fault
    assert not all(f for f, _ in rows.values())
    amount = lines[0]["amount"]
    whole, cents = amount.split(".")
    assert f"<td>{int(whole):,}.{cents}</td>" in html  # the line's amount as money
    # a posted voucher: the A/P side is the supplier (address number), not an empty account
    voucher = Batch.objects.filter(flow=flow, state__in=[S.POSTED, S.CONFIRMED], source_id__startswith="BILL-").first()
    posted = page(support_client, voucher)
    supplier = next(ln for ln in voucher.posting["lines"] if ln["kind"] == "offset")["account"]["supplier"]
    assert f"<td>supplier {supplier}</td>" in posted and "<td>.</td>" not in posted


def test_jde_order_line_whose_bill_chart_of_account_is_archived_is_named(box, flows, support_client):  # noqa: F811
    vendors_flow, bills_flow = flows
    run_cycle(vendors_flow)
    order = approved_orders(bills_flow)[0]
    account = next(ln for ln in order.lines if not ln.cancelled).account
    business_unit, obj = account.split(".")[:2]
    client = BillClient(bills_flow.target)
    chart = next(c for c in client.chart_of_accounts() if c.number == obj)
    client.call("POST", f"/v3/classifications/chart-of-accounts/{chart.id}/archive", idempotent=True)
    run_cycle(bills_flow)
    batch = Batch.objects.get(flow=bills_flow, source_id=f"{order.company}-{order.number}-{order.order_type}")
    assert batch.error_code == "BILL-ACCOUNT-UNKNOWN"
    html = page(support_client, batch)
    rows = line_rows(html)
    live = [ln for ln in batch.payload["lines"] if not ln["cancelled"]]
    faulty = {str(ln["line_number"]) for ln in live if ln["account"].split(".")[1] == obj}
    assert {t for t, (f, _) in rows.items() if f} == faulty and faulty
    assert f"(account &quot;{account}&quot;)" in summary(html) and f"<td><strong>{account}</strong></td>" in html
    assert any(cells[-2] == f"chart of account {obj} · department {business_unit}" for _, cells in rows.values())
    # a posted bill reads as BILL codes it: chart of account and department, the vendor on the other side
    posted = Batch.objects.filter(flow=bills_flow, state__in=[S.POSTED, S.CONFIRMED]).first()
    html = page(support_client, posted)
    assert re.search(r"<td>chart of account \d+ · department \d+</td>", html)
    assert re.search(r"<td>vendor of supplier \d+</td>", html)


@pytest.mark.parametrize("currency,amounts,shown,not_shown", [
    ("USD", ("3000.00", "16.50"), "3,016.50", "3016.5<"),
    ("JPY", ("3000", "16"), "3,016", "3,016.00"),
])
def test_bill_payment_amount_reads_in_its_currency_precision(box, support_client, currency, amounts, shown, not_shown):
    flow = make_bill_flow(box, options={"start_date": "2026-11-01"})
    _, vendor = supplier_vendor(flow)
    BillClient(flow.source).update_vendor(vendor.id, billCurrency=currency)
    _, payment, _ = paid_bill(box, flow, vendor, amounts=amounts)
    run_cycle(flow)
    batch = Batch.objects.get(flow=flow, source_id=payment["id"])
    assert batch.currency == currency
    html = page(support_client, batch)
    assert f"<th scope='row'>amount</th><td>{shown}</td>" in html  # the source record's table
    assert not_shown not in html.split("<details")[0]
