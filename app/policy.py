"""The one permission policy: which role may do which action. Default deny.

Object-level jurisdiction is the scoping helper's job (app/scoping.py): an object outside the
caller's region subtree answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import click
from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from flask_login import current_user

from app.accounts.models import ROLES
from app.audit import services as audit
from app.core.errors import DomainError
from app.docgen import replace_generated

ALL = frozenset(ROLES)
FIELD = frozenset({"grid_worker", "mediator", "official"})
# Department staff (shared/DOMAIN.md §8) read and act only on the cases sent to their unit
# (app/scoping.py): the workflow and dispatch tables say which actions are theirs.
UNIT = frozenset({"department_staff"})
CENTRE = frozenset({"mediator", "official"})

# action → roles allowed. An action missing here is denied to everyone.
PERMISSIONS: dict[str, frozenset[str]] = {
    # geography: read by everyone in scope; changed by admins
    "geo.read": ALL - UNIT,
    "geo.manage": frozenset({"admin"}),
    # one's own account: profile, password, API tokens
    "account.self": ALL,
    # user administration within the admin's region subtree
    "users.read": frozenset({"admin"}),
    "users.manage": frozenset({"admin"}),
    # the audit log
    "audit.read": frozenset({"admin", "official"}),  # the page /audit and its CSV, in scope
    # cases: report, read and act (the workflow table refines each action by role and level)
    "cases.report": FIELD,
    "cases.read": FIELD | UNIT,
    "cases.act": FIELD | UNIT,
    # personal data in full, and the ledger export: handlers and officials only
    "cases.reveal": frozenset({"mediator", "official"}),
    "cases.export": frozenset({"mediator", "official"}),
    "metrics.read": frozenset({"mediator", "official"}),
    # the deadline policy and holiday calendar: read by staff, changed by admins
    "deadlines.read": ALL,
    "deadlines.manage": frozenset({"admin"}),
    # risk points (docs/risks.md): field staff register, inspect and read them in scope;
    # officials clear them; handlers and officials export the ledger; admins keep the settings
    "risks.read": FIELD,
    "risks.register": FIELD,
    "risks.inspect": FIELD,
    "risks.approve": frozenset({"official"}),
    # the exact place of a key-population point: the grid worker who visits, the official who
    # coordinates (audited; others see the grid cell's point)
    "risks.locate": frozenset({"grid_worker", "official"}),
    "risks.export": frozenset({"mediator", "official"}),
    "risks.categories": ALL,
    "risks.manage": frozenset({"admin"}),
    # attachments: the owner's visibility decides (app/attachments/services.py)
    "attachments.read": FIELD | UNIT,
    # departments (职能部门) and their routing rules: read by staff; kept by admins
    "departments.read": ALL,
    "departments.manage": frozenset({"admin"}),
    # dispatches (分拨交办): the centre sends and reviews, units sign, return and report back
    # (the dispatch table in app/cases/workflow.py refines each step by role and level)
    "dispatch.read": FIELD | UNIT,
    "dispatch.act": CENTRE | UNIT,
    # one's own tasks and notifications
    "tasks.read": ALL,
    "notifications.self": ALL,
    # written notices (issue 15 item 5, docs/notices.md): admins keep the templates; generating
    # a notice names the parties in full, so it needs `cases.reveal` in scope
    "notices.manage": frozenset({"admin"}),
    # 工作简报 (briefings slice, docs/briefings.md): officials brief their scope; admins keep the
    # template
    "briefings.read": frozenset({"official"}),
    "briefings.create": frozenset({"official"}),
    "briefings.template": frozenset({"admin"}),
    # campaigns (专项排查, docs/campaigns.md): officials launch and close them over their region;
    # field staff read them in scope; the cell's grid workers record findings; ledger export
    "campaigns.read": FIELD,
    "campaigns.launch": frozenset({"official"}),
    "campaigns.record": frozenset({"grid_worker"}),
    "campaigns.export": frozenset({"mediator", "official"}),
    # 研判预警 (issue 16 item 1, docs/warnings.md): handlers and officials read warnings in
    # scope; officials acknowledge and handle them; admins keep the rules (thresholds)
    "warnings.read": frozenset({"mediator", "official"}),
    "warnings.act": frozenset({"official"}),
    "warnings.manage": frozenset({"admin"}),
    # selfreport (issue 15 item 4, 随手拍): the cell's grid workers and the village/town staff
    # above it read, verify and decline residents' reports (app/resident/selfreports.py)
    "selfreports.read": FIELD,
    "selfreports.act": FIELD,
    # --- visits and assessment (issue 16 items 3 and 5; docs/visits.md, docs/assessment.md) ---
    # grid workers log household visits; field staff read them in scope; officials review them
    "visits.log": frozenset({"grid_worker"}),
    "visits.read": FIELD,
    "visits.review": frozenset({"official"}),
    # monthly scores: a worker their own, officials their scope's ranking; admins set weights
    "assessment.read": frozenset({"grid_worker", "official"}),
    "assessment.weights": ALL - UNIT,
    "assessment.manage": frozenset({"admin"}),
    # --- ledger import (issue 17 item 3, docs/imports.md): admins of a county or above ---
    "ledger.import": frozenset({"admin"}),
    # --- cameras (issue 17 item 4, 雪亮工程; docs/cameras.md): field staff and admins read
    # them in scope; admins register, change and import them
    "cameras.read": FIELD | {"admin"},
    "cameras.manage": frozenset({"admin"}),
    # --- privacy (issue 19: retention; docs/privacy.md): admins set the policies, see the plan
    "retention.manage": frozenset({"admin"}),
}

ACTION_NAMES = {
    "geo.read": "查看区划与网格",
    "geo.manage": "维护区划与网格",
    "account.self": "本人账号（资料、密码、令牌）",
    "users.read": "查看用户",
    "users.manage": "管理用户（创建、停用、重置密码、令牌）",
    "audit.read": "查看审计日志",
    "cases.report": "上报事件",
    "cases.read": "查看事件",
    "cases.act": "办理事件（按流程表细分）",
    "cases.reveal": "查看当事人完整信息（留痕）",
    "cases.export": "导出台账（留痕）",
    "metrics.read": "查看考核指标",
    "deadlines.read": "查看期限规则与节假日",
    "deadlines.manage": "维护期限规则与节假日",
    "risks.read": "查看风险点与网格风险地图",
    "risks.register": "登记风险点、调整等级、申请消除",
    "risks.inspect": "录入排查记录",
    "risks.approve": "审批消除风险点（或直接消除）",
    "risks.locate": "查看重点人群风险点的确切位置（留痕）",
    "risks.export": "导出风险隐患排查台账（留痕）",
    "risks.categories": "查看风险类别",
    "risks.manage": "维护风险类别与排查周期",
    "attachments.read": "下载附件（须能查看其所属对象）",
    "departments.read": "查看职能部门与分拨规则",
    "departments.manage": "维护职能部门与分拨规则",
    "dispatch.read": "查看分拨记录",
    "dispatch.act": "分拨交办、签收、退回、反馈、核查（按分拨流程表细分）",
    "tasks.read": "我的待办",
    "notifications.self": "本人通知与提醒设置",
    "notices.manage": "维护书面告知文书模板",
    "briefings.read": "查看并下载工作简报",
    "briefings.create": "生成工作简报",
    "briefings.template": "维护工作简报模板",
    "campaigns.read": "查看专项排查及进度",
    "campaigns.launch": "发起、结束专项排查",
    "campaigns.record": "录入专项排查发现（本网格）",
    "campaigns.export": "导出专项排查台账（留痕）",
    "warnings.read": "查看研判预警与预警地图",
    "warnings.act": "签收、处置研判预警",
    "warnings.manage": "维护预警规则（阈值）",
    "selfreports.read": "查看随手拍（网格员：本网格）",
    "selfreports.act": "核实随手拍（立案）或不予受理",
    "visits.log": "记录走访（民情日志）",
    "visits.read": "查看走访记录与走访覆盖",
    "visits.review": "审阅走访记录",
    "assessment.read": "查看网格员考核（本人或辖区排名）",
    "assessment.weights": "查看考核权重",
    "assessment.manage": "维护考核权重",
    "ledger.import": "导入历史台账（留痕）",
    "cameras.read": "查看雪亮工程摄像机点位",
    "cameras.manage": "登记、修改、导入摄像机点位",
    "retention.manage": "维护个人信息保存期限，查看去标识化计划",
}


# Endpoints of others open to everyone, by name: the API description, static files.
# (Views of our own, the health probes and /metrics among them, mark themselves with @public.)
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "api-docs.openapi_json",
        "api-docs.openapi_swagger_ui",
    }
)


def allows(role: str | None, action: str) -> bool:
    """True when the role may perform the action; unknown roles and actions are denied."""
    return role in PERMISSIONS.get(action, frozenset())


def is_api_request() -> bool:
    """API callers get JSON errors; browsers get pages and redirects."""
    return request.path.startswith("/api/")


def requires(action: str, *, holder: Callable[[], object | None] | None = None) -> Callable:
    """Decorate a view: 401 (or the login page) when signed out, 403 + audit when not allowed.

    `holder`, when given, may vouch for the caller without loading the user: it returns an
    object with a `role` (a signed tile key, app/tiles/keys.py) or None, and the view finds it
    in `g.holder`. A request it does not vouch for is checked as usual.
    """
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}: add it to app/policy.py PERMISSIONS")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            vouched = holder() if holder is not None else None
            if vouched is not None and allows(vouched.role, action):
                g.holder = vouched
                return view(*args, **kwargs)
            if not current_user.is_authenticated:
                if is_api_request():
                    raise DomainError(401, "需要登录：请提供有效的登录会话或 Bearer 令牌")
                return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
            if not allows(current_user.role, action):
                deny(action)
            return view(*args, **kwargs)

        wrapper.policy_action = action
        # For the API document (app/apidoc.py), which cannot read this module: can it be 403?
        wrapper.policy_everyone = PERMISSIONS[action] == ALL
        return wrapper

    return decorator


def public(view):
    """Mark a view as open to everyone (it must still never leak people's data)."""
    view.policy_action = None
    view.policy_public = True
    return view


def deny(
    action: str,
    object_type: str | None = None,
    object_id=None,
    status: int = 403,
    message: str | None = None,
):
    """Audit a denial (kept through the request's rollback) and answer 403, or for out-of-scope
    objects 404 with the same message a missing object gets."""
    audit.record(
        action,
        outcome="denied",
        object_type=object_type,
        object_id=object_id,
        region_code=getattr(getattr(current_user, "region", None), "code", None),
        detail={"path": request.path, "method": request.method},
        keep=True,
    )
    if status == 404:
        raise DomainError(404, message or "未找到")
    raise DomainError(403, f"无权执行此操作（{ACTION_NAMES.get(action, action)}）")


def view_action(endpoint: str) -> tuple[bool, str | None]:
    """(is_public, action) declared on an endpoint's view, following decorator wrappers."""
    if endpoint in PUBLIC_ENDPOINTS:
        return True, None
    view = current_app.view_functions[endpoint]
    while view is not None:
        if getattr(view, "policy_public", False):
            return True, None
        if getattr(view, "policy_action", None):
            return False, view.policy_action
        view = getattr(view, "__wrapped__", None)
    return False, None


def permissions_markdown() -> str:
    """The permission matrix and every route's decision, as Markdown (docs/permissions.md)."""
    roles = list(ROLES)
    lines = [
        "| action | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for action in sorted(PERMISSIONS):
        marks = " | ".join("✔" if allows(r, action) else "—" for r in roles)
        lines.append(f"| `{action}` {ACTION_NAMES.get(action, '')} | {marks} |")
    lines += ["", "| route | methods | decision |", "|---|---|---|"]
    rules = sorted(current_app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    for rule in rules:
        is_public, action = view_action(rule.endpoint)
        decision = "public" if is_public else f"`{action}`" if action else "**none**"
        methods = ", ".join(sorted(rule.methods - {"HEAD", "OPTIONS"}))
        lines.append(f"| `{rule.rule}` | {methods} | {decision} |")
    return "\n".join(lines) + "\n"


@click.group("policy")
def policy_cli():
    """The permission policy."""


@policy_cli.command("docs")
@click.option("--file", "path", default="docs/permissions.md", help="the document to update")
def docs_command(path):
    """Rewrite the generated part of docs/permissions.md from the policy and the routes."""
    replace_generated(path, "flask policy docs", permissions_markdown())
    click.echo(f"已更新 {path}")
