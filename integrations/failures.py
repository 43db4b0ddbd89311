"""Saying which system failed, and with which code, when a check or preview talks to a flow's systems.

Used by the admin's coverage and preview pages and by ``mapping_coverage`` / ``sync --dry-run``:
an error from Expensify, JD Edwards... is shown as one line naming the system (and the
connection), the error code and the message, never as a traceback.
"""

from __future__ import annotations

from .systems.errors import IntegrationError
from .systems.http import HttpClient


def failed_connection(exc, flow=None):
    """The connection whose client raised ``exc`` (innermost client frame), else guessed from the code."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        client = tb.tb_frame.f_locals.get("self")
        if isinstance(client, HttpClient):
            found = client.connection
        tb = tb.tb_next
    if found is not None or flow is None:
        return found
    code = str(getattr(exc, "code", "") or "").upper()
    for conn in (flow.source, flow.target):
        if code.startswith(f"{conn.system.upper()}-"):
            return conn
    return None


def system_name(connection) -> str:
    label = connection.get_system_display() if hasattr(connection, "get_system_display") else connection.system
    return label if connection.name in ("", label) else f'{label} (connection "{connection.name}")'


def describe_failure(exc, flow=None) -> str:
    """'Oracle JD Edwards (AIS Server) (connection "JD Edwards") error JDE-405-ALLOWED-HOSTS: ... How to fix: ...'."""
    conn = failed_connection(exc, flow)
    who = system_name(conn) if conn is not None else "A connected system"
    if isinstance(exc, IntegrationError):
        text = f"{who} error {exc.code}: {exc.message}"
        if exc.help:
            text += f" How to fix: {exc.help}"
        return text
    return f"{who} error {type(exc).__name__}: {exc}"
