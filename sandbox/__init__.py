"""Local fakes of the six vendor APIs the portal talks to, served over plain WSGI.

Stdlib only and no Django import anywhere in this package: the sandbox stands in for
the outside world and knows nothing of the portal. ``sandbox.server.Sandbox`` serves
every fake under ``/<system>/...`` plus a JSON control API under ``/_sandbox/``.

Layout: ``http`` (Request, Response, the ``Fake`` base class), ``faults`` (call
counter and fault injection), ``control`` (the ``/_sandbox`` API), ``server`` (the
threaded WSGI server and dispatch), one module per system (``expensify``, ``jde``, ...),
``catalog`` (the vocabulary the systems share) and ``freemarker`` (Expensify templates).

Adding a system (ifs, acumatica, procurify, bill): create ``sandbox/<name>.py`` with a
class whose ``name`` is ``"<name>"`` (subclass ``sandbox.http.Fake``, or name it ``Fake``)
implementing ``reset(seed, size, anchor)``, ``endpoint(req)`` (a stable name per
operation, used for call counts and fault matching; None = 404), ``handle(req)`` and
``credentials()``; optionally ``control(req, subpath)``, ``fault_body(status, req)``
(the vendor's error body for an injected status), ``restart()`` and ``default_config``.
``server.load_fakes`` picks it up; nothing else changes. Keep data deterministic from
``random.Random(seed)`` with dates relative to ``anchor``, and read settings from
``self.sandbox.config[name]`` on each request so tests can change them live.
"""
