"""Demo risk points: 80 across the demo county, every category at every level, with inspection
histories (some now overdue), level changes, clear requests and cleared points.

Deterministic and idempotent: each point has a stable demo code (371699-FX-D0001 …) and is
skipped when it exists. Dates are relative to the day of seeding, so "overdue" stays meaningful.
"""

from __future__ import annotations

import datetime as dt
import json
import random

from sqlalchemy import select
from sqlalchemy import text

from app.accounts.models import User
from app.core import clock
from app.deadlines.calendar import SHANGHAI
from app.extensions import db
from app.risks import services

SEED = 20261127
COUNT = 80
CODE_PREFIX = "371699-FX-D"
DEMO_VILLAGE = "371699101200"
DEMO_TOWN_PREFIX = "371699101"
MAX_INSPECTIONS = 12
LEVEL_ORDER = ("red", "orange", "yellow", "blue")
CATEGORY_ORDER = (
    "欠薪",
    "四乱",
    "重点人群",
    "安全生产",
    "消防",
    "防汛/地质灾害",
    "道路交通",
    "房屋安全",
    "食品药品",
    "涉稳",
)

# category → [(name, sub-category, description, measures, polygon?)]; names get the village's.
TEMPLATES: dict[str, list[tuple[str, str | None, str, str, bool]]] = {
    "欠薪": [
        (
            "村台建设项目工地",
            None,
            "村台工程分包单位拖欠农民工工资，涉及约 30 人，临近年底诉求集中",
            "建立工资支付台账，每周核对实名制用工；督促总包单位按月代发工资",
            False,
        ),
        (
            "农村公路改造工地",
            None,
            "施工队结算周期长，部分工人工资延迟发放",
            "落实工资保证金，每半月走访工地，发现苗头及时报镇人社所",
            False,
        ),
    ],
    "四乱": [
        (
            "河道管理范围内违建养殖棚",
            "乱建",
            "河道管理范围内搭建养殖棚，影响行洪",
            "已下达整改通知，每周巡查，汛前配合水利部门拆除",
            True,
        ),
        (
            "黄河滩地取土点",
            "乱采",
            "夜间有车辆在滩地非法取土，形成深坑",
            "设置警示牌和监控，网格员夜间巡查，发现即报自然资源所",
            True,
        ),
        (
            "村口建筑垃圾堆放点",
            "乱堆",
            "建筑垃圾和秸秆混堆，占用道路",
            "限期清运，设置围挡，落实门前三包",
            True,
        ),
        (
            "沿河林地",
            "乱占",
            "沿河林地被个别村民占用种植",
            "核实权属，村委会约谈，恢复原状",
            True,
        ),
    ],
    "重点人群": [
        ("", "矛盾纠纷易激化", "", "网格员每周走访一次，村调委会跟进化解，情况变化即报", False),
        ("", "信访诉求未化解", "", "包保干部每月见面一次，跟踪诉求办理进度", False),
        ("", "生活困难需帮扶", "", "每月走访，联系镇民政办落实帮扶措施", False),
        ("", "独居高龄老人", "", "网格员每周电话或上门问候，极端天气加密走访", False),
    ],
    "安全生产": [
        (
            "面粉加工厂",
            None,
            "粉尘作业，除尘设施老旧，存在粉尘爆炸隐患",
            "督促企业每日巡检除尘设备，镇安监站每月抽查",
            False,
        ),
        (
            "农机维修点",
            None,
            "电焊作业无防护，油料随意存放",
            "规范动火作业审批，油料入柜存放",
            False,
        ),
        (
            "采砂作业区",
            None,
            "作业区边坡陡峭，无安全警示",
            "设置警示标志和围挡，禁止无关人员进入",
            True,
        ),
    ],
    "消防": [
        (
            "老年活动中心",
            None,
            "电动车室内停放充电，线路老化",
            "设置集中充电点，更换老化线路，配备灭火器",
            False,
        ),
        (
            "农贸市场",
            None,
            "电线私拉乱接，消防通道堆放杂物",
            "每周检查电气线路，清理消防通道",
            False,
        ),
        (
            "秸秆堆放场",
            None,
            "秸秆集中堆放，临近村民住房",
            "划定防火隔离带，禁止野外用火，配备消防水源",
            True,
        ),
    ],
    "防汛/地质灾害": [
        (
            "黄河大堤险工段",
            None,
            "堤身有渗水痕迹，汛期易出现管涌",
            "汛期每日巡堤，储备防汛物资，落实转移路线",
            True,
        ),
        (
            "村台边坡",
            None,
            "雨后边坡局部滑塌",
            "雨后及时巡查，设置警示，安排专人值守",
            True,
        ),
        (
            "低洼易涝片区",
            None,
            "强降雨时积水没膝，排水不畅",
            "汛前清淤排水沟，备好抽水泵，提前转移群众",
            True,
        ),
    ],
    "道路交通": [
        (
            "省道与村道交叉口",
            None,
            "视距不良，无减速设施，多次发生剐蹭",
            "加装减速带和警示灯，早晚高峰劝导",
            False,
        ),
        (
            "学校门口路段",
            None,
            "上下学时段人车混行",
            "设置护学岗，施划斑马线，限速提示",
            False,
        ),
        (
            "急弯临水路段",
            None,
            "急弯无护栏，临近沟渠",
            "增设护栏和反光标志，夜间照明",
            False,
        ),
    ],
    "房屋安全": [
        (
            "老旧土坯房",
            None,
            "墙体开裂，屋顶漏雨，经鉴定为 C 级危房",
            "劝导住户搬离，雨季每日查看，纳入危房改造计划",
            False,
        ),
        (
            "自建出租房",
            None,
            "擅自加层，疏散通道狭窄",
            "委托房屋安全鉴定，限制出租人数，整改前停止加建",
            False,
        ),
    ],
    "食品药品": [
        (
            "学校周边小餐饮店",
            None,
            "无证经营，卫生条件差",
            "市场监管所每月检查，督促办证，张贴公示",
            False,
        ),
        (
            "农村集体聚餐点",
            None,
            "红白事聚餐人数多，厨师无健康证",
            "落实聚餐报备，指导留样，乡村厨师培训",
            False,
        ),
        (
            "村卫生室",
            None,
            "药品存放不规范，有过期药品",
            "每月检查药品效期，规范储存台账",
            False,
        ),
    ],
    "涉稳": [
        (
            "征地补偿争议地块",
            None,
            "部分农户对补偿标准有异议，多次聚集反映",
            "镇村干部包保，依法公开补偿方案，法律顾问释法",
            True,
        ),
        (
            "集体资产处置事项",
            None,
            "村集体厂房出租收益分配存在争议",
            "村务公开，召开村民代表会议，纪检监督",
            False,
        ),
    ],
}

# The demo accounts that may be responsible, by where the point is (app/demo/cli.py DEMO_USERS).
VILLAGE_PEOPLE = ("cun_wangge", "cun_wangge2", "cun_tiaojie", "cun_ganbu")
TOWN_PEOPLE = ("zhen_tiaojie", "zhen_ganbu")
COUNTY_PEOPLE = ("xian_tiaojie", "xian_ganbu")

SHAPE_SQL = text(
    """
    WITH c AS (SELECT geom FROM grid_cells WHERE code = :code),
    p AS (SELECT (ST_Dump(ST_GeneratePoints(ST_Buffer(geom, -0.0004), 1, :seed))).geom AS pt
            FROM c)
    SELECT ST_AsGeoJSON(pt, 7) AS point,
           (SELECT ST_AsGeoJSON(d.geom, 7) FROM ST_Dump(ST_CollectionExtract(ST_Intersection(
                ST_Envelope(ST_Buffer(CAST(pt AS geography), :radius)::geometry),
                ST_Buffer(c.geom, -0.0001)), 3))
                AS d ORDER BY ST_Area(d.geom) DESC LIMIT 1) AS polygon
      FROM p, c
    """
)


def demo_cells(rng: random.Random) -> list[str]:
    """Grid cells for the 80 points: 12 in the demo village, 16 elsewhere in its town, the rest
    across the county (current villages only)."""
    cells = db.session.scalars(
        text(
            """
            SELECT g.code FROM grid_cells g JOIN regions v ON v.id = g.village_id
             WHERE g.code LIKE '371699%' AND (v.valid_to IS NULL OR v.valid_to > current_date)
             ORDER BY g.code
            """
        )
    ).all()
    village = [c for c in cells if c.startswith(DEMO_VILLAGE)]
    town = [c for c in cells if c.startswith(DEMO_TOWN_PREFIX) and not c.startswith(DEMO_VILLAGE)]
    county = [c for c in cells if not c.startswith(DEMO_TOWN_PREFIX)]
    return (
        [rng.choice(village) for _ in range(12)]
        + [rng.choice(town) for _ in range(16)]
        + [rng.choice(county) for _ in range(COUNT - 28)]
    )


def seed_demo_risks() -> int:
    """Add the demo risk points that do not exist yet; returns how many were added."""
    users = {u.username: u for u in db.session.scalars(select(User))}
    existing = set(
        db.session.scalars(
            text("SELECT code FROM risk_points WHERE code LIKE :p || '%'"), {"p": CODE_PREFIX}
        )
    )
    rng = random.Random(SEED)
    cells = demo_cells(rng)
    today = clock.today()
    periods = services.schedule()
    added = 0
    for n in range(COUNT):
        # Draw every random number whether or not the point exists: the rest stay the same.
        category = CATEGORY_ORDER[n % len(CATEGORY_ORDER)]
        level = LEVEL_ORDER[(n % len(CATEGORY_ORDER) + n // len(CATEGORY_ORDER)) % 4]
        template = TEMPLATES[category][rng.randrange(len(TEMPLATES[category]))]
        age_days = rng.randint(40, 420)
        overdue = rng.random() < 0.25
        jitters = [rng.randint(-2, 1) for _ in range(MAX_INSPECTIONS + 1)]
        abnormal = [rng.random() < 0.12 for _ in range(MAX_INSPECTIONS)]
        cell = cells[n]
        code = f"{CODE_PREFIX}{n + 1:04d}"
        if code in existing:
            continue
        in_village, in_town = cell.startswith(DEMO_VILLAGE), cell.startswith(DEMO_TOWN_PREFIX)
        people = VILLAGE_PEOPLE if in_village else TOWN_PEOPLE if in_town else COUNTY_PEOPLE
        responsible = users[people[n % len(people)]]
        registrar = users["cun_wangge"] if in_village else users["xian_ganbu"]
        name, sub, description, measures, polygon = template
        shape = db.session.execute(
            SHAPE_SQL, {"code": cell, "seed": n + 1, "radius": 60 + 20 * (n % 4)}
        ).one()
        village_name = db.session.scalar(
            text("SELECT name FROM regions WHERE code = :c"), {"c": cell[:12]}
        )
        data = {
            "category": category,
            "subcategory": sub,
            "level": level,
            "geometry": json.loads(shape.polygon if polygon and shape.polygon else shape.point),
            "name": f"{village_name}{name}" if name else None,
            "description": description or None,
            "measures": measures,
            "responsible_id": responsible.id,
        }
        registered = dt.datetime.combine(
            today - dt.timedelta(days=age_days), dt.time(9, 30), SHANGHAI
        )
        point = services.register(data, registrar, code=code, registered_at=registered)
        period = periods[level]
        # The last inspections on schedule (give or take a day or two), counted back from
        # recently; an overdue point was last inspected a period and a half ago.
        day = today - dt.timedelta(days=period * 3 // 2 + 1 if overdue else jitters[0] + 2)
        days = []
        while day > registered.date() and len(days) < MAX_INSPECTIONS:
            days.append(day)
            day -= dt.timedelta(days=period + jitters[len(days)])
        for k, day in enumerate(reversed(days)):
            result = "abnormal" if abnormal[k] else "normal"
            notes = "发现新情况，已督促整改" if result == "abnormal" else "管控措施落实到位"
            services.record_inspection(
                point, responsible, {"inspected_on": day, "result": result, "notes": notes}
            )
        history(n, point, users, in_village, in_town)
        added += 1
    db.session.flush()
    services.sweep_inspections()
    return added


def history(n: int, point, users: dict, in_village: bool, in_town: bool) -> None:
    """Some points changed level, some asked to be cleared, some were cleared."""
    field = users["cun_wangge"] if in_village else users["xian_tiaojie"]
    official = (
        users["cun_ganbu"]
        if in_village
        else users["zhen_ganbu"]
        if in_town
        else users["xian_ganbu"]
    )
    if n % 11 == 3 and point.level != "red":
        up = LEVEL_ORDER[LEVEL_ORDER.index(point.level) - 1]
        services.change_level(point, field, up, "汛期临近，风险上升，等级上调")
    if n % 13 == 5:
        services.request_clear(point, field, "隐患已整改完毕，经复查无异常")
        if n % 2:
            # xian_tiaojie (county) asks outside the village: a county official decides.
            approver = official if in_village else users["xian_ganbu"]
            services.approve_clear(point, approver, True, "经现场核实，隐患已消除")
    if n % 17 == 8:
        services.request_clear(point, field, "管控对象情况稳定，申请消除")
