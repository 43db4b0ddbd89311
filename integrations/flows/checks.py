"""``check_record`` for a flow whose source client reads records with ``systems.source_fields``: the
problems the client noted hold the record (``SRC-BAD-FIELD``), and control characters leave the
free text (noted on the batch), as ``engine.sanitize`` promises: none ever reaches a target."""

from ..engine.sanitize import clean_text, has_control

BAD_FIELD = "SRC-BAD-FIELD"


def check_fields(payload, problems, *, text=(), line_text=(), lines_key="lines"):
    """``(payload, notes, problems)`` for the engine's intake; ``problems``: the sentences the client noted."""
    notes = []
    problems = [(BAD_FIELD, str(p)[:300]) for p in problems or []]
    cleaned = clean_fields(payload, text, "the record", notes)
    lines = payload.get(lines_key)
    if line_text and isinstance(lines, list):
        cleaned[lines_key] = [clean_fields(line, line_text, f"line {n}", notes) if isinstance(line, dict) else line
                              for n, line in enumerate(lines, start=1)]
    return cleaned, notes, problems


def clean_fields(record, names, where, notes):
    """``record`` with control characters removed from its text fields ``names``, each removal noted."""
    out = dict(record)
    for name in names:
        value = out.get(name)
        if isinstance(value, str) and has_control(value):
            out[name] = clean_text(value)
            notes.append(f"control characters removed from {name} of {where}")
    return out
