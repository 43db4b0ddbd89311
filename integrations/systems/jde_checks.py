"""Local checks of what goes to a JD Edwards orchestration (journals and vouchers), so that a
malformed posting is held without a call: references, texts without control characters, amounts
that fit the currency and the amount column, accounts in ``BU.OBJ[.SUB]`` form."""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from .errors import ValidationRejected

MAX_REFERENCE = 22  # VNEDTN is A22
TEXT_LENGTH = 30  # VNEXA / VNEXR
# VNAA (and GLAA) hold 15 digits, the currency's decimals included: the data dictionary size
# of item AA. UNCONFIRMED: shared/reference/jde.md does not give the size.
AMOUNT_DIGITS = 15
# Minor-unit digits (ISO 4217) where they are not 2; the currency table in JDE decides in the end.
CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "HUF": 2, "BHD": 3, "JOD": 3, "KWD": 3,
                      "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3}


def max_amount(currency) -> Decimal:
    """The largest absolute line amount JD Edwards accepts in ``currency``: AMOUNT_DIGITS
    digits of which the currency's decimals take their share (USD: 9999999999999.99)."""
    exponent = exponent_of(currency)
    quantum = Decimal(1).scaleb(-exponent)
    return (Decimal(10) ** (AMOUNT_DIGITS - exponent) - quantum).quantize(quantum)


# -- journal checks --------------------------------------------------------------------------------------------
INVALID = "JDE-INVALID-JOURNAL"
TOO_LARGE = "JDE-AMOUNT-TOO-LARGE"
CONTROL_CHARACTER = "JDE-CONTROL-CHARACTER"
# The refusal's code is its most specific problem's: the guards' own codes first.
CODE_PRIORITY = (CONTROL_CHARACTER, TOO_LARGE, INVALID)
REFUSAL_HELP = {
    INVALID: "The posting built from the source record cannot be a JD Edwards journal; correct the mapping or the "
             "source record, then retry.",
    TOO_LARGE: "JD Edwards cannot store an amount that large. Check the source record for a mistyped amount and "
               "correct it there, then retry.",
    CONTROL_CHARACTER: "A text bound for JD Edwards contains a control character (tab, line break, NUL...). Remove it "
                       "from the source record or the mapping, then retry.",
}


def exponent_of(currency):
    return CURRENCY_EXPONENTS.get(str(currency or "").strip().upper(), 2)


def reference_problems(raw, what="the journal", field="BatchReference"):
    problems = control_problems(what, {field: raw})
    reference = str(raw or "").strip()
    if not reference:
        problems.append((INVALID, f"{what} has no reference"))
    elif len(reference) > MAX_REFERENCE:
        problems.append((INVALID, f"reference {printable(reference)} is longer than {MAX_REFERENCE} characters "
                                  "(VNEDTN)"))
    return problems


def control_problems(where, texts):
    """A problem per text holding a control character (Unicode category Cc: NUL, tab, line
    break...). The engine strips them earlier; this is the last guard before JD Edwards."""
    problems = []
    for name, value in texts.items():
        for index, char in enumerate(str(value or "")):
            if unicodedata.category(char) == "Cc":
                problems.append((CONTROL_CHARACTER, f"{where}: {name} contains the control character "
                                                    f"U+{ord(char):04X} at position {index + 1}"))
                break
    return problems


def line_problems(number, line, currency, exponent):
    """``(amount, problems)`` for one journal line; amount is None when it is not a number."""
    where = f"line {number}"
    problems = control_problems(where, {"Account": line.account, "Explanation": line.explanation,
                                         "Remark": line.remark})
    try:
        amount = Decimal(repr(line.amount)) if isinstance(line.amount, float) else Decimal(line.amount)
    except (InvalidOperation, TypeError, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        return None, problems + [(INVALID, f"{where}: amount {line.amount!r} is not a number")]
    limit = max_amount(currency)
    # Size first: quantizing a huge amount would overflow the decimal context.
    if abs(amount) > limit:
        problems.append((TOO_LARGE, f"{where}: amount {amount} {currency} is larger than JD Edwards accepts (at most "
                                    f"{limit}: its amount column holds {AMOUNT_DIGITS} digits, {exponent} of them "
                                    "decimals)"))
    elif amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        problems.append((INVALID, f"{where}: {amount} has more decimals than {currency} allows ({exponent})"))
    if not re.fullmatch(r"[^.\s]+\.[^.\s]+(\.[^.\s]+)?", str(line.account or "").strip()):
        problems.append((INVALID, f"{where}: account {printable(line.account)!r} is not in BU.OBJ[.SUB] form"))
    return amount, problems


def printable(text):
    """``text`` with control characters shown as \\uXXXX, for messages."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cc" else c for c in str(text or ""))




def refuse(what, reference, problems):
    """Raise the ValidationRejected for ``problems`` ((code, text) pairs): the most specific code wins."""
    code = min((c for c, _ in problems), key=CODE_PRIORITY.index)
    raise ValidationRejected(f"{what} {printable(reference) or '(no reference)'} was not sent to JD Edwards: "
                             + "; ".join(text for _, text in problems), code=code, help=REFUSAL_HELP[code])
