"""Source payloads made storable, and free text made safe to send.

PostgreSQL refuses NUL in text and JSON, so a stored payload never holds one: it becomes
U+FFFD, the replacement character, visibly. Other control characters are storable and
kept in the stored snapshot; flows strip them from the free text they send (``clean_text``)
and note it on the batch, so no control character ever reaches a target.
"""

import unicodedata

REPLACEMENT = "\ufffd"


def has_control(text):
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def clean_text(text):
    """``text`` without control characters (tabs and line breaks become spaces)."""
    if not has_control(text):
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) != "Cc":
            out.append(ch)
        elif ch in "\t\n\r":
            out.append(" ")
    return "".join(out)


def storable(value):
    """``value`` (JSON-like) with every NUL replaced, in keys and strings, at any depth."""
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT) if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value
