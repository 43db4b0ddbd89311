"""Free text bound for a target field of documented length, the same way for every connector.

Free text (explanations, descriptions, memos) is cut to the field's length: a shorter text loses
nothing a person needs, and the full text stays on the batch. Identifiers (references, invoice
numbers) are never cut, since a cut one could name another document: the caller holds the record or
uses another identifier (``identifier_or``).
"""

import unicodedata

ZERO_WIDTH_JOINER = "\u200d"


def fit(value, limit):
    """``value`` as text of at most ``limit`` characters (Unicode code points, as the targets count them),
    cut at the end, never between a letter and its accent, inside a joined emoji or between the halves of a flag."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    cut = limit
    # Move the cut back while it would split a character from its combining mark, a joined emoji, or a flag.
    while cut > 0 and (unicodedata.combining(text[cut]) or ZERO_WIDTH_JOINER in (text[cut], text[cut - 1])
                       or _regional(text[:cut])):
        cut -= 1
    text = text[:cut]
    return text.rstrip()


def _regional(text):
    """True when ``text`` ends in an unpaired regional indicator (half of a flag emoji)."""
    count = 0
    for ch in reversed(text):
        if not 0x1F1E6 <= ord(ch) <= 0x1F1FF:
            break
        count += 1
    return count % 2 == 1


def identifier_or(value, fallback, limit):
    """``value`` when it is a non-empty identifier within ``limit`` characters, else ``fallback``."""
    text = "" if value is None else str(value)
    return text if 0 < len(text) <= limit else fallback
