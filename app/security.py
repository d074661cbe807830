"""Security headers, CSP nonces, CSRF for cookie-authenticated requests, secure cookies."""

from __future__ import annotations

import secrets

from flask import Flask
from flask import g
from flask import get_flashed_messages
from flask import request
from flask import session
from flask.sessions import SecureCookieSessionInterface

from app.extensions import csrf
from app.geo import basemaps

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def csp_nonce() -> str:
    """This request's CSP nonce, for inline scripts (folium's among them)."""
    if "csp_nonce" not in g:
        g.csp_nonce = new_nonce()
    return g.csp_nonce


def new_nonce() -> str:
    """A fresh CSP nonce."""
    return secrets.token_urlsafe(16)


def tile_sources(config) -> str:
    """The CSP img-src sources of the configured base map's hosts ('' when tiles are off)."""
    return " ".join(basemaps.from_config(config).csp_sources())


def has_bearer() -> bool:
    """True when the request authenticates with a bearer token (not a cookie)."""
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


# What the service worker's warm fetches of the field pages send (app/static/js/sw.js `warm`).
WARM_HEADER = "X-GridGov-Warm"


def is_warm_fetch() -> bool:
    """True for the service worker fetching a field page to keep for offline use, not a person
    opening it: such a fetch runs beside whatever the person does (a form just sent), so it
    must neither show (and so take) the flashed messages nor write the session cookie, or the
    answer to that form would lose its message (the browser tests' lost `.flash`)."""
    return request.headers.get(WARM_HEADER) == "1"


def page_flashes() -> list:
    """The flashed messages a page shows (and so takes off the session): none for a warm
    fetch, which leaves them to the page the person opens next."""
    return [] if is_warm_fetch() else get_flashed_messages(with_categories=True)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure when configured, or when this request is HTTPS."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def save_session(self, app: Flask, session, response) -> None:
        """As Flask saves it, except for a warm fetch (`is_warm_fetch`): no cookie at all, so
        an answer made from an older cookie never replaces the one a form just set."""
        if is_warm_fetch():
            return
        super().save_session(app, session, response)


def init_security(app: Flask) -> None:
    """Register the CSRF check, the headers and the session interface."""
    app.session_interface = SessionInterface()
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["page_flashes"] = page_flashes

    @app.before_request
    def protect_cookie_requests_from_csrf():
        # CSRF rides on cookies: bearer requests are exempt, and so are API calls that carry no
        # login session at all (they fail authentication instead). Forms always need a token.
        if request.method not in UNSAFE_METHODS or has_bearer():
            return
        # A request that matches no route changes nothing: it keeps its own 404 or 405.
        if request.routing_exception is not None:
            return
        # Open311 (/open311/v2/) authenticates by its api_key parameter, never by the cookie.
        if request.path.startswith(("/api/", "/open311/")) and "_user_id" not in session:
            return
        csrf.protect()

    @app.after_request
    def add_security_headers(response):
        headers = response.headers
        for name, value in security_headers(app.config, csp_nonce(), request.is_secure):
            headers[name] = value
        if not request.path.startswith("/static/") and "Cache-Control" not in headers:
            # Pages and API answers may carry personal data: never stored by browsers or proxies.
            headers["Cache-Control"] = "no-store"
        return response


def security_headers(config, nonce: str, secure: bool) -> list[tuple[str, str]]:
    """The headers every answer carries (also the cached-tile path's, app/tiles/fast.py)."""
    csp = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # Leaflet positions tiles and markers with inline styles.
        "style-src 'self' 'unsafe-inline'",
        # Exactly the base map's tile hosts (docs/maps.md), read per request.
        f"img-src 'self' data: blob: {tile_sources(config)}".rstrip(),
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    headers = [
        ("Content-Security-Policy", "; ".join(csp)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # Origin only across sites: tile servers (OSM's policy) want to know who asks.
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()"),
    ]
    if secure:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers
