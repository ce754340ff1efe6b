"""Browser tests: the test's app served by waitress on a free port, driven by Debian's Chromium.

Fixtures here (on top of ``tests/conftest.py``):

- ``app`` — as in ``tests/conftest.py`` (fresh migrated database, the village seeded), but built with
  real CSRF protection, as in production; ``make_user``, ``make_household`` … use it too.
- ``live_server`` — that app served by waitress in a background thread; ``.url`` is its address.
- ``browser`` (session) — Chromium at ``/usr/bin/chromium`` (never a downloaded one).
- ``page`` — a desktop tab (1280×800); ``phone`` — a cheap Android phone (360×740, touch, 2× pixels).
  Both open pages relative to the live server (``page.goto("/households/")``) in Chinese.
- ``chair`` — the user name of a new village chair (password ``tests.conftest.PASSWORD``).
- ``village_https`` — the app served as a village serves itself: HTTPS and plain HTTP with cheroot, its
  CA in the instance folder (:func:`tests.tls_live.serving_https`; ``.https_url`` is
  ``https://village.lan:<port>``); ``trusting_browser`` — a Chromium of its own that trusts that CA
  and resolves ``village.lan`` to 127.0.0.1 (:func:`tests.tls_live.chromium_trusting`, which takes
  extra launch arguments, e.g. a fake camera's).

Helpers: :func:`login`, :func:`horizontal_overflow`, :func:`console_errors`, :func:`screenshot`.
Every test in this directory carries the ``browser`` marker; a failed test leaves a full-page
screenshot of each of its pages in ``tests/artifacts/<test name>.png``.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect, sync_playwright

from ..conftest import IN_CI, PASSWORD
from ..live import serving
from ..tls_live import chromium_trusting, serving_https

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "artifacts"
CHROMIUM = os.environ.get("POINTSMART_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: how long an action or a navigation may take before the test fails (ms); a local server is fast
TIMEOUT_MS = 10_000

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
#: a cheap Android phone, as the families and the shopkeeper use
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "screen": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36"
    ),
}


# --- marking and failure screenshots ---------------------------------------------------------------


def _ours(item) -> bool:
    return HERE in Path(item.path).resolve().parents


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _ours(item):
            item.add_marker(pytest.mark.browser)


def _artifact_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "page"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """When a test fails, keep a full-page screenshot of each of its pages (before teardown closes them)."""
    report = yield
    if report.when == "call" and report.failed and _ours(item):
        pages = [(name, value) for name, value in item.funcargs.items() if isinstance(value, Page)]
        for index, (fixture, page) in enumerate(pages):
            stem = _artifact_name(item.name) + ("" if index == 0 else f"-{fixture}")
            try:
                path = screenshot(page, stem)
            except PlaywrightError as exc:  # a crashed or closed page: the failure itself matters more
                report.sections.append(("screenshot", f"could not keep a screenshot of {fixture}: {exc}"))
            else:
                report.sections.append(("screenshot", f"{fixture} ({page.url}): {path}"))
    return report


# --- the server ------------------------------------------------------------------------------------


@pytest.fixture
def app(app, make_app):
    """The app of ``tests/conftest.py`` but with CSRF on: the browser fetches and posts real tokens.

    The parent fixture has already emptied the database and seeded the village; this app is built on the
    same database with ``make_app``, which disposes it after the test.
    """
    # The scoring flows move the clock weeks ahead (notice periods) within one log-in.
    return make_app(WTF_CSRF_ENABLED=True, POINTSMART_SESSION_DAYS=90)


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture
def live_server(app):
    """Serve the test's app with waitress (4 threads) on 127.0.0.1 and a free port; stop it afterwards."""
    with serving(app, threads=4) as url:
        yield LiveServer(url, app)


@pytest.fixture
def village_https(app):
    """The test's app served over HTTPS and plain HTTP (moving browsers to HTTPS) by cheroot."""
    with serving_https(app) as village:
        yield village


# --- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright():
    if not os.access(CHROMIUM, os.X_OK):
        message = f"no Chromium at {CHROMIUM}: run `make browser-deps` (Debian's chromium and a CJK font)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


_console: dict[int, list[str]] = {}


def _open(browser, live_server, options: dict):
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = _console[id(page)] = []

    def on_console(msg):
        source = msg.location.get("url") or "?"
        if msg.type == "error":
            errors.append(f"{msg.text} [{source}] on {page.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"{exc} on {page.url}"))
    return context, page


@pytest.fixture
def page(browser, live_server):
    """A desktop browser tab (1280×800, Chinese) on the live server."""
    context, page = _open(browser, live_server, DESKTOP)
    yield page
    _console.pop(id(page), None)
    context.close()


@pytest.fixture
def phone(browser, live_server):
    """A cheap Android phone (360×740, touch, device pixel ratio 2, Chinese) on the live server."""
    context, page = _open(browser, live_server, PHONE)
    yield page
    _console.pop(id(page), None)
    context.close()


@pytest.fixture
def trusting_browser(playwright, village_https):
    """A Chromium of its own whose NSS database trusts the village's CA (``village.lan`` → 127.0.0.1)."""
    with chromium_trusting(playwright, village_https.ca_file) as browser:
        yield browser


@pytest.fixture
def chair(make_user):
    """The user name of a new chair of the test village."""
    return make_user("chair")[1]


# --- helpers ---------------------------------------------------------------------------------------


def login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the real form, as a person would, and wait until the app shows the user logged in."""
    if "/login" not in page.url:
        page.goto("/login")
    page.get_by_label("用户名", exact=True).fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("button", name="退出", exact=True)).to_be_visible()


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0 or less: nothing to scroll sideways)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def console_errors(page: Page) -> list[str]:
    """Errors the page logged to the console (CSP violations, failed loads, script errors) so far."""
    return list(_console.get(id(page), []))


def screenshot(page: Page, name: str) -> Path:
    """Keep a full-page screenshot as ``tests/artifacts/<name>.png`` for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{_artifact_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
