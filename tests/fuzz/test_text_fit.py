"""``systems.text.fit``: free text cut to a target field's length, the same way for every connector."""

import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from integrations.systems.text import fit, identifier_or

from . import evil


@given(text=st.one_of(st.text(), evil.odd_text, evil.huge_text), limit=st.integers(min_value=1, max_value=60))
@example(text="Trip \U0001f1eb\U0001f1f7\U0001f1eb\U0001f1f7", limit=8)  # would cut a flag in half
@example(text="cafe\u0301s", limit=4)  # would part the e from its accent
def test_fit_is_a_prefix_within_the_limit_and_leaves_short_text_alone(text, limit):
    cut = fit(text, limit)
    assert len(cut) <= limit and text.startswith(cut)
    if len(text) <= limit:
        assert cut == text
    else:
        assert not cut.endswith("\u200d") and not unicodedata.combining(text[len(cut)])
        flags = len(cut) - len(cut.rstrip("".join(chr(c) for c in range(0x1F1E6, 0x1F200))))
        assert flags % 2 == 0


def test_an_identifier_is_never_cut():
    assert identifier_or("INV-1", "REF", 25) == "INV-1"
    assert identifier_or("I" * 26, "REF", 25) == "REF"
    assert identifier_or("", "REF", 25) == "REF"
