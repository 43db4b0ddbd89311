"""Shared fixtures: two tenants, and admin users of both roles.

* ``tenant`` / ``other_tenant``: two tenants (sub-packages may override these names).
* ``customer_user``: staff user with a customer membership in ``tenant`` only, in the
  ``customer`` group (limited permissions, see ``portal.roles``); ``customer_client`` is
  a logged-in test client.
* ``support_user``: staff user with a support membership (not a superuser), in the
  ``support`` group; ``support_client``.
* ``make_customer(tenant, ...)``: more customer users (e.g. one with two tenants).
* ``sandbox``: one real sandbox (fake Expensify and JD Edwards over loopback HTTP) per
  session; ``box``: the same sandbox reseeded for each test (``tests/flows/conftest.py``
  has ``make_flow(box)`` and ``control(box, method, path)`` on top of it).
"""

import datetime as dt

import pytest

from portal import roles
from portal.models import Membership
from tests import factories


@pytest.fixture
def role_groups(db):
    return roles.ensure_groups()


@pytest.fixture
def tenant(db):
    return factories.make_tenant("acme", name="Acme Corp")


@pytest.fixture
def other_tenant(db):
    return factories.make_tenant("globex", name="Globex Inc")


@pytest.fixture
def make_customer(role_groups):
    def make(*tenants, username=None):
        user = factories.make_user(username, is_staff=True)
        for t in tenants:
            Membership.objects.create(user=user, tenant=t, role=Membership.CUSTOMER)
        user.refresh_from_db()
        return user

    return make


@pytest.fixture
def customer_user(make_customer, tenant):
    return make_customer(tenant, username="carla")


@pytest.fixture
def support_user(role_groups, tenant):
    user = factories.make_user("sam", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.SUPPORT)
    user.refresh_from_db()
    return user


@pytest.fixture
def superuser(db):
    return factories.make_user("root", is_staff=True, is_superuser=True)


def _client(client_class, user):
    c = client_class()
    c.force_login(user)
    return c


@pytest.fixture
def customer_client(customer_user):
    from django.test import Client

    return _client(Client, customer_user)


@pytest.fixture
def support_client(support_user):
    from django.test import Client

    return _client(Client, support_user)


@pytest.fixture
def user_for_role(customer_user, support_user):
    """``user_for_role("customer")`` / ``("support")``."""
    return {"customer": customer_user, "support": support_user}.__getitem__


# -- the sandbox -----------------------------------------------------------------------------

ANCHOR = dt.date(2026, 11, 1)


@pytest.fixture(scope="session")
def sandbox():
    from sandbox.server import Sandbox

    box = Sandbox(seed=7, size=40, anchor=ANCHOR).start()
    yield box
    box.stop()


@pytest.fixture
def box(sandbox):
    """A freshly seeded sandbox per test, with rate limits loose enough for fast tests."""
    sandbox.reset(seed=7, size=40, anchor=ANCHOR)
    sandbox.config.setdefault("expensify", {})["rate_limit"] = [[1000, 1]]
    return sandbox


@pytest.fixture
def portal_server(transactional_db, request):
    """The portal over real HTTP for the sandbox to call (BILL's webhooks): its base URL, one server per test.

    Not pytest-django's ``live_server``: on SQLite's shared in-memory test database that hands the server
    thread the test's own connection object, so a webhook landing while the test queries runs both on
    one connection, and a broken transaction state there failed every later test of a CI run. This
    server's request threads open connections of their own. At the end BILL's pending deliveries are
    dropped (waiting for one on the wire) before the server stops, so none reaches a later test."""
    from django.test.testcases import LiveServerThread, _StaticFilesHandler
    from django.test.utils import modify_settings

    box = request.getfixturevalue("box") if "box" in request.fixturenames else None  # set up first, torn down after
    thread = LiveServerThread("127.0.0.1", _StaticFilesHandler, connections_override={}, port=0)
    thread.daemon = True
    with modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"}):
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        try:
            yield f"http://127.0.0.1:{thread.port}"
        finally:
            if box is not None:
                box.fakes["bill"].deliverer.clear()
            thread.terminate()
