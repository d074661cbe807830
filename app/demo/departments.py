"""The demo county's departments (职能部门) and routing rules, through the ordinary services.

Every town gets 派出所, 司法所, 人社所 (劳动保障所), 自然资源所 and 市场监管所; the county
its 公安局, 司法局, 人社局劳动监察大队, 自然资源局, 住建局, 信访局, 应急管理局 and
市场监管局, each competent for some of the case categories. A region whose routing table is
empty gets the demo's table; a table an admin has set is left alone, and so is a unit that
exists (by code): re-running changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select

from app.dispatch import departments as services
from app.dispatch.models import RoutingRule
from app.extensions import db
from app.geo.models import Region
from app.scoping import Scope

# (kind, name after the region's, competent categories, categories routed to it there)
TOWN_UNITS = [
    ("police", "派出所", ["治安", "交通"], ["治安", "交通"]),
    (
        "justice",
        "司法所",
        ["婚姻家庭", "邻里", "合同/经济", "村(社)务管理", "其他"],
        ["婚姻家庭", "邻里", "合同/经济", "村(社)务管理", "其他"],
    ),
    ("labour", "人社所", ["劳资"], ["劳资"]),
    (
        "land",
        "自然资源所",
        ["土地山林水利权属", "征地拆迁安置", "四乱"],
        ["土地山林水利权属", "征地拆迁安置", "四乱"],
    ),
    ("market", "市场监管所", ["食品药品", "合同/经济"], ["食品药品"]),
]
COUNTY_UNITS = [
    ("police", "公安局", ["治安", "交通"], ["治安", "交通"]),
    ("justice", "司法局", ["婚姻家庭", "邻里", "合同/经济"], ["婚姻家庭", "邻里", "合同/经济"]),
    ("labour", "人社局劳动监察大队", ["劳资"], ["劳资"]),
    (
        "land",
        "自然资源局",
        ["土地山林水利权属", "征地拆迁安置", "四乱"],
        ["土地山林水利权属", "征地拆迁安置"],
    ),
    (
        "housing",
        "住建局",
        ["四乱", "环境污染/人居环境", "民生服务"],
        ["四乱", "环境污染/人居环境", "民生服务"],
    ),
    (
        "petition",
        "信访局",
        ["村(社)务管理", "医疗/教育", "其他"],
        ["村(社)务管理", "医疗/教育", "其他"],
    ),
    (
        "safety",
        "应急管理局",
        ["安全生产", "消防", "防汛/地质灾害"],
        ["安全生产", "消防", "防汛/地质灾害"],
    ),
    ("market", "市场监管局", ["食品药品", "合同/经济"], ["食品药品"]),
]
# Demo accounts of department staff: (username, display name, unit code).
DEMO_STAFF = [
    ("zhen_paichusuo", "孙警官（黄河镇派出所）", "371699101-police"),
    ("zhen_renshe", "郑专员（黄河镇人社所）", "371699101-labour"),
    ("zhen_ziyuan", "马所长（黄河镇自然资源所）", "371699101-land"),
    ("xian_jiancha", "何队长（县劳动监察大队）", "371699-labour"),
    ("xian_zhujian", "林科长（县住建局）", "371699-housing"),
]


def unit_code(region: Region, kind: str) -> str:
    """A demo unit's code: the region's significant digits and the kind ("371699101-police")."""
    digits = 6 if region.level == "county" else 9
    return f"{region.code[:digits]}-{kind}"


def seed_demo_departments(county_code: str) -> int:
    """Create the demo units that do not exist yet and fill empty routing tables; how many
    units were created."""
    scope = Scope(prefix=county_code[:6], user_id=0)
    regions = db.session.scalars(
        select(Region)
        .where(
            Region.code.startswith(county_code[:6]),
            Region.level.in_(("county", "town")),
            Region.valid_to.is_(None),
        )
        .order_by(Region.code)
    ).all()
    created = 0
    for region in regions:
        table = COUNTY_UNITS if region.level == "county" else TOWN_UNITS
        rules = []
        for kind, name, competent, routed in table:
            code = unit_code(region, kind)
            if not services.code_taken(code):
                services.create_department(
                    {
                        "code": code,
                        "name": f"{region.name}{name}",
                        "kind": kind,
                        "region": region.code,
                        "categories": competent,
                    },
                    scope,
                )
                created += 1
            rules += [{"category": category, "department": code} for category in routed]
        has_rules = db.session.scalar(
            select(RoutingRule.id).where(RoutingRule.region_id == region.id).limit(1)
        )
        if has_rules is None:
            services.replace_rules(region.code, rules, scope)
    return created
