"""The risk point actions as one declarative table, like the case workflow (app/cases/workflow.py).

The API (app/risks/api.py), the risk point page (app/web/field.py: which forms to offer now,
their titles and bodies), docs/risks.md (its generated section, `flask risks docs`) and the
tests all read ACTIONS. Each row says: the action's name, which policy action (and so which
roles) may take it, in which states of the point, its body schema, the service that applies it,
what it records, and whether the caller must send the version they saw.

Every action runs through app.core.actions.run: visible (the caller loaded the point) → check
(version, state) → the schema → the service → flush; a version gone stale meanwhile is 409.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema

from app.core import actions as runner
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.policy import PERMISSIONS
from app.policy import allows
from app.risks import schemas
from app.risks import services
from app.risks.models import RiskPoint

ACTIVE = frozenset({"active"})


def always(point: RiskPoint, user) -> bool:
    """No condition beyond the role and the state."""
    return True


def no_pending_request(point: RiskPoint, user) -> bool:
    """Only one request to clear at a time."""
    return point.clear_requested_at is None


@dataclass(frozen=True)
class RiskAction:
    """One row of the table."""

    action: str
    name: Any  # Chinese, marked for translation (lazy)
    permission: str  # the policy action (app/policy.py) that says which roles may take it
    states: frozenset[str]
    schema: type[Schema]
    apply: Callable[[RiskPoint, Any, dict], Any]  # the service: (point, user, data) → result
    events: tuple[str, ...]  # the history entries (risk_events.action) it may write
    audit: tuple[str, ...]  # the audit actions it may write
    title: Any = None  # the page form's title
    title_direct: Any = None  # the title when there is no pending request (审批 → 直接消除)
    offered: Callable[[RiskPoint, Any], bool] = always  # a further condition on the point
    needs_version: bool = True  # False: the version is optional (checked when given)
    form: bool = True  # offered as a short form on the risk point page
    note: str = ""

    def form_title(self, point: RiskPoint) -> str:
        """The title of the page's form for this point."""
        if self.title_direct is not None and point.clear_requested_at is None:
            return str(self.title_direct)
        return str(self.title or self.name)


ACTIONS: dict[str, RiskAction] = {
    a.action: a
    for a in [
        RiskAction(
            "change_level",
            _l("调整等级"),
            "risks.register",
            ACTIVE,
            schemas.ChangeLevelIn,
            lambda p, u, d: services.change_level(p, u, d["level"], d["reason"]),
            ("change_level",),
            ("risks.change_level",),
            title=_l("调整风险等级"),
            note="`level` + `reason`; the next inspection is re-planned; same level → 422",
        ),
        RiskAction(
            "request_clear",
            _l("申请消除"),
            "risks.register",
            ACTIVE,
            schemas.RiskReasonIn,
            lambda p, u, d: services.request_clear(p, u, d["reason"]),
            ("request_clear",),
            ("risks.request_clear",),
            title=_l("申请消除风险点"),
            offered=no_pending_request,
            note="`reason`; one pending request at a time (409); the point stays 在控",
        ),
        RiskAction(
            "approve_clear",
            _l("审批消除"),
            "risks.approve",
            ACTIVE,
            schemas.ApproveClearIn,
            lambda p, u, d: services.approve_clear(p, u, d["approved"], d["reason"]),
            ("approve_clear", "refuse_clear", "clear"),
            ("risks.approve_clear", "risks.refuse_clear", "risks.clear"),
            title=_l("审批消除申请"),
            title_direct=_l("直接消除"),
            offered=lambda p, u: services.may_decide(p, u),
            note="`approved` + `reason`; a pending request needs the requester's level or "
            "higher (403); without one, `approved: true` clears directly, `false` → 409",
        ),
        RiskAction(
            "inspect",
            _l("排查"),
            "risks.inspect",
            ACTIVE,
            schemas.InspectionIn,
            # The API adds the checked photos (app/risks/api.py, record_inspection).
            lambda p, u, d: services.record_inspection(p, u, d),
            (),
            ("risks.inspect",),
            needs_version=False,
            form=False,
            note="POST …/inspections (JSON or multipart with photos): an inspection row, the "
            "new plan; `open_case` also reports a linked case",
        ),
    ]
}

STALE_MESSAGE = _l("该风险点已被他人修改，您的操作没有保存")
CATEGORY_STALE = _l("该风险类别已被他人修改，您的修改没有保存")
MISSING_VERSION = _l("缺少版本号：请在 If-Match 头或 version 字段中给出版本")


def check_version(row, version, *, required: bool = True, message=STALE_MESSAGE):
    """428 without a version (when required); 409 when it is not the row's current one."""
    if version is None:
        if required:
            raise PreconditionRequired(str(MISSING_VERSION))
        return
    if version != row.version:
        raise stale(version, row.version, str(message))


def check(rule: RiskAction, point: RiskPoint, version) -> None:
    """The table's checks before the body: the version, then the point's state."""
    check_version(point, version, required=rule.needs_version)
    services.require_state(point, rule.states)


def perform(action: str, point: RiskPoint, user, body, version, apply=None):
    """Run one action on a point the caller may see, all or nothing; the service's result.

    `apply` replaces the row's service call (the inspection API adds its photos).
    """
    rule = ACTIONS[action]
    step = runner.Step(
        rule.schema,
        lambda p, data: (apply or rule.apply)(p, user, data),
        check=lambda: check(rule, point, version),
    )
    return runner.run(step, point, body, version=version, stale_message=str(STALE_MESSAGE))


def allowed(point: RiskPoint, user) -> list[str]:
    """The actions the user may take on the point now, in the table's order."""
    return [
        name
        for name, rule in ACTIONS.items()
        if allows(user.role, rule.permission)
        and point.status in rule.states
        and rule.offered(point, user)
    ]


def detail(point: RiskPoint, user) -> RiskPoint:
    """The point as its answer and page show it, with the actions the user may take now."""
    services.detail(point, user)
    point.allowed_actions = allowed(point, user)
    return point


def markdown() -> str:
    """The actions table, for docs/risks.md (`flask risks docs`)."""
    lines = [
        "| action | 中文 | policy action (roles) | states | body | version | records | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ACTIONS.values():
        roles = ", ".join(sorted(PERMISSIONS[r.permission]))
        body = ", ".join(
            f"`{name}`" + ("" if field.required else "?")
            for name, field in r.schema().fields.items()
            if name != "version" and not field.dump_only
        )
        records = ", ".join([f"`{e}`" for e in r.events] + [f"audit `{a}`" for a in r.audit])
        version = "required (428)" if r.needs_version else "optional"
        lines.append(
            f"| `{r.action}` | {r.name} | `{r.permission}` ({roles}) | "
            f"{', '.join(sorted(r.states))} | {body} | {version} | {records} | {r.note} |"
        )
    return "\n".join(lines) + "\n"
