"""What every page shares: the header's links, the map tiles, folium maps with the CSP nonce,
and Beijing time."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace

from flask import current_app
from flask import g
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.clock import SHANGHAI
from app.geo import basemaps
from app.notify import services as notify
from app.policy import allows
from app.security import csp_nonce
from app.tasks import queries as task_queries
from maps.base import MapParts
from maps.base import Tiles
from maps.base import embed


@dataclass(frozen=True)
class NavItem:
    """A link in the page header, shown to roles allowed the action (and of the given roles)."""

    endpoint: str
    label: object
    action: str
    roles: frozenset[str] | None = None
    # A number shown beside the link (tasks, unread notifications): one cheap query, for the
    # signed-in user; its tooltip (with %(n)s) and, when a script updates it, its element id.
    badge: Callable[[object], int] | None = None
    badge_title: object = None
    badge_id: str | None = None

    def visible_to(self, user) -> bool:
        """Whether the signed-in user gets this link."""
        if not allows(user.role, self.action):
            return False
        return self.roles is None or user.role in self.roles


def unread_badge(user) -> int:
    """The signed-in user's unread notifications (one index-only count per page)."""
    if "unread_notifications" not in g:
        g.unread_notifications = notify.unread_count(user.id)
    return g.unread_notifications


NAV = [
    NavItem(
        "tasks.my_tasks",
        _l("我的待办"),
        "tasks.read",
        task_queries.TASK_ROLES,
        task_queries.count,
        _l("待办 %(n)s 项"),
    ),
    NavItem("field.my_grid", _l("我的网格"), "cases.report", frozenset({"grid_worker"})),
    NavItem("field.report", _l("上报"), "cases.report"),
    NavItem("field.inspections", _l("排查"), "risks.inspect"),
    NavItem("casework.queue", _l("事件"), "cases.read"),
    NavItem("official.risk_map", _l("风险地图"), "cases.read", frozenset({"mediator", "official"})),
    NavItem("official.workbench", _l("工作台"), "metrics.read"),
    NavItem("briefing_pages.briefings", _l("工作简报"), "briefings.read"),
    NavItem("admin.briefing_template", _l("简报模板"), "briefings.template"),
    NavItem("admin.users", _l("用户"), "users.read"),
    NavItem("admin.departments", _l("部门"), "departments.manage"),
    NavItem("admin.regions", _l("区划与网格"), "geo.manage"),
    NavItem("admin.deadlines", _l("期限规则"), "deadlines.manage"),
    NavItem("admin.categories", _l("类别设置"), "risks.manage"),
    NavItem("admin.imports", _l("台账导入"), "ledger.import"),
    NavItem("analysis.analysis", _l("研判"), "warnings.read"),
    NavItem("analysis.warning_rules", _l("预警规则"), "warnings.manage"),
    NavItem(
        "inbox.notifications",
        _l("通知"),
        "notifications.self",
        badge=unread_badge,
        badge_title=_l("%(n)s 条未读"),
        badge_id="unread-badge",
    ),
    NavItem("notice_pages.templates", _l("文书模板"), "notices.manage"),  # issue 15 item 5
    NavItem("auditlog.audit_page", _l("审计日志"), "audit.read"),
    # campaigns (专项排查): officials' list and progress pages
    NavItem(
        "campaign_pages.campaign_list",
        _l("专项排查"),
        "campaigns.read",
        frozenset({"mediator", "official"}),
    ),
    # visits and assessment (issue 16 items 3 and 5)
    NavItem("visit_pages.new_visit", _l("走访"), "visits.log"),
    NavItem("visit_pages.visits", _l("走访审阅"), "visits.review"),
    NavItem("visit_pages.assessment_page", _l("考核"), "assessment.read"),
    NavItem("visit_pages.weights", _l("考核权重"), "assessment.manage"),
    # cameras (issue 17 item 4, 雪亮工程): the admin's list and ledger import
    NavItem("camera_pages.cameras", _l("雪亮工程点位"), "cameras.manage"),
    # privacy (issue 19): retention policies
    NavItem("retention_pages.policies", _l("保存期限"), "retention.manage"),
]


def nav_items() -> list[NavItem]:
    """The header links for the current user (only endpoints that exist)."""
    if not current_user.is_authenticated:
        return []
    views = current_app.view_functions
    return [item for item in NAV if item.endpoint in views and item.visible_to(current_user)]


def tiles() -> Tiles:
    """The configured base map (BASEMAP, or TILE_URL; app/geo/basemaps.py) for folium."""
    chosen = basemaps.from_config(current_app.config)
    base, labels = chosen.base, chosen.annotation
    if base is None:
        return Tiles(None, "")
    return Tiles(
        base.url,
        base.attribution,
        subdomains=base.subdomains or "abc",
        native_zoom=base.max_zoom,
        labels=labels.url if labels else None,
        crs=chosen.crs,
    )


STATIC_URL = re.compile(r"""(["'])/static/([^"'?]+)\1""")


def map_parts(m) -> MapParts:
    """A folium map rendered for this page, its inline scripts carrying the CSP nonce, its
    assets (folium's fixed /static/ paths) by their hashed URLs (app/assets.py)."""
    parts = embed(m, csp_nonce())
    header = STATIC_URL.sub(
        lambda match: match.group(1) + url_for("static", filename=match.group(2)) + match.group(1),
        parts.header,
    )
    return replace(parts, header=header)


def local_time(value: dt.datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in Beijing time (the domain's time zone), as the pages show it."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(SHANGHAI).strftime(fmt)
