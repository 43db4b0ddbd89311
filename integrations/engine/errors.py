"""How the engine sorts what goes wrong: the record, or the connection."""

from ..systems.errors import AuthError, HostNotAllowed, VersionMismatch

# Errors that concern the connection, not the record: every later call would fail the same way.
# The cycle stops and the flow backs off; the batches keep their states for the first cycle after.
CONNECTION_ERRORS = (AuthError, HostNotAllowed, VersionMismatch)


class Paused(Exception):
    """A connection-level error: stop the cycle, back the flow off, alert once per outage."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error
