"""`flask seed demo`: the deterministic demo county, idempotent."""

import math
import sys
import time

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy import text

from app.accounts import services as accounts
from app.accounts.models import User
from app.demo import geography
from app.demo.cameras import seed_demo_cameras
from app.demo.campaigns import seed_demo_campaigns
from app.demo.cases import seed_demo_cases
from app.demo.departments import DEMO_STAFF
from app.demo.departments import seed_demo_departments
from app.demo.history import seed_demo_history
from app.demo.risks import seed_demo_risks
from app.demo.selfreports import seed_demo_self_reports
from app.demo.visits import seed_demo_visits
from app.dispatch.models import Department
from app.extensions import db
from app.geo import divisions
from app.geo import services

CELLS_PER_VILLAGE = 6


@click.group("seed")
def seed_cli():
    """Demo data."""


@seed_cli.command("demo")
@click.option(
    "--history/--no-history",
    default=None,
    help="Also load two years of history (app/demo/history.py); default: config DEMO_HISTORY.",
)
def seed_demo_command(history: bool | None):
    """Build (or bring up to date) the demo county: geography, grid cells, demo accounts."""
    started = time.monotonic()
    if history is None:
        history = current_app.config.get("DEMO_HISTORY", True)
    try:
        summary = seed_demo(history=history)
    except (services.ImportRejected, services.GridError) as exc:
        db.session.rollback()
        click.echo(f"演示数据生成失败：{exc}", err=True)
        for problem in getattr(exc, "problems", []):
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(
        f"演示县 {geography.COUNTY_NAME}（{geography.COUNTY_CODE}）已就绪："
        f"{summary['towns']} 个乡镇，"
        f"{summary['villages']} 个村（含已撤销 {summary['abolished']} 个），"
        f"{summary['cells']} 个网格（本次新生成 {summary['new_cells']} 个），"
        f"新增职能部门 {summary['new_departments']} 个，"
        f"新建演示账号 {summary['new_users']} 个（密码 {DEMO_PASSWORD}），"
        f"新增风险点 {summary['new_risk_points']} 个，"
        f"新增演示事件 {summary['new_cases']} 件，"
        f"新增历史事件 {summary['new_history']} 件，"
        f"新增演示专项排查 {summary['new_campaigns']} 项，"
        f"新增随手拍 {summary['new_self_reports']} 件，"
        f"新增走访记录 {summary['new_visits']} 条，"
        f"新增摄像机 {summary['new_cameras']} 个，"
        f"用时 {time.monotonic() - started:.1f} 秒"
    )


def seed_demo(history: bool = True) -> dict:
    """Create or update the demo geography; grid cells only for villages that have none.

    `history`: also the two years of settled cases and inspections (app/demo/history.py).
    """
    features = geography.build()
    # The 省 and 市 above the county first: the county import links it to its 市 by code.
    divisions.ensure_region(geography.PROVINCE_CODE, geography.PROVINCE_NAME, geography.ORIGIN_DATE)
    divisions.ensure_region(
        geography.PREFECTURE_CODE, geography.PREFECTURE_NAME, geography.ORIGIN_DATE
    )
    services.import_geojson(geography.collection(features["county"]), "county")
    services.import_geojson(geography.collection(features["town"]), "town")
    services.import_geojson(geography.collection(features["village"]), "village")
    services.import_geojson(geography.collection(features["new_village"]), "village")

    prefix = geography.COUNTY_CODE[:6]
    villages = db.session.execute(
        text(
            """
            SELECT v.code, ST_Area(v.boundary::geography) AS area
              FROM regions v
             WHERE v.level = 'village' AND v.code LIKE :prefix || '%'
               AND (v.valid_to IS NULL OR v.valid_to > current_date)
               AND NOT EXISTS (SELECT 1 FROM grid_cells g WHERE g.village_id = v.id)
             ORDER BY v.code
            """
        ),
        {"prefix": prefix},
    ).all()
    new_cells = 0
    for code, area in villages:
        # About CELLS_PER_VILLAGE square cells, sides rounded to 50 m.
        size = max(200.0, round(math.sqrt(area / CELLS_PER_VILLAGE) / 50) * 50)
        new_cells += services.make_grid(code, "square", size).cells
    # Deterministic population estimates from the cell's area and code.
    db.session.execute(
        text(
            """
            WITH est AS (
                SELECT id, ST_Area(geom::geography) / 1e6 * (180 + right(code, 2)::int * 3) people
                  FROM grid_cells
                 WHERE population IS NULL AND code LIKE :prefix || '%')
            UPDATE grid_cells g
               SET population = est.people::int, households = (est.people / 2.9)::int
              FROM est WHERE est.id = g.id
            """
        ),
        {"prefix": prefix},
    )
    counts = db.session.execute(
        text(
            """
            SELECT count(*) FILTER (WHERE level = 'town') AS towns,
                   count(*) FILTER (WHERE level = 'village') AS villages,
                   count(*) FILTER (WHERE level = 'village' AND valid_to IS NOT NULL) AS abolished,
                   (SELECT count(*) FROM grid_cells WHERE code LIKE :prefix || '%') AS cells
              FROM regions WHERE code LIKE :prefix || '%'
            """
        ),
        {"prefix": prefix},
    ).one()
    new_departments = seed_demo_departments(geography.COUNTY_CODE)
    new_users = seed_demo_users()
    return {
        **counts._asdict(),
        "new_cells": new_cells,
        "new_departments": new_departments,
        "new_users": new_users,
        "new_risk_points": seed_demo_risks(),
        "new_cases": seed_demo_cases(),
        "new_history": seed_demo_history() if history else 0,
        "new_campaigns": seed_demo_campaigns(),
        "new_self_reports": seed_demo_self_reports(),
        "new_visits": seed_demo_visits(),
        "new_cameras": seed_demo_cameras(),  # 雪亮工程 (docs/cameras.md)
    }


DEMO_PASSWORD = "gridgov-demo"
DEMO_VILLAGE = "371699101200"
DEMO_TOWN = "371699101000"
# (username, display name, role, region, grid cell serials) — every role at every level.
DEMO_USERS = [
    ("cun_wangge", "王网格（网格员）", "grid_worker", DEMO_VILLAGE, ["001", "002"]),
    ("cun_wangge2", "李网格（网格员）", "grid_worker", DEMO_VILLAGE, ["003"]),
    ("cun_tiaojie", "赵调解（村调委会）", "mediator", DEMO_VILLAGE, []),
    ("cun_ganbu", "刘书记（村干部）", "official", DEMO_VILLAGE, []),
    ("cun_admin", "村系统管理员", "admin", DEMO_VILLAGE, []),
    ("zhen_tiaojie", "陈调解（镇矛调中心）", "mediator", DEMO_TOWN, []),
    ("zhen_ganbu", "杨主任（镇综治办）", "official", DEMO_TOWN, []),
    ("zhen_admin", "镇系统管理员", "admin", DEMO_TOWN, []),
    ("xian_tiaojie", "周调解（县矛调中心）", "mediator", geography.COUNTY_CODE, []),
    ("xian_ganbu", "吴主任（县综治中心）", "official", geography.COUNTY_CODE, []),
    ("xian_admin", "县系统管理员", "admin", geography.COUNTY_CODE, []),
]
# Above the county (issue 17): the 市 official sees every county of the 市.
DEMO_ABOVE_USERS = [
    ("shi_ganbu", "孙主任（市综治中心）", "official", geography.PREFECTURE_CODE, []),
]

# Fake mobile numbers of the demo accounts (for the SMS sink: docs/notifications.md), one each.
DEMO_PHONES = {
    username: f"1380539{i:04d}"
    for i, username in enumerate(
        [u[0] for u in DEMO_USERS] + [s[0] for s in DEMO_STAFF] + [u[0] for u in DEMO_ABOVE_USERS],
        start=1,
    )
}


def seed_demo_users() -> int:
    """Create the demo accounts that do not exist yet (password DEMO_PASSWORD), the department
    staff among them (app/demo/departments.py)."""
    created = 0
    for username, name, role, region, serials in DEMO_USERS + DEMO_ABOVE_USERS:
        if db.session.scalar(select(User.id).where(User.username == username)):
            continue
        cells = [f"{region}{s}" for s in serials]
        accounts.create_user(
            username, DEMO_PASSWORD, role, region, name, DEMO_PHONES[username], cells
        )
        created += 1
    for username, name, unit in DEMO_STAFF:
        if db.session.scalar(select(User.id).where(User.username == username)):
            continue
        region = db.session.scalar(select(Department.region_code).where(Department.code == unit))
        accounts.create_user(
            username,
            DEMO_PASSWORD,
            "department_staff",
            region,
            name,
            DEMO_PHONES[username],
            department_code=unit,
        )
        created += 1
    # Accounts seeded before the demo had phones get theirs; a phone someone set is kept.
    for user in db.session.scalars(
        select(User).where(User.username.in_(DEMO_PHONES), User.phone.is_(None))
    ):
        user.phone = DEMO_PHONES[user.username]
    return created
