"""One way to give a test module a sandbox: started once per module, reseeded for every test."""

import datetime as dt

import pytest

from sandbox.server import Sandbox

ANCHOR = dt.date(2026, 11, 1)


def sandbox_fixtures(*, systems=None, seed=7, size=40, config=None, around=None):
    """Return the fixtures ``server`` (module scope) and ``box`` (reset per test); assign both in the module.

    ``config`` is merged into the sandbox's settings after each reset; ``around`` is called
    before and after each test (e.g. to clear a client-side token cache)."""

    @pytest.fixture(scope="module")
    def server():
        box = Sandbox(seed=seed, size=size, anchor=ANCHOR, systems=systems).start()
        yield box
        box.stop()

    @pytest.fixture
    def box(server):
        server.reset(seed=seed, size=size, anchor=ANCHOR)
        for system, values in (config or {}).items():
            server.config.setdefault(system, {}).update(values)
        if around:
            around()
        yield server
        if around:
            around()

    return server, box
