from decimal import Decimal

import pytest

from integrations.posting import Hold, Posting, PostingLine, from_minor_units


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [(12345, "USD", "123.45"), (-1, "EUR", "-0.01"), (1500, "JPY", "1500"), (1234, "KWD", "1.234"), (0, "USD", "0.00")],
)
def test_minor_units_convert_by_the_currency_exponent(cents, currency, expected):
    value = from_minor_units(cents, currency)
    assert isinstance(value, Decimal) and value == Decimal(expected) and str(value) == expected


def posting(*amounts, total=None):
    lines = [PostingLine(account={"object": "6110"}, amount=Decimal(a)) for a in amounts]
    return Posting(reference="EXP-1", date="2026-11-01", currency="USD", lines=lines,
                   source_total=None if total is None else Decimal(total))


def test_unbalanced_journal_is_held_naming_the_difference():
    with pytest.raises(Hold) as err:
        posting("10.00", "-9.99").check_balanced()
    assert err.value.code == "POST-UNBALANCED" and "0.01" in err.value.message


def test_lines_must_add_up_to_the_source_total():
    p = posting("10.00", "5.00", total="15.01")
    p.lines.append(PostingLine(account={"object": "2100"}, amount=Decimal("-15.00"), kind="offset"))
    with pytest.raises(Hold) as err:
        p.check_balanced()
    assert err.value.code == "SRC-TOTAL-MISMATCH"


def test_json_round_trip_keeps_exact_decimals():
    p = posting("0.10", "0.20", "-0.30", total="0.30")
    again = Posting.from_json(p.to_json())
    assert [ln.amount for ln in again.lines] == [Decimal("0.10"), Decimal("0.20"), Decimal("-0.30")]
    assert again.source_total == Decimal("0.30")
    assert again.imbalance == 0


def test_json_is_what_asdict_gave_and_shares_nothing_with_the_posting():
    from dataclasses import asdict

    p = posting("10.00", "-10.00", total="10.00")
    p.notes = ["control characters removed"]
    p.lines[0].dimensions = {"card": True, "header": {"terms": ["net 30", {"days": 30}]}}
    expected = asdict(p)
    expected["source_total"] = str(p.source_total)
    for line in expected["lines"]:
        line["amount"] = str(line["amount"])
    data = p.to_json()
    assert data == expected and list(data) == list(expected) and list(data["lines"][0]) == list(expected["lines"][0])
    data["lines"][0]["dimensions"]["header"]["terms"].append("changed")
    data["lines"][0]["account"]["object"] = "changed"
    data["notes"].append("changed")
    assert p.lines[0].dimensions["header"]["terms"] == ["net 30", {"days": 30}]
    assert p.lines[0].account != {"object": "changed"} and p.notes == ["control characters removed"]
