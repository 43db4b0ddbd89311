"""Local fakes of the six vendor APIs the portal talks to, served over plain WSGI.

Stdlib only and no Django import anywhere in this package: the sandbox stands in for
the outside world and knows nothing of the portal. ``sandbox.server.Sandbox`` serves
every fake under ``/<system>/...`` plus a JSON control API under ``/_sandbox/``.

Layout: ``http`` (Request, Response, the ``Fake`` base class), ``faults`` (call
counter and fault injection), ``control`` (the ``/_sandbox`` API), ``server`` (the
threaded WSGI server and dispatch), one module per system (``expensify``, ``jde``, ...).
"""
