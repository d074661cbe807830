"""The two actions on a warning, 签收 (acknowledge) and 处置 (handle), run through the one
action runner (app/core/actions.py): version (428 without, 409 when stale) → state → body →
apply → flush, all or nothing."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from marshmallow import Schema

from app.core import actions as runner
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.warnings import schemas
from app.warnings import services
from app.warnings.models import EarlyWarning


@dataclass(frozen=True)
class WarningAction:
    """One action: its name, the states it is taken from, its body and its service."""

    name: object
    states: tuple[str, ...]
    schema: type[Schema]
    apply: object  # (warning, user, data) → warning


ACTIONS = {
    "acknowledge": WarningAction(
        _l("签收"), ("open",), schemas.AcknowledgeIn, services.acknowledge
    ),
    "handle": WarningAction(
        _l("处置"), ("open", "acknowledged"), schemas.HandleIn, services.handle
    ),
}
STALE_MESSAGE = _l("该预警已被他人修改或有新情况，您的操作没有保存")
MISSING_VERSION = _l("缺少版本号：请在 If-Match 头或 version 字段中给出版本")


def check(rule: WarningAction, warning: EarlyWarning, version: int | None) -> None:
    """428 without a version, 409 for a stale one or a state the action is not taken from."""
    if version is None:
        raise PreconditionRequired(str(MISSING_VERSION))
    if version != warning.version:
        raise stale(version, warning.version, str(STALE_MESSAGE))
    services.require_state(warning, rule.states)


def perform(action: str, warning: EarlyWarning, user, body, version: int | None) -> EarlyWarning:
    """Run one action on a warning the caller may see; answer the warning."""
    rule = ACTIONS[action]
    step = runner.Step(
        rule.schema,
        lambda w, data: rule.apply(w, user, data),
        check=lambda: check(rule, warning, version),
    )
    return runner.run(step, warning, body, version=version, stale_message=str(STALE_MESSAGE))


def allowed(warning: EarlyWarning) -> list[str]:
    """The actions the warning's state allows now."""
    return [name for name, rule in ACTIONS.items() if warning.state in rule.states]


RULE_STALE = _l("该预警规则已被他人修改，您的修改没有保存")


def check_rule_version(rule, version: int | None) -> None:
    """A rule is changed with the version the admin saw: 428 without, 409 when stale."""
    if version is None:
        raise PreconditionRequired(str(MISSING_VERSION))
    if version != rule.version:
        raise stale(version, rule.version, str(RULE_STALE))


def rule_step(rule, user, version: int | None) -> runner.Step:
    """Changing a rule as one step of the runner (the admin page's form): version, body, apply."""
    return runner.Step(
        schemas.RuleUpdate,
        lambda r, data: services.update_rule(
            r, user, {k: v for k, v in data.items() if k != "version"}
        ),
        check=lambda: check_rule_version(rule, version),
    )
