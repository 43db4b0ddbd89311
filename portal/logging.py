"""A log filter that masks anything that looks like a secret before it is written.

Clients never log credentials on purpose; this is the belt to those braces: values of
known secret keys in ``key=value`` / ``"key": "value"`` form and bearer tokens are masked.
"""

import logging
import re

SECRET_KEYS = (
    "password|partnerUserSecret|client_secret|secret|token|devKey|sessionId|api_key|"
    "webhook_secret|jde-AIS-Auth|Authorization|refresh_token|access_token"
)
_PATTERNS = [
    re.compile(rf'(?i)("?(?:{SECRET_KEYS})"?\s*[:=]\s*"?)([^"&,\s}}]+)'),
    re.compile(r"(?i)(Bearer\s+)([A-Za-z0-9._~+/=-]+)"),
]


def redact(text):
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
