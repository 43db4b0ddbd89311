"""The one place that masks secrets in text: every sink (logs, stored messages, audit entries,
admin messages, command output) and every client's vendor messages go through ``scrub``.

A secret is masked in each form a vendor, a library or a traceback may write it:

* raw;
* JSON-escaped (``"`` -> ``\\"``, ``\\`` -> ``\\\\``), with non-ASCII letters kept or
  ASCII-escaped as ``\\uXXXX`` (lower- or upper-case hex, Java writes the latter), and
  escaped twice (a JSON document quoted inside another);
* URL-encoded (``%22``, ``%C3%B6``; ``+`` or ``%20`` for a space);
* Python-escaped (``repr``, ``\\xf6``), as tracebacks show arguments.

Secrets are known two ways: values registered with ``remember_secret`` (the credential
field registers every secret it decrypts or encrypts, clients register the tokens they
receive), and values passed in per call (a client's own credentials). Besides, the value
after a known secret key (``password=``, ``"partnerUserSecret": "``, ``\\"devKey\\":\\"``)
and bearer/basic tokens are masked whatever they are.
"""

import functools
import heapq
import json
import re
import threading
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 6  # registered values; shorter ones would mask ordinary words
MIN_GIVEN_LENGTH = 4  # values a caller passes for its own credentials
_MAX_REMEMBERED = 10_000

SECRET_KEYS = (
    "password|passwd|partnerUserSecret|client_secret|secret|token|devKey|dev_key|sessionId|api_key|apikey|"
    "webhook_secret|jde-AIS-Auth|Authorization|refresh_token|access_token"
)
_QUOTE = r'(?:\\*["\'])?'  # an optional quote, itself possibly escaped once or more
_PATTERNS = [  # auth schemes first: "Authorization: Basic <token>" must lose the token, not the word
    re.compile(r"(?i)(Bearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(?i)(Basic\s+)([A-Za-z0-9+/=]{8,})"),
    re.compile(rf"(?i)({_QUOTE}\b(?:{SECRET_KEYS}){_QUOTE}\s*(?:[:=]|%3A|%3D)\s*{_QUOTE})((?:\\.|[^\"'\\&,\s}}])+)"),
]

_known = {}  # secret -> its encodings, longest first
_ordered = []  # the values of _known, longest secret first (rebuilt when a secret is added)
_lock = threading.Lock()
# Short texts already scrubbed against the secrets known now: the audit trail scrubs the same few words (batch
# states, empty messages) thousands of times a cycle. Emptied whenever a secret is learned; an answer worked
# out while one was being learned is not kept (``_generation`` moved on).
_MEMO_TEXT = 64
_MEMO_SIZE = 4096
_memo = {}
_generation = 0


_SECRET_KEY = re.compile(rf"(?i)(?:{SECRET_KEYS})")


@functools.lru_cache(maxsize=1024)
def _is_secret_key(name):
    return bool(_SECRET_KEY.fullmatch(name))


def is_secret_key(name):
    return _is_secret_key(str(name))


def encodings(value):
    """Every form of ``value`` this module masks, longest first."""
    value = str(value)
    forms = {value}
    for ascii_only in (True, False):
        escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        forms.add(escaped)
        forms.add(json.dumps(escaped, ensure_ascii=ascii_only)[1:-1])
    forms.add(re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json.dumps(value)[1:-1]))
    forms.update({quote(value, safe=""), quote(value), quote_plus(value), quote(value, safe="").lower()})
    forms.add(repr(value)[1:-1])
    forms.add(value.encode("unicode_escape").decode("ascii"))
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def remember_secret(value):
    """Mask this exact value, in every encoding, everywhere from now on (credentials, tokens)."""
    value = str(value or "")
    if len(value) < MIN_SECRET_LENGTH or value in _known:
        return
    global _generation
    forms = encodings(value)
    with _lock:
        if len(_known) >= _MAX_REMEMBERED:
            _known.clear()
        _known[value] = forms
        _ordered[:] = sorted(_known.values(), key=lambda f: -len(f[0]))
        _generation += 1
        _memo.clear()


def _mask_values(text, forms_lists):
    for forms in forms_lists:
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
    return text


def scrub(text, secrets=()):
    """``text`` with every known secret, every ``secrets`` value and every keyed secret masked."""
    if text is None:
        return ""
    text = str(text)
    if not text:
        return text
    if secrets or len(text) > _MEMO_TEXT:
        return _scrub(text, secrets)
    done = _memo.get(text)
    if done is None:
        generation = _generation
        done = _scrub(text, ())
        with _lock:
            if generation == _generation:
                if len(_memo) >= _MEMO_SIZE:
                    _memo.clear()
                _memo[text] = done
    return done


def _scrub(text, secrets):
    given = sorted((encodings(s) for s in secrets if s is not None and len(str(s)) >= MIN_GIVEN_LENGTH),
                   key=lambda forms: -len(forms[0]))
    with _lock:
        known = list(_ordered)
    # Longer secrets first, so one that contains another is masked whole (both lists are sorted already).
    text = _mask_values(text, heapq.merge(given, known, key=lambda forms: -len(forms[0])))
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def scrub_data(value, secrets=()):
    """A JSON-like structure with every string scrubbed and every secret key's value masked."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else scrub_data(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_data(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub(value, secrets)
    return value
