"""The batch page's formatting functions: accounts in each target's notation, record amounts as money, and which
hold messages name a line (the page-level tests are in test_held_lines / test_batch_page)."""

from decimal import Decimal

import pytest

from integrations.ops.display import account_text, labelled_values, money_value, rows_table
from integrations.ops.explain import mentioned, names_line


@pytest.mark.parametrize("system,account,text", [
    ("jde", {"business_unit": "100", "object": "6110", "subsidiary": "CC10"}, "100.6110.CC10"),
    ("jde", {"supplier": 4343}, "supplier 4343"),
    ("ifs", {"code_a": "6120", "code_c": "PRJ-A", "code_b": "CC10"}, "6120 · B:CC10 · C:PRJ-A"),
    ("acumatica", {"account": "6100", "subaccount": "CC20", "branch": "HQ", "project": "P1"},
     "6100-CC20 · branch HQ · project P1"),
    ("bill", {"account": "100.6300"}, "chart of account 6300 · department 100"),
    ("bill", {"supplier": 4050}, "vendor of supplier 4050"),
    ("ifs", {"code_b": "CC10"}, "code_b=CC10"),  # not a code string IFS would take: shown as it is
])
def test_accounts_in_the_targets_notation(system, account, text):
    assert account_text(system, account) == text


@pytest.mark.parametrize("value,currency,minor,text", [
    (3016.5, "USD", False, "3,016.50"),
    ("3016.5", "", False, "3,016.50"),  # currency unknown: two decimals at least
    ("0.12345", "", False, "0.12345"),  # and none of its own lost
    (3016, "JPY", False, "3,016"),
    ("1.2346", "KWD", False, "1.235"),
    (301650, "USD", True, "3,016.50"),  # Expensify's cents
    (3016, "JPY", True, "3,016"),
    ("n/a", "USD", False, None),
    (True, "USD", False, None),
])
def test_money_value(value, currency, minor, text):
    assert money_value(value, currency, minor_units=minor) == text


def test_record_amounts_read_in_the_record_or_line_currency():
    report = {"currency": "USD", "total": 1234567, "reportName": "Trip 2024",
              "transactions": [{"amount": 150000, "currency": "JPY", "convertedAmount": 1000000, "merchant": "Ryokan"}]}
    html = str(labelled_values(report, minor_units=True))
    assert "<td>12,345.67</td>" in html and "<td>Trip 2024</td>" in html
    assert "<td>150,000</td>" in html  # the expense in yen, its own currency
    assert "<td>10,000.00</td>" in html  # converted into the report's dollars
    rows = str(rows_table([{"total": Decimal("5"), "line_count": 3}], currency="EUR"))
    assert "<td>5.00</td>" in rows and "<td>3</td>" in rows


def test_which_messages_name_a_line_or_an_account():
    assert names_line("line 1: account code \"x\" is not a JD Edwards account", "1")
    assert not names_line("account 100.4000 not found in F0901", "1")
    assert not names_line("line 10: no live BILL chart of account numbered 6110", "1")
    assert names_line("line 1.000: no live BILL department with short name 300", "1.000")
    assert names_line("report total differs on T-77 only", "T-77") and not names_line("T-770", "T-77")
    assert mentioned("account 100.6999 is not in F0901", "100.6999")
    assert not mentioned("account 1100.6999 is not in F0901", "100.6999")
    assert not mentioned("account 100.6999.CC10 is not in F0901", "100.6999")
    assert not mentioned("subaccount 6999 is inactive in Acumatica", "account 6999 is ")
