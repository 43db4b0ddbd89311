"""Browser tests: Playwright drives Debian's chromium against the portal on pytest-django's ``live_server``.

* Playwright's own browser download cannot work here, so it is given ``/usr/bin/chromium`` (``CHROMIUM_BIN``),
  which ``scripts/test`` and ``.ci/run`` install (scripts/_chromium.sh). Without it these tests skip, naming
  the binary; with ``REQUIRE_BROWSER=1`` (CI) they fail instead.
* ``page``: a fresh browser context (1366 x 900 unless a test asks for another width) on the live server;
  ``new_page()`` makes another one (a second person).
* ``world``: the demo tenant (setup_demo over the session's sandbox) after one real cycle, a support user and
  a customer user who sign in with passwords, and a second tenant the customer must never see.
* A failing test keeps a screenshot and the page's HTML in ``test-artifacts/browser/`` (git-ignored); the
  failure report prints their paths.
"""

import os
import re
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
# Chromium must not reach for the network (there is none here but the registries): without the background
# networking flags it keeps trying Google's services.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PASSWORD = "correct horse battery 42"
WIDTHS = {"laptop": 1366, "wide": 1920}


def _missing_browser():
    if os.access(CHROMIUM, os.X_OK):
        return None
    reason = f"{CHROMIUM} is missing: install Debian's chromium (scripts/_chromium.sh) to run the browser tests"
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser():
    """One chromium for this package's tests, closed after the last of them (never kept for the rest of a run)."""
    _missing_browser()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while it is started, which Django's async
    # guard mistakes for async code; the ORM calls made meanwhile are plain synchronous ones.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def width():
    return WIDTHS["laptop"]


@pytest.fixture
def new_page(browser, live_server, width, settings):
    """``new_page()``: a page in a browser context of its own (another person's browser, no shared cookies), on the
    live server; closed after the test (after a failure's screenshot)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # hashing is slow on purpose
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    browser = getattr(item, "funcargs", {}).get("browser")
    if report.when != "call" or not report.failed or browser is None:
        return
    # Every page still open: the test's own and any second user's (a test may open a context of its own).
    pages = [p for context in browser.contexts for p in context.pages if not p.is_closed()]
    if not pages:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", item.nodeid.split("::", 1)[-1])
    kept = []
    for i, page in enumerate(pages):
        stem = ARTIFACTS / (name if i == 0 else f"{name}-{i + 1}")
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content())
            kept.append(f"{page.url}\n  {stem}.png\n  {stem}.html")
        except Exception as exc:  # the page may be what broke; say so rather than hide the test's own failure
            kept.append(f"{page.url}: could not keep the page ({exc})")
    report.sections.append(("browser artifacts", "\n".join(kept)))


# -- the world the tests act in -------------------------------------------------------------------------------


@pytest.fixture
def world(box, transactional_db, settings):
    from integrations.demo import setup_demo
    from integrations.engine.cycle import run_cycle
    from portal import roles
    from portal.models import Membership
    from tests import factories

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    roles.ensure_groups()
    tenant, (flow,) = setup_demo(box, progress=lambda message: None, kinds=("expensify_to_jde",),
                                 rate_limit=((1000, 1),), target_options={"jde": {"settle_seconds": 0}})
    result = run_cycle(flow)
    assert result.posted and result.held, result
    other = factories.make_tenant("globex", name="Globex Inc")
    factories.make_flow(other, name="Globex expenses")
    support = factories.make_user("sam", password=PASSWORD, is_staff=True, email="sam@ml-connector.example")
    Membership.objects.create(user=support, tenant=tenant, role=Membership.SUPPORT)
    customer = factories.make_user("carla", password=PASSWORD, is_staff=True, email="carla@demo.example")
    Membership.objects.create(user=customer, tenant=tenant, role=Membership.CUSTOMER)
    return {"box": box, "tenant": tenant, "other": other, "flow": flow, "result": result, "support": support,
            "customer": customer}


def sign_in(page, username, password=PASSWORD):
    page.goto("/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard-flows")
