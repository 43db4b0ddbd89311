"""A log filter that masks anything that looks like a secret before it is written.

Clients never log credentials on purpose; this is the belt to those braces. Masked:

* values of known secret keys in ``key=value`` / ``"key": "value"`` / ``key: value`` form,
  and bearer tokens;
* any value registered with ``remember_secret`` (the credential field registers every
  secret value it decrypts, so a secret is masked even when it appears bare, e.g. echoed
  in a vendor's error message);
* the same in the formatted traceback of ``logger.exception`` records.
"""

import logging
import re
import threading

SECRET_KEYS = (
    "password|passwd|partnerUserSecret|client_secret|secret|token|devKey|dev_key|sessionId|api_key|apikey|"
    "webhook_secret|jde-AIS-Auth|Authorization|refresh_token|access_token"
)
_PATTERNS = [  # auth schemes first: "Authorization: Basic <token>" must lose the token, not the word
    re.compile(r"(?i)(Bearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"(?i)(Basic\s+)([A-Za-z0-9+/=]{8,})"),
    re.compile(rf'(?i)("?(?:{SECRET_KEYS})"?\s*[:=]\s*"?)([^"&,\s}}]+)'),
]
MASK = "***"
MIN_SECRET_LENGTH = 6
_MAX_REMEMBERED = 10_000

_known = set()
_lock = threading.Lock()


def is_secret_key(name):
    return bool(re.fullmatch(rf"(?i)(?:{SECRET_KEYS})", str(name)))


def remember_secret(value):
    """Mask this exact value in every log line from now on (credentials, tokens)."""
    value = str(value or "")
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if len(_known) >= _MAX_REMEMBERED:
            _known.clear()
        _known.add(value)


def redact(text):
    text = str(text)
    if _known:
        with _lock:
            known = sorted(_known, key=len, reverse=True)
        for value in known:
            if value in text:
                text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactSecretsFilter(logging.Filter):
    _formatter = logging.Formatter()

    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
