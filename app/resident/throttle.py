"""Rate limits of the public lookup (Flask-Limiter, as app/accounts/throttle.py does for sign-in).

Two limits, both must hold: every lookup or rating counts against the client's address
(RESIDENT_LIMIT_ADDRESS), and every wrong number or code counts against the number it named
(RESIDENT_LIMIT_NUMBER), so guesses spread over many addresses still stop on one number.
"""

from __future__ import annotations

from flask import current_app
from flask import request

from app.extensions import limiter


def submitted_number() -> str:
    """The case number a lookup names (JSON body, form or the page's path), normalised."""
    data = request.get_json(silent=True) if request.is_json else request.form
    value = data.get("number", "") if hasattr(data, "get") else ""
    value = value or (request.view_args or {}).get("number", "")
    return str(value).strip().upper()[:24]


def _number_key() -> str:
    return "receipt:" + submitted_number()


def _failed(response) -> bool:
    # A wrong code or an unknown number is a 404; a resident who types right is never blocked
    # by someone guessing at their number from elsewhere beyond this limit.
    return response.status_code == 404


def lookup_throttled(view):
    """At most RESIDENT_LIMIT_ADDRESS lookups per address, RESIDENT_LIMIT_NUMBER failures per
    number."""
    view = limiter.shared_limit(
        lambda: current_app.config["RESIDENT_LIMIT_NUMBER"],
        key_func=_number_key,
        scope="resident-number",
        deduct_when=_failed,
    )(view)
    return limiter.shared_limit(
        lambda: current_app.config["RESIDENT_LIMIT_ADDRESS"], scope="resident-address"
    )(view)
