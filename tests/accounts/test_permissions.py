"""The permission matrix: every route × every role × an object in scope and one out of scope.

Expectations come from the policy itself (app/policy.py); this file adds, per route, how to call
it, what success looks like, and where an out-of-scope object would show. A route missing from
ROUTES, or without a policy decision, fails the suite.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from dataclasses import field

import pytest
from sqlalchemy import select

from app.accounts import services as accounts
from app.briefings.models import BriefingJob
from app.campaigns import services as campaign_services
from app.campaigns.models import CampaignTask
from app.cases import services as case_services
from app.core import clock
from app.dispatch.models import Dispatch
from app.extensions import db
from app.geo.models import Region
from app.imports import services as ledger_imports_services
from app.notify.services import emit
from app.policy import PERMISSIONS
from app.policy import allows
from app.policy import permissions_markdown
from app.policy import view_action
from app.risks.models import RiskCategory
from app.risks.models import RiskPoint
from app.visits import services as visit_services
from tests.cameras.factories import camera_body
from tests.cameras.factories import make_camera
from tests.cases.factories import POINT
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import case_body
from tests.factories import COUNTY
from tests.factories import OTHER_COUNTY
from tests.factories import OTHER_TOWN
from tests.factories import OTHER_VILLAGE
from tests.factories import PASSWORD
from tests.factories import bearer
from tests.factories import make_department
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.resident.factories import make_self_report
from tests.risks.factories import POINT_OTHER_COUNTY as RISK_POINT_OTHER_COUNTY
from tests.risks.factories import point_with_photo
from tests.risks.factories import risk_body
from tests.visits.factories import visit_body
from tests.warnings.factories import make_warning

CALLERS = [
    "grid_worker@village",
    *(
        f"{role}@{level}"
        for level in ("village", "town", "county")
        for role in ("mediator", "official", "admin")
    ),
    "department_staff@town",
]
OUT_OF_SCOPE_MARK = "371698"  # codes of the other county never appear in answers


@dataclass
class Ctx:
    """Ids the calls need: users and tokens in scope and out of scope, and the caller's token."""

    in_user: int
    out_user: int
    in_token: int
    out_token: int
    in_case: str = ""
    out_case: str = ""
    in_party: int = 0
    out_party: int = 0
    own_token: int = 0
    in_risk: int = 0
    out_risk: int = 0
    in_photo: int = 0
    out_photo: int = 0
    in_risk_version: str = ""  # the version a risk point page's forms carry
    category: int = 0
    category_version: str = ""
    in_unit: int = 0
    out_unit: int = 0
    in_dispatch: int = 0  # the in-scope case's dispatch to the town unit (state sent)
    own_notification: int = 0  # the caller's own (set per caller)
    out_notification: int = 0  # the outsider's: someone else's is 404
    in_briefing: int = 0  # a finished briefing of the in-scope village (briefings slice)
    out_briefing: int = 0  # one of the other county's village
    # campaigns: one over the in-scope village (its task of the grid worker's cell), one in the
    # other county
    in_campaign: int = 0
    out_campaign: int = 0
    in_campaign_task: int = 0
    out_campaign_task: int = 0
    in_warning: int = 0  # 研判预警 (tests/warnings): a group warning in scope, one outside
    out_warning: int = 0
    # selfreport: a resident's report in the grid worker's cell and one in the other county
    in_self_report: str = ""
    out_self_report: str = ""
    in_self_report_photo: int = 0
    in_visit: int = 0  # visits (issue 16 item 3): the grid worker's, and the outsider's
    out_visit: int = 0
    # ledger import (issue 17 item 3): a dry-run import into the county, one into the other
    in_import: int = 0
    out_import: int = 0
    in_camera: int = 0  # cameras (issue 17 item 4): one in 东村, one in the other county
    out_camera: int = 0


@dataclass
class Route:
    """How to call a route, and what answers mean."""

    method: str
    path: object  # callable(ctx, scope) -> str, scope in {"in", "out"}
    ok: set[int]
    body: object = None  # callable(scope) -> dict, or None; callable(ctx, scope) if ctx_body
    form: bool = False
    list_route: bool = False  # no object: the out-of-scope check is that nothing leaks
    out_status: int = 404
    extra: dict = field(default_factory=dict)
    ctx_body: bool = False
    # Department staff see only what was dispatched to their unit (the in-scope case is): where
    # the in-scope object is something else (a risk point's photo), what they get instead.
    unit_ok: set[int] | None = None


def unit_body(region: str) -> dict:
    """A new unit (职能部门) at a town; the same shape for the API and the admin page."""
    return {
        "code": "matrix-unit",
        "name": "矩阵派出所",
        "kind": "police",
        "region": region,
        "categories": ["治安"],
    }


def fixed(path):
    """A path that does not depend on scope."""
    return lambda ctx, scope: path


def page_action(action: str):
    """The path of a risk point page's action form, for the point in or out of scope."""
    return lambda c, s: f"/risk-points/{c.in_risk if s == 'in' else c.out_risk}/actions/{action}"


ROUTES: dict[tuple[str, str], Route] = {
    ("accounts.home", "GET"): Route("GET", fixed("/"), {200}, list_route=True),
    ("accounts.password", "GET"): Route("GET", fixed("/account/password"), {200}, list_route=True),
    ("accounts.password", "POST"): Route(
        "POST",
        fixed("/account/password"),
        {422},
        body=lambda s: {"current_password": "x"},
        form=True,
        list_route=True,
    ),
    ("accounts.tokens", "GET"): Route("GET", fixed("/account/tokens"), {200}, list_route=True),
    ("accounts.tokens", "POST"): Route(
        "POST",
        fixed("/account/tokens"),
        {200},
        body=lambda s: {"name": "page"},
        form=True,
        list_route=True,
    ),
    ("accounts.revoke_own_token", "POST"): Route(
        "POST",
        lambda c, s: f"/account/tokens/{c.own_token if s == 'in' else c.out_token}/revoke",
        {302},
        form=True,
    ),
    ("accounts_api.me", "GET"): Route("GET", fixed("/api/v1/me"), {200}, list_route=True),
    ("tasks_api.my_tasks", "GET"): Route("GET", fixed("/api/v1/me/tasks"), {200}, list_route=True),
    ("tasks.my_tasks", "GET"): Route("GET", fixed("/tasks"), {200}, list_route=True),
    ("accounts_api.change_own_password", "POST"): Route(
        "POST",
        fixed("/api/v1/me/password"),
        {204},
        body=lambda s: {"current_password": PASSWORD, "new_password": "brand-new-pass-7"},
        list_route=True,
    ),
    ("accounts_api.list_own_tokens", "GET"): Route(
        "GET", fixed("/api/v1/auth/tokens"), {200}, list_route=True
    ),
    ("accounts_api.revoke_own_token", "DELETE"): Route(
        "DELETE",
        lambda c, s: f"/api/v1/auth/tokens/{c.own_token if s == 'in' else c.out_token}",
        {204},
    ),
    ("accounts_api.list_users", "GET"): Route(
        "GET", fixed("/api/v1/users"), {200}, list_route=True
    ),
    ("accounts_api.get_user", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/users/{c.in_user if s == 'in' else c.out_user}", {200}
    ),
    ("accounts_api.create_user", "POST"): Route(
        "POST",
        fixed("/api/v1/users"),
        {201},
        body=lambda s: {
            "username": "made-by-matrix",
            "password": "long-enough-pw",
            "role": "mediator",
            "region": VILLAGE if s == "in" else OTHER_VILLAGE,
        },
        out_status=422,
    ),
    ("accounts_api.deactivate_user", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/users/{c.in_user if s == 'in' else c.out_user}/deactivate",
        {200},
    ),
    ("accounts_api.reset_user_password", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/users/{c.in_user if s == 'in' else c.out_user}/password",
        {204},
        body=lambda s: {"new_password": "reset-by-admin-1"},
    ),
    ("accounts_api.revoke_user_token", "DELETE"): Route(
        "DELETE",
        lambda c, s: (
            f"/api/v1/users/{c.in_user}/tokens/{c.in_token}"
            if s == "in"
            else f"/api/v1/users/{c.out_user}/tokens/{c.out_token}"
        ),
        {204},
    ),
    ("audit.list_audit", "GET"): Route("GET", fixed("/api/v1/audit"), {200}, list_route=True),
    ("auditlog.audit_page", "GET"): Route("GET", fixed("/audit"), {200}, list_route=True),
    ("auditlog.audit_csv", "GET"): Route("GET", fixed("/audit.csv"), {200}, list_route=True),
    ("geo.locate", "GET"): Route(
        "GET",
        lambda c, s: (
            "/api/v1/locate?lon=118.01&lat=37.32"
            if s == "in"
            else "/api/v1/locate?lon=118.32&lat=37.32"
        ),
        {200},
    ),
    ("geo.get_region", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/regions/{VILLAGE if s == 'in' else OTHER_VILLAGE}",
        {200},
    ),
    ("geo.list_regions", "GET"): Route(
        "GET", fixed("/api/v1/regions?include_abolished=true"), {200}, list_route=True
    ),
    ("geo.list_grid_cells", "GET"): Route(
        "GET", fixed("/api/v1/grid-cells"), {200}, list_route=True
    ),
    ("cases.report_case", "POST"): Route(
        "POST",
        fixed("/api/v1/cases"),
        {201},
        body=lambda s: case_body(**(POINT if s == "in" else POINT_OTHER_COUNTY)),
        out_status=403,
    ),
    ("cases.list_cases", "GET"): Route("GET", fixed("/api/v1/cases"), {200}, list_route=True),
    ("cases.cases_geojson", "GET"): Route(
        "GET", fixed("/api/v1/cases.geojson"), {200}, list_route=True
    ),
    ("cases.nearby_cases", "GET"): Route(
        "GET",
        lambda c, s: (
            "/api/v1/cases/nearby?lon=118.01&lat=37.32"
            if s == "in"
            else "/api/v1/cases/nearby?lon=118.32&lat=37.32"
        ),
        {200},
        list_route=True,
    ),
    ("cases.get_case", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}", {200}
    ),
    ("cases.list_actions", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/actions",
        {200},
    ),
    # The workflow table refines `cases.act` by role and level: 403 is its answer, not scope's.
    ("cases.take_action", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/actions/accept",
        {200, 403},
        body=lambda s: {"version": 1},
    ),
    ("cases.reveal_party", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/cases/{c.in_case}/parties/{c.in_party}/reveal"
            if s == "in"
            else f"/api/v1/cases/{c.out_case}/parties/{c.out_party}/reveal"
        ),
        {200},
        body=lambda s: {"purpose": "mediation"},
    ),
    ("case_reports.metrics", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/metrics?region={VILLAGE if s == 'in' else OTHER_VILLAGE}",
        {200},
    ),
    ("case_reports.export_csv", "GET"): Route(
        "GET", fixed("/api/v1/cases/export.csv"), {200}, list_route=True
    ),
    ("case_reports.export_xlsx", "GET"): Route(
        "GET", fixed("/api/v1/cases/export.xlsx"), {200}, list_route=True
    ),
    # A background export is its requester's only: no job of this caller here, so 404.
    ("case_reports.export_job", "GET"): Route(
        "GET", fixed("/api/v1/exports/999999"), {404}, list_route=True
    ),
    ("case_reports.export_job_file", "GET"): Route(
        "GET", fixed("/api/v1/exports/999999/file"), {404}, list_route=True
    ),
    # Revealing exports are POSTs (bearer callers need no CSRF token).
    ("case_reports.export_csv_revealed", "POST"): Route(
        "POST", fixed("/api/v1/cases/export.csv?reveal=true"), {200}, list_route=True
    ),
    ("case_reports.export_xlsx_revealed", "POST"): Route(
        "POST", fixed("/api/v1/cases/export.xlsx?reveal=true"), {200}, list_route=True
    ),
    # The z12 tile holding the in-scope case; the out-of-scope one must not leak into it.
    ("tiles.get_tile", "GET"): Route(
        "GET", fixed("/api/v1/tiles/cases/12/3390/1589.pbf"), {200}, list_route=True
    ),
    ("tiles.tile_access", "GET"): Route(
        "GET", fixed("/api/v1/tiles/access"), {200}, list_route=True
    ),
    ("cases.list_deadline_policies", "GET"): Route(
        "GET", fixed("/api/v1/deadline-policies"), {200}, list_route=True
    ),
    ("cases.update_deadline_policy", "PUT"): Route(
        "PUT",
        fixed("/api/v1/deadline-policies/1"),
        {200},
        body=lambda s: {"days": 4, "unit": "days"},
        list_route=True,
    ),
    ("cases.list_holiday_years", "GET"): Route(
        "GET", fixed("/api/v1/holiday-years"), {200}, list_route=True
    ),
    ("cases.put_holiday_year", "PUT"): Route(
        "PUT",
        fixed("/api/v1/holiday-years/2027"),
        {200},
        body=lambda s: {"holidays": ["2027-01-01"], "workdays": []},
        list_route=True,
    ),
    # Risk points (docs/risks.md).
    ("risks.create_risk_point", "POST"): Route(
        "POST",
        fixed("/api/v1/risk-points"),
        {201},
        body=lambda s: risk_body(**({} if s == "in" else {"geometry": RISK_POINT_OTHER_COUNTY})),
        out_status=403,
    ),
    ("risks.list_risk_points", "GET"): Route(
        "GET", fixed("/api/v1/risk-points"), {200}, list_route=True
    ),
    ("risks.get_risk_point", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/risk-points/{c.in_risk if s == 'in' else c.out_risk}", {200}
    ),
    ("risks.change_level", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/risk-points/{c.in_risk if s == 'in' else c.out_risk}/actions/change_level"
        ),
        {200},
        body=lambda c, s: {"level": "red", "reason": "汛期临近", "version": int(c.in_risk_version)},
        ctx_body=True,
    ),
    ("risks.request_clear", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/risk-points/{c.in_risk if s == 'in' else c.out_risk}/actions/request_clear"
        ),
        {200},
        body=lambda c, s: {"reason": "已整改", "version": int(c.in_risk_version)},
        ctx_body=True,
    ),
    ("risks.approve_clear", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/risk-points/{c.in_risk if s == 'in' else c.out_risk}/actions/approve_clear"
        ),
        {200},
        body=lambda c, s: {
            "approved": True,
            "reason": "经核实已消除",
            "version": int(c.in_risk_version),
        },
        ctx_body=True,
    ),
    ("risks.record_inspection", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/risk-points/{c.in_risk if s == 'in' else c.out_risk}/inspections",
        {201},
        body=lambda s: {"result": "normal", "notes": "措施落实"},
    ),
    ("risks.reveal_location", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/risk-points/{c.in_risk if s == 'in' else c.out_risk}/location",
        {200},
        body=lambda s: {"reason": "入户走访"},
    ),
    ("risks.risk_points_geojson", "GET"): Route(
        "GET", fixed("/api/v1/risk-points.geojson?include_cleared=true"), {200}, list_route=True
    ),
    ("risks.risk_map", "GET"): Route(
        "GET", fixed("/api/v1/grid-cells/risk"), {200}, list_route=True
    ),
    ("risks.export_xlsx", "GET"): Route(
        "GET", fixed("/api/v1/risk-points/export.xlsx"), {200}, list_route=True
    ),
    ("risks.export_csv", "GET"): Route(
        "GET", fixed("/api/v1/risk-points/export.csv"), {200}, list_route=True
    ),
    ("risks.list_categories", "GET"): Route(
        "GET", fixed("/api/v1/risk-categories"), {200}, list_route=True
    ),
    ("risks.create_category", "POST"): Route(
        "POST",
        fixed("/api/v1/risk-categories"),
        {201},
        body=lambda s: {"name": "矩阵测试类别"},
        list_route=True,
    ),
    ("risks.update_category", "PUT"): Route(
        "PUT",
        fixed("/api/v1/risk-categories/1"),
        {200},
        body=lambda s: {"sort_order": 5, "version": 1},
        list_route=True,
    ),
    ("risks.get_schedule", "GET"): Route(
        "GET", fixed("/api/v1/inspection-schedule"), {200}, list_route=True
    ),
    ("risks.put_schedule", "PUT"): Route(
        "PUT",
        fixed("/api/v1/inspection-schedule"),
        {200},
        body=lambda s: {"red": 5},
        list_route=True,
    ),
    ("attachments.download_attachment", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/attachments/{c.in_photo if s == 'in' else c.out_photo}",
        {200},
        unit_ok={404},  # a risk inspection's photo: units never see risk points
    ),
    # --- the pages (app/web): signed out they redirect to the login page -------------------------
    ("field.my_grid", "GET"): Route("GET", fixed("/field"), {200}, list_route=True),
    ("field.report", "GET"): Route("GET", fixed("/report"), {200}, list_route=True),
    ("field.inspections", "GET"): Route("GET", fixed("/inspections"), {200}, list_route=True),
    ("field.risk_point", "GET"): Route(
        "GET", lambda c, s: f"/risk-points/{c.in_risk if s == 'in' else c.out_risk}", {200}
    ),
    ("field.reveal_location", "POST"): Route(
        "POST",
        lambda c, s: f"/risk-points/{c.in_risk if s == 'in' else c.out_risk}/location",
        {200},
        body=lambda s: {"reason": "入户走访"},
        form=True,
    ),
    # The risk point page's action forms, with the version the page showed.
    ("field.change_level", "POST"): Route(
        "POST",
        page_action("change_level"),
        {302},
        body=lambda c, s: {"version": c.in_risk_version, "level": "red", "reason": "汛期临近"},
        form=True,
        ctx_body=True,
    ),
    ("field.request_clear", "POST"): Route(
        "POST",
        page_action("request_clear"),
        {302},
        body=lambda c, s: {"version": c.in_risk_version, "reason": "已整改"},
        form=True,
        ctx_body=True,
    ),
    ("field.approve_clear", "POST"): Route(
        "POST",
        page_action("approve_clear"),
        {302},
        body=lambda c, s: {"version": c.in_risk_version, "approved": "true", "reason": "已消除"},
        form=True,
        ctx_body=True,
    ),
    ("casework.queue", "GET"): Route(
        "GET", fixed("/cases?states=all&level=all"), {200}, list_route=True
    ),
    ("casework.case_page", "GET"): Route(
        "GET", lambda c, s: f"/cases/{c.in_case if s == 'in' else c.out_case}", {200}
    ),
    # The workflow table refines `cases.act`: a page re-rendered with 403 is its answer.
    ("casework.take_action", "POST"): Route(
        "POST",
        lambda c, s: f"/cases/{c.in_case if s == 'in' else c.out_case}/act/accept",
        {302, 403},
        body=lambda s: {"version": "1"},
        form=True,
    ),
    ("official.risk_map", "GET"): Route("GET", fixed("/map"), {200}, list_route=True),
    ("official.workbench", "GET"): Route(
        "GET",
        lambda c, s: f"/workbench?region={VILLAGE if s == 'in' else OTHER_VILLAGE}",
        {200},
    ),
    ("admin.users", "GET"): Route("GET", fixed("/admin/users"), {200}, list_route=True),
    ("admin.create_user", "POST"): Route(
        "POST",
        fixed("/admin/users"),
        {302},
        body=lambda s: {
            "username": "made-by-page",
            "password": "long-enough-pw",
            "role": "mediator",
            "region": VILLAGE if s == "in" else OTHER_VILLAGE,
        },
        form=True,
        out_status=302,  # refused with a message, nothing created
    ),
    ("admin.user_page", "GET"): Route(
        "GET", lambda c, s: f"/admin/users/{c.in_user if s == 'in' else c.out_user}", {200}
    ),
    ("admin.deactivate_user", "POST"): Route(
        "POST",
        lambda c, s: f"/admin/users/{c.in_user if s == 'in' else c.out_user}/deactivate",
        {302},
        form=True,
    ),
    ("admin.reset_password", "POST"): Route(
        "POST",
        lambda c, s: f"/admin/users/{c.in_user if s == 'in' else c.out_user}/password",
        {302},
        body=lambda s: {"new_password": "reset-by-page-1"},
        form=True,
    ),
    ("admin.revoke_token", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/admin/users/{c.in_user}/tokens/{c.in_token}/revoke"
            if s == "in"
            else f"/admin/users/{c.out_user}/tokens/{c.out_token}/revoke"
        ),
        {302},
        form=True,
    ),
    # Departments (docs/departments.md): the in-scope unit is the town's, which village callers
    # read (it serves them) but only town and county admins keep: a village admin gets 403 on
    # the unit and 422 for a town outside their jurisdiction.
    ("departments.list_departments", "GET"): Route(
        "GET", fixed("/api/v1/departments"), {200}, list_route=True
    ),
    ("departments.get_department", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/departments/{c.in_unit if s == 'in' else c.out_unit}", {200}
    ),
    ("departments.create_department", "POST"): Route(
        "POST",
        fixed("/api/v1/departments"),
        {201, 422},
        body=lambda s: unit_body(TOWN if s == "in" else OTHER_TOWN),
        out_status=422,
    ),
    ("departments.update_department", "PATCH"): Route(
        "PATCH",
        lambda c, s: f"/api/v1/departments/{c.in_unit if s == 'in' else c.out_unit}",
        {200, 403},
        body=lambda s: {"name": "矩阵改名", "version": 1},
    ),
    ("departments.list_routing_rules", "GET"): Route(
        "GET", fixed("/api/v1/routing-rules"), {200}, list_route=True
    ),
    ("departments.put_routing_rules", "PUT"): Route(
        "PUT",
        fixed("/api/v1/routing-rules"),
        {200, 422},
        body=lambda s: {"region": TOWN if s == "in" else OTHER_TOWN, "rules": []},
        out_status=422,
    ),
    ("admin.departments", "GET"): Route("GET", fixed("/admin/departments"), {200}, list_route=True),
    ("admin.create_department", "POST"): Route(
        "POST",
        fixed("/admin/departments"),
        {302, 422},
        body=lambda s: unit_body(TOWN if s == "in" else OTHER_TOWN),
        form=True,
        out_status=422,
    ),
    ("admin.department_page", "GET"): Route(
        "GET", lambda c, s: f"/admin/departments/{c.in_unit if s == 'in' else c.out_unit}", {200}
    ),
    ("admin.update_department", "POST"): Route(
        "POST",
        lambda c, s: f"/admin/departments/{c.in_unit if s == 'in' else c.out_unit}",
        {302, 403},
        body=lambda s: {"version": "1", "name": "矩阵改名", "kind": "labour", "active": "true"},
        form=True,
    ),
    ("admin.routing", "GET"): Route("GET", fixed("/admin/routing"), {200}, list_route=True),
    ("admin.update_routing", "POST"): Route(
        "POST",
        fixed("/admin/routing"),
        {302, 422},
        body=lambda s: {"region": TOWN if s == "in" else OTHER_TOWN},
        form=True,
        out_status=422,
    ),
    ("admin.deadlines", "GET"): Route("GET", fixed("/admin/deadlines"), {200}, list_route=True),
    ("admin.update_deadline", "POST"): Route(
        "POST",
        fixed("/admin/deadlines/1"),
        {302},
        body=lambda s: {"days": "4", "unit": "days"},
        form=True,
        list_route=True,
    ),
    ("admin.holidays", "GET"): Route("GET", fixed("/admin/holidays"), {200}, list_route=True),
    ("admin.save_holidays", "POST"): Route(
        "POST",
        fixed("/admin/holidays"),
        {302},
        body=lambda s: {"year": "2031", "holidays": "2031-01-01"},
        form=True,
        list_route=True,
    ),
    ("admin.regions", "GET"): Route("GET", fixed("/admin/regions"), {200}, list_route=True),
    ("admin.import_regions", "POST"): Route(
        "POST", fixed("/admin/regions/import"), {302}, body=lambda s: {}, form=True, list_route=True
    ),
    ("admin.make_grid", "POST"): Route(
        "POST",
        fixed("/admin/regions/make-grid"),
        {302},
        body=lambda s: {"village": OTHER_VILLAGE, "shape": "square", "cell_size": "500"},
        form=True,
        list_route=True,
    ),
    ("admin.categories", "GET"): Route("GET", fixed("/admin/categories"), {200}, list_route=True),
    # Categories and the schedule are global data: no scope to leave.
    ("admin.create_category", "POST"): Route(
        "POST",
        fixed("/admin/categories"),
        {302},
        body=lambda s: {"name": "矩阵类别", "subcategories": "甲、乙"},
        form=True,
        list_route=True,
    ),
    ("admin.update_category", "POST"): Route(
        "POST",
        lambda c, s: f"/admin/categories/{c.category}",
        {302},
        body=lambda c, s: {"version": c.category_version, "name": "矩阵改名", "active": "true"},
        form=True,
        list_route=True,
        ctx_body=True,
    ),
    ("admin.update_schedule", "POST"): Route(
        "POST",
        fixed("/admin/categories/schedule"),
        {302},
        body=lambda s: {"was_red": "7", "red": "6"},
        form=True,
        list_route=True,
    ),
    ("case_maps.cases_by_region", "GET"): Route(
        "GET", fixed("/api/v1/cases/by-region.geojson?level=village"), {200}, list_route=True
    ),
    # Dispatch (分拨交办). The in-scope case is a village case still reported: a new dispatch is
    # refused by its state (409) or the caller's role (403); its town unit's staff sign theirs.
    ("dispatch.list_dispatches", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/dispatches",
        {200},
    ),
    ("dispatch.dispatch_case", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/dispatches",
        {409, 403},
        body=lambda s: {"version": 1, "lead_department_id": 1},
    ),
    ("dispatch.take_step", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}"
            f"/dispatches/{c.in_dispatch}/actions/sign"
        ),
        {200, 403},
        body=lambda s: {"version": 1},
    ),
    ("casework.dispatch_case", "POST"): Route(
        "POST",
        lambda c, s: f"/cases/{c.in_case if s == 'in' else c.out_case}/dispatch",
        {409, 403},
        body=lambda s: {"version": "1", "lead_department_id": "1"},
        form=True,
    ),
    ("casework.dispatch_step", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/cases/{c.in_case if s == 'in' else c.out_case}/dispatches/{c.in_dispatch}/act/sign"
        ),
        {302, 403},
        body=lambda s: {"version": "1"},
        form=True,
    ),
    # Notifications: one's own ("in") or someone else's ("out", 404).
    ("notify_api.list_notifications", "GET"): Route(
        "GET", fixed("/api/v1/notifications"), {200}, list_route=True
    ),
    ("notify_api.unread_count", "GET"): Route(
        "GET", fixed("/api/v1/notifications/unread-count"), {200}, list_route=True
    ),
    ("notify_api.mark_read", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/notifications/{c.own_notification if s == 'in' else c.out_notification}/read"
        ),
        {200},
    ),
    ("notify_api.mark_all_read", "POST"): Route(
        "POST", fixed("/api/v1/notifications/read-all"), {200}, list_route=True
    ),
    ("notify_api.get_settings", "GET"): Route(
        "GET", fixed("/api/v1/me/notification-settings"), {200}, list_route=True
    ),
    ("notify_api.put_settings", "PUT"): Route(
        "PUT",
        fixed("/api/v1/me/notification-settings"),
        {200},
        body=lambda s: {"sms_events": ["overdue"], "quiet_from": "22:00", "quiet_to": "07:00"},
        list_route=True,
    ),
    ("inbox.notifications", "GET"): Route("GET", fixed("/notifications"), {200}, list_route=True),
    ("inbox.mark_read", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/notifications/{c.own_notification if s == 'in' else c.out_notification}/read"
        ),
        {302},
        form=True,
    ),
    ("inbox.mark_all_read", "POST"): Route(
        "POST", fixed("/notifications/read-all"), {302}, form=True, list_route=True
    ),
    ("inbox.save_settings", "POST"): Route(
        "POST",
        fixed("/notifications/settings"),
        {302},
        body=lambda s: {"sms_events": "overdue", "quiet_from": "", "quiet_to": ""},
        form=True,
        list_route=True,
    ),
    # 研判预警 (issue 16 item 1): the warning in scope, or the other county's (404).
    ("warnings.list_warnings", "GET"): Route(
        "GET", fixed("/api/v1/warnings"), {200}, list_route=True
    ),
    ("warnings.warnings_geojson", "GET"): Route(
        "GET", fixed("/api/v1/warnings.geojson"), {200}, list_route=True
    ),
    ("warnings.get_warning", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/warnings/{c.in_warning if s == 'in' else c.out_warning}",
        {200},
    ),
    ("warnings.acknowledge_warning", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/warnings/{c.in_warning if s == 'in' else c.out_warning}/actions/acknowledge"
        ),
        {200},
        body=lambda s: {"version": 1},
    ),
    ("warnings.handle_warning", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/warnings/{c.in_warning if s == 'in' else c.out_warning}/actions/handle"
        ),
        {200},
        body=lambda s: {"version": 1, "note": "矩阵处置"},
    ),
    ("warnings.list_rules", "GET"): Route(
        "GET", fixed("/api/v1/warning-rules"), {200}, list_route=True
    ),
    ("warnings.update_rule", "PUT"): Route(
        "PUT",
        fixed("/api/v1/warning-rules/group"),
        {200},
        body=lambda s: {"version": 1, "params": {"min_people": 6}},
        list_route=True,
    ),
    ("analysis.analysis", "GET"): Route("GET", fixed("/analysis"), {200}, list_route=True),
    ("analysis.act", "POST"): Route(
        "POST",
        lambda c, s: f"/analysis/{c.in_warning if s == 'in' else c.out_warning}/acknowledge",
        {302},
        body=lambda s: {"version": "1"},
        form=True,
    ),
    ("analysis.warning_rules", "GET"): Route(
        "GET", fixed("/admin/warning-rules"), {200}, list_route=True
    ),
    ("analysis.save_rule", "POST"): Route(
        "POST",
        fixed("/admin/warning-rules/group"),
        {302},
        body=lambda s: {"version": "1", "enabled": "on", "params": '{"min_people": 6}'},
        form=True,
        list_route=True,
    ),
    # No file sent: in scope the answer is 422 (no photos), out of scope 404.
    ("case_photos.add_photos", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/photos",
        {422},
    ),
    # Written notices (issue 15 item 5): templates are global data kept by admins; a notice
    # needs `cases.reveal` in scope, and none applies to the reported case (422; out: 404).
    ("documents.list_templates", "GET"): Route(
        "GET", fixed("/api/v1/notice-templates"), {200}, list_route=True
    ),
    ("documents.get_template", "GET"): Route(
        "GET", fixed("/api/v1/notice-templates/acceptance"), {200}, list_route=True
    ),
    ("documents.update_template", "PUT"): Route(
        "PUT",
        fixed("/api/v1/notice-templates/acceptance"),
        {200},
        body=lambda s: {"title": "矩阵受理告知书", "version": 1},
        list_route=True,
    ),
    ("documents.case_notices", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/notices",
        {200},
    ),
    ("documents.case_notice", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/notices/acceptance",
        {422},
    ),
    ("notice_pages.templates", "GET"): Route(
        "GET", fixed("/admin/notice-templates"), {200}, list_route=True
    ),
    ("notice_pages.edit", "GET"): Route(
        "GET", fixed("/admin/notice-templates/acceptance"), {200}, list_route=True
    ),
    ("notice_pages.update", "POST"): Route(
        "POST",
        fixed("/admin/notice-templates/acceptance"),
        {302},
        body=lambda s: {"version": "1", "title": "矩阵受理告知书", "body": "<p>{{ number }}</p>"},
        form=True,
        list_route=True,
    ),
    ("notice_pages.case_notice", "GET"): Route(
        "GET",
        lambda c, s: f"/cases/{c.in_case if s == 'in' else c.out_case}/notices/acceptance.pdf",
        {422},
    ),
    # 工作简报 (briefings slice): officials brief their scope; admins keep the template.
    ("briefings.create_briefing", "POST"): Route(
        "POST",
        fixed("/api/v1/briefings"),
        {202},
        body=lambda s: {
            "region": VILLAGE if s == "in" else OTHER_VILLAGE,
            "from": "2026-01-01",
            "to": "2026-01-31",
        },
    ),
    ("briefings.get_briefing", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/briefings/{c.in_briefing if s == 'in' else c.out_briefing}",
        {200},
    ),
    ("briefings.briefing_docx", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/briefings/{c.in_briefing if s == 'in' else c.out_briefing}.docx",
        {200},
    ),
    ("briefings.briefing_pdf", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/briefings/{c.in_briefing if s == 'in' else c.out_briefing}.pdf",
        {200},
    ),
    ("briefings.get_template", "GET"): Route(
        "GET", fixed("/api/v1/briefing-template"), {200}, list_route=True
    ),
    ("briefings.put_template", "PUT"): Route(
        "PUT",
        fixed("/api/v1/briefing-template"),
        {200},
        body=lambda s: {"title": "简报", "body": "{{ region }}", "version": 1},
        list_route=True,
    ),
    ("briefing_pages.briefings", "GET"): Route("GET", fixed("/briefings"), {200}, list_route=True),
    ("briefing_pages.create_briefing", "POST"): Route(
        "POST",
        fixed("/briefings"),
        {302},
        body=lambda s: {
            "region": VILLAGE if s == "in" else OTHER_VILLAGE,
            "from": "2026-01-01",
            "to": "2026-01-31",
        },
        form=True,
    ),
    ("admin.briefing_template", "GET"): Route(
        "GET", fixed("/admin/briefing-template"), {200}, list_route=True
    ),
    ("admin.save_briefing_template", "POST"): Route(
        "POST",
        fixed("/admin/briefing-template"),
        {302},
        body=lambda s: {"title": "简报", "body": "{{ region }}", "version": "1"},
        form=True,
        list_route=True,
    ),
    # --- campaigns (专项排查) ---
    ("campaigns.launch_campaign", "POST"): Route(
        "POST",
        fixed("/api/v1/campaigns"),
        {201},
        body=lambda s: campaign_body(VILLAGE if s == "in" else OTHER_VILLAGE),
        out_status=403,
    ),
    ("campaigns.list_campaigns", "GET"): Route(
        "GET", fixed("/api/v1/campaigns"), {200}, list_route=True
    ),
    ("campaigns.get_campaign", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/campaigns/{campaign_of(c, s)}", {200}
    ),
    ("campaigns.close_campaign", "POST"): Route(
        "POST", lambda c, s: f"/api/v1/campaigns/{campaign_of(c, s)}/close", {200}
    ),
    ("campaigns.campaign_cells", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/campaigns/{campaign_of(c, s)}/cells.geojson", {200}
    ),
    ("campaigns.campaign_ledger", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/campaigns/{campaign_of(c, s)}/ledger.xlsx", {200}
    ),
    ("campaigns.get_task", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/campaign-tasks/{campaign_task_of(c, s)}", {200}
    ),
    ("campaigns.record_finding", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/campaign-tasks/{campaign_task_of(c, s)}/findings",
        {201},
        body=lambda s: {"result": "none", "answers": {"是否存在拖欠工资": "no"}},
    ),
    ("campaign_pages.campaign_list", "GET"): Route(
        "GET", fixed("/campaigns"), {200}, list_route=True
    ),
    ("campaign_pages.launch", "POST"): Route(
        "POST",
        fixed("/campaigns"),
        {302},
        body=lambda s: {
            **campaign_body(VILLAGE if s == "in" else OTHER_VILLAGE),
            "checklist": "是否存在拖欠工资",
        },
        form=True,
        out_status=403,
    ),
    ("campaign_pages.campaign", "GET"): Route(
        "GET", lambda c, s: f"/campaigns/{campaign_of(c, s)}", {200}
    ),
    ("campaign_pages.close", "POST"): Route(
        "POST", lambda c, s: f"/campaigns/{campaign_of(c, s)}/close", {302}, form=True
    ),
    ("campaign_pages.task", "GET"): Route(
        "GET", lambda c, s: f"/campaign-tasks/{campaign_task_of(c, s)}", {200}
    ),
    ("campaign_pages.record", "POST"): Route(
        "POST",
        lambda c, s: f"/campaign-tasks/{campaign_task_of(c, s)}/findings",
        {302},
        body=lambda s: {"result": "none", "a-0": "no"},
        form=True,
    ),
    # selfreport (随手拍): the cell's grid worker and the village/town staff verify or decline;
    # the county's staff may read but not decide (403 from the service).
    ("selfreport_api.get_self_report", "GET"): Route(
        "GET",
        lambda c, s: f"/api/v1/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}",
        {200},
    ),
    ("selfreport_api.self_report_photo", "GET"): Route(
        "GET",
        lambda c, s: (
            f"/api/v1/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}"
            f"/photos/{c.in_self_report_photo}"
        ),
        {200},
    ),
    ("selfreport_api.verify_self_report", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}/verify"
        ),
        {200, 403},
        body=lambda s: {"version": 1},
    ),
    ("selfreport_api.decline_self_report", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/api/v1/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}/decline"
        ),
        {200, 403},
        body=lambda s: {"version": 1, "reason": "经核查不属实"},
    ),
    ("selfreport_pages.self_report", "GET"): Route(
        "GET",
        lambda c, s: f"/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}",
        {200},
    ),
    ("selfreport_pages.verify", "POST"): Route(
        "POST",
        lambda c, s: f"/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}/verify",
        {302, 403},
        body=lambda s: {"version": "1"},
        form=True,
    ),
    ("selfreport_pages.decline", "POST"): Route(
        "POST",
        lambda c, s: (
            f"/self-reports/{c.in_self_report if s == 'in' else c.out_self_report}/decline"
        ),
        {302, 403},
        body=lambda s: {"version": "1", "reason": "经核查不属实"},
        form=True,
    ),
    # --- issue 15, the resident's side (docs/resident.md) ----------------------------------------
    # The public outcome text: staff with no workflow action open on the case now are refused.
    ("resident_api.put_public_outcome", "PUT"): Route(
        "PUT",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/public-outcome",
        {200, 403},
        body=lambda s: {"public_outcome": "已上门查看", "version": 1},
    ),
    ("resident.public_outcome", "POST"): Route(
        "POST",
        lambda c, s: f"/cases/{c.in_case if s == 'in' else c.out_case}/public-outcome",
        {302},
        body=lambda s: {"public_outcome": "已上门查看", "version": "1"},
        form=True,
    ),
    ("resident.print_receipt", "POST"): Route(
        "POST",
        lambda c, s: f"/cases/{c.in_case if s == 'in' else c.out_case}/receipt",
        {200},
        form=True,
    ),
    # --- visits and assessment (issue 16 items 3 and 5) ---
    ("visits.log_visit", "POST"): Route(
        "POST",
        fixed("/api/v1/visits"),
        {201},
        body=lambda s: visit_body() if s == "in" else visit_body(lon=118.32, lat=37.32),
        out_status=403,
    ),
    ("visits.list_visits", "GET"): Route("GET", fixed("/api/v1/visits"), {200}, list_route=True),
    ("visits.visit_coverage", "GET"): Route(
        "GET", fixed("/api/v1/visits/coverage"), {200}, list_route=True
    ),
    ("visits.get_visit", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/visits/{c.in_visit if s == 'in' else c.out_visit}", {200}
    ),
    # No file sent: in scope 422 (no photos), out of scope 404.
    ("visits.add_visit_photos", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/visits/{c.in_visit if s == 'in' else c.out_visit}/photos",
        {422},
    ),
    ("visits.review_visit", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/visits/{c.in_visit if s == 'in' else c.out_visit}/actions/review",
        {200},
        body=lambda s: {"comment": "已阅", "version": 1},
    ),
    ("assessment.ranking", "GET"): Route(
        "GET", fixed("/api/v1/assessments"), {200}, list_route=True
    ),
    ("assessment.worker_score", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/assessments/{c.in_user if s == 'in' else c.out_user}", {200}
    ),
    ("assessment.list_weights", "GET"): Route(
        "GET", fixed("/api/v1/assessment-weights"), {200}, list_route=True
    ),
    ("assessment.update_weight", "PATCH"): Route(
        "PATCH",
        fixed("/api/v1/assessment-weights/visits"),
        {200},
        body=lambda s: {"weight": 30, "version": 1},
        list_route=True,
    ),
    ("visit_pages.new_visit", "GET"): Route(
        "GET", fixed("/field/visits/new"), {200}, list_route=True
    ),
    ("visit_pages.visits", "GET"): Route("GET", fixed("/field/visits"), {200}, list_route=True),
    ("visit_pages.review_visit", "POST"): Route(
        "POST",
        lambda c, s: f"/field/visits/{c.in_visit if s == 'in' else c.out_visit}/review",
        {302},
        body=lambda s: {"comment": "已阅", "version": "1"},
        form=True,
    ),
    ("visit_pages.coverage", "GET"): Route(
        "GET", fixed("/visits/coverage"), {200}, list_route=True
    ),
    ("visit_pages.assessment_page", "GET"): Route(
        "GET", fixed("/assessment"), {200}, list_route=True
    ),
    ("visit_pages.weights", "GET"): Route(
        "GET", fixed("/admin/assessment-weights"), {200}, list_route=True
    ),
    ("visit_pages.update_weight", "POST"): Route(
        "POST",
        fixed("/admin/assessment-weights/visits"),
        {302},
        body=lambda s: {"weight": "30", "target": "20", "version": "1"},
        form=True,
        list_route=True,
    ),
    # 台账导入 (ledger slice, issue 17 item 3): admins; only a county's (or above) change it.
    ("admin.imports", "GET"): Route("GET", fixed("/admin/imports"), {200}, list_route=True),
    ("admin.upload_import", "POST"): Route(
        "POST", fixed("/admin/imports"), {422}, body=lambda s: {}, form=True, list_route=True
    ),
    ("admin.import_page", "GET"): Route(
        "GET", lambda c, s: f"/admin/imports/{c.in_import if s == 'in' else c.out_import}", {200}
    ),
    ("admin.import_status", "GET"): Route(
        "GET",
        lambda c, s: f"/admin/imports/{c.in_import if s == 'in' else c.out_import}/status",
        {200},
    ),
    ("admin.import_mapping", "POST"): Route(
        "POST",
        lambda c, s: f"/admin/imports/{c.in_import if s == 'in' else c.out_import}/mapping",
        {302, 403},
        body=lambda s: {"map:编号": "external_number"},
        form=True,
    ),
    ("admin.apply_import", "POST"): Route(
        "POST",
        lambda c, s: f"/admin/imports/{c.in_import if s == 'in' else c.out_import}/apply",
        {302, 403},
        body=lambda s: {},
        form=True,
    ),
    # --- cameras (issue 17 item 4, 雪亮工程; docs/cameras.md) ---
    ("cameras.list_cameras", "GET"): Route(
        "GET", fixed("/api/v1/cameras?near=118.01,37.32&radius=2000"), {200}, list_route=True
    ),
    ("cameras.cameras_geojson", "GET"): Route(
        "GET", fixed("/api/v1/cameras.geojson"), {200}, list_route=True
    ),
    ("cameras.get_camera", "GET"): Route(
        "GET", lambda c, s: f"/api/v1/cameras/{c.in_camera if s == 'in' else c.out_camera}", {200}
    ),
    ("cameras.create_camera", "POST"): Route(
        "POST",
        fixed("/api/v1/cameras"),
        {201},
        body=lambda s: camera_body(50) if s == "in" else camera_body(50, lon=118.32, lat=37.32),
        out_status=403,
    ),
    ("cameras.update_camera", "PATCH"): Route(
        "PATCH",
        lambda c, s: f"/api/v1/cameras/{c.in_camera if s == 'in' else c.out_camera}",
        {200},
        body=lambda s: {"name": "矩阵改名", "version": 1},
    ),
    ("camera_pages.cameras", "GET"): Route("GET", fixed("/admin/cameras"), {200}, list_route=True),
    # No file sent: the page answers 422 beside its form.
    ("camera_pages.import_cameras", "POST"): Route(
        "POST",
        fixed("/admin/cameras/import"),
        {422},
        body=lambda s: {"mode": "dry_run"},
        form=True,
        list_route=True,
    ),
    # --- privacy (issue 19: free text revealed, retention; docs/privacy.md) ---
    ("privacy.reveal_text", "POST"): Route(
        "POST",
        lambda c, s: f"/api/v1/cases/{c.in_case if s == 'in' else c.out_case}/text/reveal",
        {200},
        body=lambda s: {"purpose": "mediation"},
    ),
    ("privacy.list_policies", "GET"): Route(
        "GET", fixed("/api/v1/retention-policies"), {200}, list_route=True
    ),
    ("privacy.update_policy", "PATCH"): Route(
        "PATCH",
        fixed("/api/v1/retention-policies/visit"),
        {200},
        body=lambda s: {"months": 30, "version": 1},
        list_route=True,
    ),
    ("privacy.retention_plan", "GET"): Route(
        "GET", fixed("/api/v1/retention/plan"), {200}, list_route=True
    ),
    ("retention_pages.policies", "GET"): Route(
        "GET", fixed("/admin/retention"), {200}, list_route=True
    ),
    ("retention_pages.update_policy", "POST"): Route(
        "POST",
        fixed("/admin/retention/visit"),
        {302},
        body=lambda s: {"months": "30", "version": "1"},
        form=True,
        list_route=True,
    ),
}


def add_cameras(ctx: Ctx, world) -> None:
    """A camera in 东村 (every in-scope caller's subtree) and one in the other county."""
    ctx.in_camera = make_camera(world["admin@county"], 1)
    ctx.out_camera = make_camera(world["outsider-admin"], 2, lon=118.32, lat=37.32)


# Public routes: reachable signed out; none of them returns people's data.
PUBLIC = {
    ("accounts.login", "GET"): "/login",
    ("accounts.login", "POST"): "/login",
    ("accounts.logout", "POST"): "/logout",
    ("accounts_api.create_token_with_password", "POST"): "/api/v1/auth/tokens",
    ("api-docs.openapi_json", "GET"): "/api/v1/openapi.json",
    ("api-docs.openapi_swagger_ui", "GET"): "/api/v1/docs",
    ("ops.healthz", "GET"): "/healthz",
    ("ops.live", "GET"): "/healthz/live",
    ("ops.ready", "GET"): "/healthz/ready",
    ("metrics.metrics", "GET"): "/metrics",
    ("static", "GET"): "/static/css/app.css",
    ("i18n.switch", "GET"): "/language/en",
    # selfreport (随手拍): the resident's page, phone code and report (no account)
    ("selfreport_pages.report_page", "GET"): "/report/public",
    ("selfreport_api.request_phone_code", "POST"): "/api/v1/public/phone-codes",
    ("selfreport_api.submit_report", "POST"): "/api/v1/public/reports",
    # issue 15: the resident's progress lookup and rating (number + code; no personal data)
    ("resident_api.progress", "POST"): "/api/v1/public/progress",
    ("resident_api.rate", "POST"): "/api/v1/public/rating",
    ("resident.progress", "GET"): "/q",
    ("resident.progress", "POST"): "/q",
    ("resident.rate", "POST"): "/q/371699-2026-000001/rating",
    # Open311 GeoReport v2 (issue 17 item 5): public GETs (coarse, no personal data); POST
    # authenticates by its api_key parameter (missing: 400)
    ("open311.service_list", "GET"): "/open311/v2/services.json",
    ("open311.service_definition", "GET"): "/open311/v2/services/D01.xml",
    ("open311.request_list", "GET"): "/open311/v2/requests.xml",
    ("open311.request_one", "GET"): "/open311/v2/requests/371699-2026-000001.json",
    ("open311.create_request", "POST"): "/open311/v2/requests.json",
    # offline (issue 19): the service worker script, page shells and static files only
    ("offline.service_worker", "GET"): "/sw.js",
}


def campaign_body(region: str) -> dict:
    """A campaign over a region, due in a week."""
    return {
        "title": "矩阵专项排查",
        "region": region,
        "category": "欠薪",
        "checklist": ["是否存在拖欠工资"],
        "deadline": (clock.today() + dt.timedelta(days=7)).isoformat(),
    }


def campaign_of(ctx: Ctx, scope: str) -> int:
    return ctx.in_campaign if scope == "in" else ctx.out_campaign


def campaign_task_of(ctx: Ctx, scope: str) -> int:
    return ctx.in_campaign_task if scope == "in" else ctx.out_campaign_task


def add_campaigns(ctx: Ctx, world) -> None:
    """A campaign over the in-scope village and one in the other county, with a task each."""
    inside = campaign_services.launch(
        {**campaign_body(VILLAGE), "deadline": clock.today() + dt.timedelta(days=7)},
        world["official@town"],
    )
    outside = campaign_services.launch(
        {**campaign_body(OTHER_VILLAGE), "deadline": clock.today() + dt.timedelta(days=7)},
        world["outsider-admin"],
    )
    tasks = {
        t.campaign_id: t.id
        for t in db.session.scalars(
            select(CampaignTask).where(
                CampaignTask.region_code.in_([f"{VILLAGE}001", "371698101200001"])
            )
        )
    }
    ctx.in_campaign, ctx.out_campaign = inside.id, outside.id
    ctx.in_campaign_task, ctx.out_campaign_task = tasks[inside.id], tasks[outside.id]


def all_routes(app) -> set[tuple[str, str]]:
    """(endpoint, method) for every route of the app."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_a_policy_decision(app):
    """Each route is public or names an action the policy knows."""
    with app.test_request_context():
        for endpoint, _method in all_routes(app):
            is_public, action = view_action(endpoint)
            assert is_public or action in PERMISSIONS, f"{endpoint} has no policy decision"


def test_every_route_is_in_the_matrix(app):
    """Adding a route without adding it here (and so to the policy matrix) fails."""
    assert all_routes(app) == set(ROUTES) | set(PUBLIC)


def test_public_routes_are_marked_public(app):
    """The routes listed as public are the ones the policy says are public."""
    with app.test_request_context():
        for endpoint, _method in PUBLIC:
            assert view_action(endpoint)[0], endpoint
        for endpoint, _method in ROUTES:
            assert not view_action(endpoint)[0], endpoint


def test_permissions_doc_is_current(app):
    """docs/permissions.md holds the matrix generated from the policy."""
    with app.test_request_context(), open("docs/permissions.md", encoding="utf-8") as f:
        assert permissions_markdown() in f.read(), "run: flask --app wsgi policy docs"


@pytest.mark.parametrize(("endpoint", "method"), sorted(PUBLIC))
def test_public_routes_answer_signed_out(client, endpoint, method):
    """Signed out, a public route never says 401 or 403 and never fails."""
    path = PUBLIC[(endpoint, method)]
    response = client.open(path, method=method, json={} if method == "POST" else None)
    assert response.status_code not in (401, 403) and response.status_code < 500
    response.close()


def call(client, route: Route, ctx: Ctx, scope: str, headers: dict):
    """Call a route for one caller and one scope."""
    path = route.path(ctx, scope)
    body = None
    if route.body:
        body = route.body(ctx, scope) if route.ctx_body else route.body(scope)
    if route.form:
        return client.open(path, method=route.method, data=body, headers=headers)
    return client.open(path, method=route.method, json=body, headers=headers)


def build_matrix(world) -> tuple[Ctx, dict[str, int]]:
    """Every object the matrix calls a route on, in scope and out of it; a notification each."""
    in_user, out_user = world["grid_worker@village"], world["outsider"]
    in_token, _ = accounts.create_token(in_user, "victim")
    out_token, _ = accounts.create_token(out_user, "victim")
    db.session.commit()
    in_case = case_services.report({**case_body(), **POINT}, in_user)
    out_case = case_services.report({**case_body(), **POINT_OTHER_COUNTY}, out_user)
    # The in-scope case is dispatched to the town unit: its staff see it (shared/DOMAIN.md §8).
    in_dispatch = dispatch_to_unit(
        in_case, world.department_ids["town-labour"], world["official@town"]
    )
    db.session.commit()
    ctx = Ctx(
        in_user.id,
        out_user.id,
        in_token.id,
        out_token.id,
        in_case.number,
        out_case.number,
        in_case.parties[0].id,
        out_case.parties[0].id,
    )
    ctx.in_dispatch = in_dispatch.id
    ctx.in_risk, ctx.in_photo = point_with_photo(in_user)
    ctx.out_risk, ctx.out_photo = point_with_photo(out_user, RISK_POINT_OTHER_COUNTY)
    ctx.in_risk_version = str(db.session.get(RiskPoint, ctx.in_risk).version)
    category = db.session.scalars(select(RiskCategory).order_by(RiskCategory.id)).first()
    ctx.category, ctx.category_version = category.id, str(category.version)
    ctx.in_unit = world.department_ids["town-labour"]
    ctx.out_unit = make_department("outside-unit", OTHER_TOWN, name="邻镇人社所").id
    ctx.in_warning = make_warning(in_user, POINT)
    ctx.out_warning = make_warning(out_user, POINT_OTHER_COUNTY)
    ctx.in_visit = visit_services.log(visit_body(), in_user)[0].id
    ctx.out_visit = visit_services.log(visit_body(lon=118.32, lat=37.32), out_user)[0].id
    notes = {key: emit("supervised", [world[key]], title="矩阵")[0] for key in CALLERS}
    ctx.out_notification = emit("supervised", [out_user], title="矩阵")[0]
    ctx.in_briefing, ctx.out_briefing = briefing_jobs(world)
    add_campaigns(ctx, world)
    ctx.in_self_report, ctx.in_self_report_photo = make_self_report(POINT)
    ctx.out_self_report, _photo = make_self_report(POINT_OTHER_COUNTY)
    add_cameras(ctx, world)
    db.session.commit()
    return ctx, notes


@pytest.fixture(scope="module")
def matrix(app, module_connection, fsa_session):
    """(world, ctx, notifications by caller): built once for the whole matrix, not per route.

    Every route's test runs in a SAVEPOINT of the module's transaction (tests/conftest.py), so
    each one finds this set-up exactly as built, whatever the routes before it wrote.
    """
    from tests.conftest import bind_session
    from tests.factories import build_world

    bind_session(module_connection)
    try:
        world = build_world()
        ctx, notes = build_matrix(world)
    finally:
        db.session.remove()
        db.session = fsa_session
    return world, ctx, notes


# test_out_of_scope_is_indistinguishable_from_missing builds its own world: it runs before the
# matrix, whose module-long transaction holds the same usernames until the module ends.
def test_out_of_scope_is_indistinguishable_from_missing(client, world):
    """An existing user outside scope answers exactly like an id that does not exist."""
    headers = bearer(world["admin@town"])
    outside = client.get(f"/api/v1/users/{world['outsider'].id}", headers=headers)
    missing = client.get("/api/v1/users/999999", headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert outside.get_json() == missing.get_json()
    region_out = client.get(f"/api/v1/regions/{OTHER_VILLAGE}", headers=headers)
    region_missing = client.get("/api/v1/regions/371699999999", headers=headers)
    assert region_out.status_code == region_missing.status_code == 404
    assert region_out.get_json() == region_missing.get_json()


@pytest.mark.parametrize(("endpoint", "method"), sorted(ROUTES))
def test_route_matrix(app, client, matrix, db_connection, endpoint, method):
    """Signed out: 401 (API) or the login page; not allowed: 403; out of scope: 404 or nothing."""
    route = ROUTES[(endpoint, method)]
    with app.test_request_context():
        action = view_action(endpoint)[1]
    world, shared_ctx, notes = matrix
    ctx = copy.copy(shared_ctx)  # own_token and the rest are set per test below
    if "import" in endpoint:
        ctx.in_import, ctx.out_import = ledger_imports(world)
        db.session.commit()

    anonymous = call(client, route, ctx, "in", {})
    if ctx_is_api(route.path(ctx, "in")):
        assert anonymous.status_code == 401, anonymous.get_data(as_text=True)
    else:
        assert anonymous.status_code in (302, 400)  # login page, or CSRF refusal for forms

    for key in CALLERS:
        user = world[key]
        headers = bearer(user)
        ctx.own_token = max(t.id for t in user_tokens(user.id))
        ctx.own_notification = notes[key]
        for scope in ("in", "out"):
            # The session's own savepoint must not enclose ours: close it first.
            db.session.remove()
            savepoint = db_connection.begin_nested()
            try:
                response = call(client, route, ctx, scope, headers)
                status = response.status_code
                text = response.get_data().decode("utf-8", errors="replace")
            finally:
                db.session.remove()
                savepoint.rollback()
            where = f"{key} {scope} {method} {route.path(ctx, scope)}: {status} {text[:200]}"
            if not allows(user.role, action):
                assert status == 403, where
            elif scope == "in" or route.list_route:
                unit = user.role == "department_staff" and route.unit_ok is not None
                assert status in (route.unit_ok if unit else route.ok), where
                assert OUT_OF_SCOPE_MARK not in text, where
                assert "outsider" not in text, where
            else:
                assert status == route.out_status, where
                assert OUT_OF_SCOPE_MARK not in text and "outsider" not in text, where


LEDGER_CSV = "编号,登记日期,纠纷类型,所属村\nM-1,2024-03-02,邻里,东村\n".encode()


def ledger_imports(world) -> tuple[int, int]:
    """A dry-run ledger import into the test county and one into the other county."""
    ids = []
    for county, key in ((COUNTY, "admin@county"), (OTHER_COUNTY, "outsider-admin")):
        user = world[key]
        place = db.session.scalar(select(Region).where(Region.code == county))
        imp = ledger_imports_services.create(LEDGER_CSV, "matrix.csv", place, user)
        ledger_imports_services.dry_run(imp, user)
        ids.append(imp.id)
    return ids[0], ids[1]


def briefing_jobs(world) -> tuple[int, int]:
    """A finished (tiny) briefing of the in-scope village and one of the other county's."""
    ids = []
    for region, key in ((VILLAGE, "official@county"), (OTHER_VILLAGE, "outsider")):
        job = BriefingJob(
            region_id=db.session.scalar(select(Region.id).where(Region.code == region)),
            region_code=region,
            date_from=clock.today(),
            date_to=clock.today(),
            state="done",
            progress=100,
            docx=b"docx",
            pdf=b"%PDF",
            created_by_id=world[key].id,
        )
        db.session.add(job)
        db.session.flush()
        ids.append(job.id)
    return ids[0], ids[1]


def dispatch_to_unit(case, department_id: int, by) -> Dispatch:
    """A dispatch row for the case (its unit's staff may see the case and sign for it)."""
    dispatch = Dispatch(
        case_id=case.id,
        department_id=department_id,
        role="lead",
        centre_region_id=case.town_id,
        centre_level="town",
        dispatched_by_id=by.id,
        dispatched_at=clock.now(),
    )
    db.session.add(dispatch)
    return dispatch


def ctx_is_api(path: str) -> bool:
    """API paths answer 401 when signed out."""
    return path.startswith("/api/")


def user_tokens(user_id: int):
    """A user's tokens."""
    from sqlalchemy import select

    from app.accounts.models import ApiToken

    return db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).all()
