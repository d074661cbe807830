"""One domain error hierarchy: what cannot be done, with a status, a message and field errors.

Services raise these; the API answers them in the standard JSON shape (app/errors.py) and the
pages re-render their form with the message beside the field. Nothing here knows about HTTP
beyond the status number each kind of refusal maps to.
"""

from __future__ import annotations

from http import HTTPStatus

from flask_babel import gettext

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
    428: "缺少版本号",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


def default_message(status: int) -> str:
    """The product's default message for a status, in the request's language."""
    message = MESSAGES.get(status)
    return gettext(message) if message else HTTPStatus(status).phrase


class DomainError(Exception):
    """A request that cannot be done: status, message, and field errors ({"json": {...}})."""

    status = 400

    def __init__(self, *args, errors: dict | None = None, **kwargs):
        # Accepts DomainError(message), DomainError(status, message[, errors]) and keywords,
        # so the subclasses read naturally: NotFound("事件不存在"), Conflict(msg, errors=...).
        status = kwargs.pop("status", None)
        message = kwargs.pop("message", None)
        if args and isinstance(args[0], int):
            status, args = args[0], args[1:]
        if args:
            message, args = args[0], args[1:]
        if args:
            errors, args = args[0], args[1:]
        if args or kwargs:
            raise TypeError("DomainError(status?, message?, errors?)")
        super().__init__(message)
        self.status = status or type(self).status
        self.message = message or default_message(self.status)
        self.errors = errors or {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r}, {self.errors!r})"


class BadRequest(DomainError):
    """The request itself is malformed (query string, header)."""

    status = 400


class Forbidden(DomainError):
    """The caller's role or level may not do this."""

    status = 403


class NotFound(DomainError):
    """No such object, or one outside the caller's jurisdiction (answered alike)."""

    status = 404


class Conflict(DomainError):
    """The object's state (or version) does not allow this now."""

    status = 409


class Invalid(DomainError):
    """The submitted data is wrong: `errors` names each field and what is allowed."""

    status = 422


class PreconditionRequired(DomainError):
    """The version the caller saw is missing (If-Match or `version`)."""

    status = 428


def stale(yours, current=None, message: str | None = None) -> Conflict:
    """The 409 for an object changed by someone else since the caller saw it."""
    detail = {"yours": yours}
    if current is not None:
        detail["current"] = current
    return Conflict(message or "已被他人修改，请刷新后重试", errors={"version": detail})
