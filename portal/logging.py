"""The log filter: every log line and traceback goes through the one scrubber (``portal.scrub``).

Clients never log credentials on purpose; this is the belt to those braces.
``redact``/``remember_secret``/``is_secret_key`` are the scrubber's, named here for older callers.
"""

import logging

from .scrub import MASK, is_secret_key, remember_secret  # noqa: F401 (re-exported)
from .scrub import scrub as redact


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
