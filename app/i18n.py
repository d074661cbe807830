"""Languages of the pages: Simplified Chinese by default, complete English on request.

The choice lives in a cookie set by the language switch in the page header. Messages are in
app/translations (English catalogue; the Chinese source strings are the default).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask
from flask import has_request_context
from flask import redirect
from flask import request
from flask_babel import get_locale

from app.accounts.views import safe_next
from app.extensions import babel
from app.policy import public

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
COOKIE = "gridgov_lang"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    """The language from the switch's cookie; Chinese otherwise (the product's language).

    Outside a request (commands, the sweep) services still produce messages: in Chinese.
    """
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = request.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    """'zh' or 'en' for this request."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def html_lang() -> str:
    """The page's `lang` attribute."""
    return "zh-CN" if current_language() == "zh" else "en"


def init_i18n(app: Flask) -> None:
    """Bind Flask-Babel and expose the language helpers to templates."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        LANGUAGES=LANGUAGES, current_language=current_language, html_lang=html_lang
    )


@bp.route("/language/<code>")
@public
def switch(code: str):
    """Switch the pages' language and go back where the user was."""
    response = redirect(safe_next(request.args.get("next")))
    if code in LANGUAGES:
        # A preference, not a credential: readable by page scripts is fine; a year long.
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax")
    return response
