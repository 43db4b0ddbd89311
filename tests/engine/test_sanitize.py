"""The sanitizer's fast forms say exactly what the slow ones did: Unicode's Cc characters, NUL at any depth."""

import sys
import unicodedata

from integrations.engine.sanitize import REPLACEMENT, clean_text, has_control, storable


def test_control_characters_are_exactly_unicode_category_cc():
    found = [c for c in map(chr, range(sys.maxunicode + 1)) if has_control(c)]
    assert found == [c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) == "Cc"]
    assert not has_control("caf\u00e9 \u2028 \u200b \ufeff") and has_control("a\x85b")


def test_clean_text_drops_controls_and_turns_breaks_into_spaces():
    assert clean_text("Taxi\tto\r\nairport\x00\x07\x9f!") == "Taxi to  airport!"
    assert clean_text("plain \u00e9") == "plain \u00e9"


def test_storable_replaces_nul_in_keys_and_strings_at_any_depth():
    value = {"a\x00": ["x\x00y", {"deep": ("t\x00",)}], "n": 1, "ok": "fine"}
    assert storable(value) == {f"a{REPLACEMENT}": [f"x{REPLACEMENT}y", {"deep": [f"t{REPLACEMENT}"]}], "n": 1, "ok": "fine"}


def test_storable_leaves_a_clean_payload_as_it_is_and_a_lookalike_unchanged():
    clean = {"memo": "no nul here", "lines": [{"text": "a backslash-u0000 typed as text: \\u0000"}]}
    assert storable(clean) is clean or storable(clean) == clean
    assert storable(clean) == {"memo": "no nul here", "lines": [{"text": "a backslash-u0000 typed as text: \\u0000"}]}
    assert storable("x\x00") == f"x{REPLACEMENT}" and storable(["\x00"]) == [REPLACEMENT]
