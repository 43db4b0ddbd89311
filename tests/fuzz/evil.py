"""Strategies for what a vendor may send that it should not: wrong types, empty and huge strings,
control characters, right-to-left and emoji text, amounts out of range or with too many decimals,
dates out of range. Each source's module combines them with that source's record shape."""

from hypothesis import strategies as st

CONTROL = "".join(chr(c) for c in range(0, 32)) + "\x7f\x85"
ODD = "\u202e\u202d\u200f\u200b\ufeff\u0301\ufffd\u2028\u2029"  # RTL overrides, zero width, combining, separators
EMOJI = "\U0001f600\U0001f4b8\U0001f1eb\U0001f1f7\u2603"

odd_text = st.text(alphabet=st.sampled_from(CONTROL + ODD + EMOJI + "aZ09 .:-_'\"<>&%/\\"), min_size=1, max_size=40)
huge_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "\u00e9", "\U0001f600", "\u05d0", "A\x00"]),
                      st.integers(min_value=31, max_value=5000))
any_text = st.one_of(st.just(""), st.text(max_size=60), odd_text, huge_text)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=False, allow_infinity=False), any_text)
wrong_type = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3))
# Amounts in minor units as a source might send them: negative, zero, huge, fractional, text.
minor_units = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.sampled_from([0, -1, 1, 2**53, 2**53 + 1, 10**15, 10**22, -(10**22)]),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from(["12.x", "1e3", "", " 5 ", "0x10", "١٢٣"]),
)
# Decimal amounts in currency units (Procurify, BILL): too many decimals, signs, text.
decimal_amount = st.one_of(
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False).map(str),
    st.decimals(min_value=-(10**3), max_value=10**3, places=5, allow_nan=False).map(str),
    st.sampled_from(["0", "0.00", "-0.01", "1e400", "99999999999999999999.99", "1,000.00", "12.x", "", "NaN", "Infinity"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.none(),
)
dates = st.one_of(st.sampled_from(["0001-01-01", "9999-12-31", "2026-02-30", "1900-01-01", "2026-13-01", "", "yesterday",
                                   "2026-10-03T25:61:00", "20261003"]), st.dates().map(str), wrong_type)
currencies = st.one_of(st.sampled_from(["USD", "EUR", "JPY", "KWD", "GBP", "CAD", "XYZ", "usd", "US", "", "EURO"]), wrong_type)
