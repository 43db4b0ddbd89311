"""Source payloads made storable, and free text made safe to send.

PostgreSQL refuses NUL in text and JSON, so a stored payload never holds one: it becomes
U+FFFD, the replacement character, visibly. Other control characters are storable and
kept in the stored snapshot; flows strip them from the free text they send (``clean_text``)
and note it on the batch, so no control character ever reaches a target.
"""

import json
import re

REPLACEMENT = "\ufffd"


# The control characters (Unicode category Cc): C0, DEL and C1. Unicode's stability policy fixes this set, so one
# regular expression finds them; asking unicodedata character by character cost a tenth of a cycle's own time.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile("[\t\n\r]")


def has_control(text):
    return _CONTROL.search(text) is not None


def clean_text(text):
    """``text`` without control characters (tabs and line breaks become spaces)."""
    if not has_control(text):
        return text
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", text))


def storable(value):
    """``value`` (JSON-like) with every NUL replaced, in keys and strings, at any depth; ``value`` itself when it
    holds none."""
    if isinstance(value, (dict, list)):
        return storable_encoded(value)[0]
    return _storable(value)


def storable_encoded(value):
    """``(storable(value), its JSON text)``, the text kept for the insert (``json.dumps`` as a JSONField without an
    encoder writes it), so a payload is encoded once; None when ``value`` does not encode as it is.

    JSON writes NUL as \\u0000 wherever it is (a key, a string, at any depth), and C code writes it fast: a
    payload without that text has nothing to replace. A backslash-u0000 typed as text only costs the slow path."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return _storable(value), None
    if "\\u0000" not in text:
        return value, text
    value = _storable(value)
    return value, json.dumps(value)


def _storable(value):
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value
