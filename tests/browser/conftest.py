"""Browser tests: a real server on a scratch database with the demo county, and Debian's chromium.

Every page a test opens is watched: a request to any host but the test server, a Content-Security-
Policy violation or an uncaught script error fails the test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from dataclasses import field

import pytest

from tests.browser.server import launch
from tests.browser.server import log_tail
from tests.browser.server import prepare
from tests.browser.server import running_server
from tests.browser.server import scratch_database
from tests.browser.server import sign_in

# A service worker's own requests are routable (test_offline.py cuts them off: Playwright's
# set_offline does not reach the worker). Read when the Playwright driver starts.
os.environ.setdefault("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")

PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 860}


@pytest.fixture(scope="session")
def live_server(database_url):
    """(base URL, database URL) of a GridGov server with the demo county, accounts and cases."""
    with scratch_database(database_url, "browser") as database:
        prepare(database)
        with running_server(database) as base:
            yield base, database


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report ends with what its server logged last (each request's
    status and duration, any error): a form that timed out says whether the server was slow,
    failed, or never saw the request."""
    outcome = yield
    report = outcome.get_result()
    server = item.funcargs.get("live_server") if hasattr(item, "funcargs") else None
    if report.failed and server:
        report.sections.append(("live server log (last lines)", log_tail(server[0])))


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, launched once for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What the pages of one browser context asked for and complained about."""

    base: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        """Requests to anything but the test server (data: and blob: URLs stay in the page)."""
        return [
            url
            for url in self.requests
            if not url.startswith(self.base + "/") and not re.match(r"^(data|blob):", url)
        ]


def watch_page(page, watch: Watch) -> None:
    """Record a page's script errors and Content-Security-Policy violations."""
    page.on("pageerror", lambda error: watch.problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            watch.problems.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )


@pytest.fixture
def open_as(browser, live_server):
    """open_as(username, viewport) -> page: a signed-in page in a fresh, watched context;
    username None for a resident (no account, no sign-in)."""
    base, _ = live_server
    opened = []

    def opener(username: str | None, viewport: dict | None = None):
        phone = viewport is not None and viewport["width"] < 500
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale="zh-CN", has_touch=phone, is_mobile=phone
        )
        watch = Watch(base)
        opened.append((context, watch))
        context.on("request", lambda request: watch.requests.append(request.url))
        context.on("page", lambda page: watch_page(page, watch))
        page = context.new_page()
        # 30 s: in this session's fresh-clone CI runs, with the other xdist worker busy, a form's
        # answer twice took over 15 s (a resolve, a dispatch; each test passes alone). Cause not
        # found yet: bench/NOTES.md and the issue note say what is known.
        page.set_default_timeout(30000)
        if username is not None:
            sign_in(page, base, username)
        return page

    yield opener
    for context, watch in opened:
        context.close()
        assert not watch.outside(), f"requests left 127.0.0.1: {watch.outside()}"
        assert not watch.problems, watch.problems


@pytest.fixture
def open_public(open_as):
    """open_public(viewport) -> page: an anonymous resident's page in a fresh, watched context."""
    return lambda viewport=None: open_as(None, viewport)
