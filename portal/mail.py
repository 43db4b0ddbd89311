"""The embedded default e-mail backend: the console, on stderr.

stdout belongs to commands' results (``demo --once`` prints one JSON object there), so
alert mail shown on the console goes where logs go.
"""

import sys

from django.core.mail.backends.console import EmailBackend


class StderrConsoleBackend(EmailBackend):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
