"""One JSON error shape for the API: {"code", "status", "message", "errors"}."""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask
from flask import jsonify
from flask import request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.extensions import db

log = logging.getLogger(__name__)

# Default messages in the product's language, by status.
MESSAGES = {
    400: "请求有误",
    401: "需要登录",
    403: "无权执行此操作",
    404: "未找到",
    405: "不支持此请求方法",
    409: "与当前状态冲突",
    413: "请求内容过大",
    415: "不支持的内容类型",
    422: "提交的数据有误",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


class ApiError(Exception):
    """An error answered to the client in the standard shape."""

    def __init__(self, status: int, message: str | None = None, errors: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message or MESSAGES.get(status, HTTPStatus(status).phrase)
        self.errors = errors or {}


def error_response(status: int, message: str | None = None, errors: dict | None = None):
    """Build the standard error response."""
    body = {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message or MESSAGES.get(status, HTTPStatus(status).phrase),
        "errors": errors or {},
    }
    return jsonify(body), status


def _rollback_quietly() -> None:
    """Roll back, even when the connection itself is gone."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the original error is the one to report
        log.debug("rollback failed", exc_info=True)


def register_errorhandlers(app: Flask) -> None:
    """Answer every error in the standard shape and roll back the request's transaction."""

    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        db.session.rollback()
        return error_response(exc.status, exc.message, exc.errors)

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        db.session.rollback()
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
        # A lost or refused database connection: a clean 503, never a stack trace.
        log.warning("database unavailable during %s %s", request.method, request.path)
        _rollback_quietly()
        return error_response(503, "数据库暂不可用，请稍后重试")

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        _rollback_quietly()
        return error_response(500)
