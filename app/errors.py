"""One JSON error shape for the API: {"code", "status", "message", "errors"}."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask
from flask import current_app
from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from flask_wtf.csrf import CSRFError
from psycopg2.errors import QueryCanceled
from psycopg2.errors import ReadOnlySqlTransaction
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.core import transaction
from app.core.errors import MESSAGES
from app.core.errors import DomainError
from app.core.errors import default_message
from app.extensions import db

log = logging.getLogger(__name__)

# Services raise the domain errors (app/core/errors.py); the API answers them in this shape.
ApiError = DomainError


def wants_json() -> bool:
    """API and machine clients get JSON; browsers on pages get an HTML page."""
    if request.path.startswith(("/api/", "/healthz", "/metrics")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, message: str | None = None, errors: dict | None = None):
    """Build the standard error response (a page in the product's language for browsers)."""
    message = message or default_message(status)
    if not wants_json():
        try:
            return render_template("error.html", code=status, message=message), status
        except Exception:  # noqa: BLE001 - a broken page must not hide the original error
            log.exception("error page failed to render")
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "errors": string_keys(errors or {}),
    }
    return jsonify(body), status


def database_unavailable(message: str):
    """A 503 for a database that cannot answer now, with Retry-After (DB_RETRY_AFTER_SECONDS)."""
    response = make_response(error_response(503, message))
    response.headers["Retry-After"] = str(current_app.config.get("DB_RETRY_AFTER_SECONDS", 5))
    return response


def connection_lost(exc: DBAPIError) -> bool:
    """Whether a database error means the server went away (or is no longer the primary).

    A dropped connection (the server killed, a network cut), a connection already closed, or a
    write that reached a server now read-only (a standby after a failover): the client's retry,
    with the same Idempotency-Key, is answered by the new primary (docs/operations.md).
    """
    return (
        isinstance(exc, OperationalError | InterfaceError)
        or exc.connection_invalidated
        or isinstance(exc.orig, ReadOnlySqlTransaction)
    )


def string_keys(value):
    """The same errors with every mapping key a string.

    marshmallow keys a list item's errors by its index (an int) beside "_schema" or field names;
    JSON would make them strings anyway, but sorting mixed keys while encoding raises TypeError,
    which turned a plain 422 into a 500.
    """
    if isinstance(value, dict):
        return {str(key): string_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [string_keys(item) for item in value]
    return value


def register_errorhandlers(app: Flask) -> None:
    """Answer every error in the standard shape and roll back the request's transaction."""

    # Teardown functions run in reverse order of registration: this one before
    # Flask-SQLAlchemy's, which would otherwise roll back on a connection the database dropped
    # after the answer was made (a restart at the wrong moment) and turn it into a bare 500.
    @app.teardown_appcontext
    def end_session_quietly(exc):
        try:
            db.session.remove()
        except Exception:  # noqa: BLE001 - the answer is made; the connection is the pool's
            log.warning("database connection lost while ending the request", exc_info=True)
            db.session.registry.clear()

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        transaction.abort()
        return error_response(exc.status, exc.message, exc.errors)

    @app.errorhandler(StaleDataError)
    def handle_stale_row(exc: StaleDataError):
        # A version that went stale between reading and writing (optimistic locking at flush).
        transaction.abort()
        return error_response(409, "已被他人修改，请刷新后重试")

    @app.errorhandler(CSRFError)
    def handle_csrf_error(exc: CSRFError):
        transaction.abort()
        return error_response(400, "CSRF 校验失败：请刷新页面后重试", {"csrf": [exc.description]})

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        transaction.abort()
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages") or data.get("errors") or {}
        message = data.get("message")
        if message is None and exc.code not in MESSAGES:
            message = exc.description
        response, status = error_response(exc.code or 500, message, errors)
        for key, value in (data.get("headers") or {}).items():
            response.headers[key] = value
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response, status

    @app.errorhandler(OperationalError)
    def handle_database_unavailable(exc: OperationalError):
        transaction.abort()
        if isinstance(exc.orig, QueryCanceled):
            # statement_timeout (DB_STATEMENT_TIMEOUT_MS) cut a query short: the server is
            # overloaded or the request asks for too much; either way a retry later may work.
            log.warning(
                "query cancelled (statement timeout) on %s %s", request.method, request.path
            )
            return database_unavailable("查询超时，请缩小查询范围或稍后重试")
        # A lost or refused database connection: a clean 503, never a stack trace.
        log.warning("database unavailable during %s %s", request.method, request.path)
        return database_unavailable("数据库暂不可用，请稍后重试")

    @app.errorhandler(DBAPIError)
    def handle_database_error(exc: DBAPIError):
        # The other driver errors: a connection closed under the request, or a write refused by
        # a server that is read-only now (after a failover), is a 503 as above; the rest a 500.
        if not connection_lost(exc):
            return handle_unexpected(exc)
        transaction.abort()
        log.warning(
            "database connection lost during %s %s: %s",
            request.method,
            request.path,
            type(exc.orig).__name__,
        )
        return database_unavailable("数据库暂不可用，请稍后重试")

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        transaction.abort()
        return error_response(500)
