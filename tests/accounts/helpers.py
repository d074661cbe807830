"""Sign-in helpers for tests."""

import re

from tests.factories import PASSWORD

COOKIE = "gridgov_session"


def csrf_from(page_html: str) -> str:
    """The CSRF token embedded in a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "no CSRF token in page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Sign in through the login form; returns the response."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def csrf_header(client) -> dict:
    """The X-CSRFToken header for cookie-authenticated API calls (from /api/v1/me)."""
    return {"X-CSRFToken": client.get("/api/v1/me").get_json()["csrf_token"]}


def copy_cookie(source, target) -> None:
    """Give `target` the session cookie `source` holds (a stolen or copied cookie)."""
    cookie = source.get_cookie(COOKIE)
    assert cookie is not None
    target.set_cookie(COOKIE, cookie.value)
