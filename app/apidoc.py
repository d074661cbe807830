"""The OpenAPI document tells the whole truth: every operation lists every answer it can give.

flask-smorest documents what each view declares (its answer, its `alt_response`s, 422 for a bad
body). The answers that come from app-wide code rather than from the view are added here, to
every operation alike, so that a client (and the schema fuzzer, tests/fuzz) can rely on them:

- 401 (signed out) on every operation that needs a sign-in, 403 when the policy denies some role;
- 400 for a query string that fails validation, and on unsafe methods for a body that is not
  JSON or a missing CSRF token (cookie sessions); 413 and 415 for bodies (app/ops/guards.py);
- 404 when the path has parameters (a value the route's converter refuses never matches);
- 503 when the database is unavailable or a query hits the statement timeout (app/errors.py).

Every error has the one shape of app/errors.py, so one schema (`Error`) describes them all.
"""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields

BODY_METHODS = frozenset({"post", "put", "patch"})
UNSAFE_METHODS = BODY_METHODS | {"delete"}
# Endpoints that never touch the database (liveness must stay up while the database is down).
NO_DATABASE = frozenset({"ops.live"})
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "API 令牌：POST /api/v1/auth/tokens 或 flask users token create",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "gridgov_session",
        "description": "浏览器登录会话（修改类请求须带 X-CSRFToken）",
    },
}
SIGNED_IN = [{"bearerAuth": []}, {"cookieAuth": []}]

DESCRIPTIONS = {
    400: "请求有误：查询参数无效、JSON 无法解析或缺少 CSRF 令牌",
    401: "需要登录：缺少或无效的令牌/会话",
    403: "无权执行此操作",
    404: "未找到（路径参数无效，或对象不存在/不在辖区内）",
    413: "请求内容过大（MAX_CONTENT_LENGTH）",
    415: "不支持的内容类型：请使用 application/json",
    503: "数据库暂不可用或查询超时，请稍后重试",
}


class ErrorSchema(Schema):
    """The one error shape of every answer from 400 up (app/errors.py)."""

    code = fields.Integer(required=True, metadata={"description": "HTTP 状态码"})
    status = fields.String(required=True, metadata={"description": "状态名，如 Not Found"})
    message = fields.String(required=True, metadata={"description": "给人看的说明（中文）"})
    errors = fields.Dict(
        required=True, metadata={"description": "按字段或位置的详细错误，如 errors.json.title"}
    )


def view_access(view) -> tuple[str | None, bool]:
    """('public' or the policy action a view requires, or None; whether every role may).

    Read from what app.policy's decorators mark on the view (following decorator wrappers), so
    the document needs nothing of the policy module itself.
    """
    while view is not None:
        if getattr(view, "policy_public", False):
            return "public", True
        if getattr(view, "policy_action", None):
            return view.policy_action, getattr(view, "policy_everyone", False)
        view = getattr(view, "__wrapped__", None)
    return None, False


def standard_errors(
    method: str, access: str | None, path_args: bool, queried: bool, everyone: bool = False
) -> list:
    """The status codes an operation can answer whatever its view does."""
    codes = []
    if access != "public":
        codes.append(401)
        if not everyone:
            codes.append(403)
    if queried or method in UNSAFE_METHODS:
        codes.append(400)
    if method in BODY_METHODS:
        codes += [413, 415]
    if path_args:
        codes.append(404)
    return codes


def complete_operation(doc: dict, doc_info: dict, method: str) -> dict:
    """Add the standard error answers and the security requirement to one operation's doc.

    `doc_info` is what the view's decorators recorded, plus the route facts that
    app.extensions.Blueprint adds under "route" (endpoint, access, everyone, path_args).
    """
    route = doc_info.get("route", {})
    arguments = (doc_info.get("arguments") or {}).get("parameters", [])
    queried = any(p.get("in") == "query" for p in arguments if isinstance(p, dict))
    codes = standard_errors(
        method,
        route.get("access"),
        route.get("path_args", False),
        queried,
        route.get("everyone", False),
    )
    if route.get("endpoint") not in NO_DATABASE:
        codes.append(503)
    responses = doc.setdefault("responses", {})
    present = {str(code) for code in responses}
    for code in codes:
        if str(code) not in present:
            responses[code] = {
                "description": DESCRIPTIONS[code],
                "content": {"application/json": {"schema": ErrorSchema}},
            }
    doc["security"] = [] if route.get("access") == "public" else SIGNED_IN
    return doc
