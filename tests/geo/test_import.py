"""`flask geo import`: every problem listed, nothing written; re-import by code."""

import json

import pytest
from sqlalchemy import func
from sqlalchemy import select

from app.extensions import db
from app.geo import services
from app.geo.crs import wgs84_to_gcj02
from app.geo.models import GridCell
from app.geo.models import Region
from tests.geo.factories import COUNTY
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.geo.factories import box
from tests.geo.factories import build_cells
from tests.geo.factories import build_county
from tests.geo.factories import collection
from tests.geo.factories import feature


def counts() -> tuple[int, int]:
    """Rows in regions and grid_cells."""
    return (
        db.session.scalar(select(func.count()).select_from(Region)),
        db.session.scalar(select(func.count()).select_from(GridCell)),
    )


def run_import(runner, tmp_path, data, level, *extra):
    """Write data to a file and run `geo import` on it."""
    path = tmp_path / "in.geojson"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return runner.invoke(args=["geo", "import", str(path), "--level", level, *extra])


def test_import_creates_hierarchy_and_reimport_is_idempotent(runner, tmp_path):
    """Importing county, town and village creates them; the same file again changes nothing."""
    county = collection(feature(COUNTY, "测试县", box(118.0, 37.3, 118.2, 37.5)))
    result = run_import(runner, tmp_path, county, "county")
    assert result.exit_code == 0, result.output
    assert "新增 1" in result.output
    result = run_import(runner, tmp_path, county, "county")
    assert result.exit_code == 0
    assert "新增 0，更新 0，未变 1" in result.output
    town = collection(feature(TOWN, "甲镇", box(118.0, 37.3, 118.1, 37.5), COUNTY))
    assert run_import(runner, tmp_path, town, "town").exit_code == 0
    region = db.session.scalar(select(Region).where(Region.code == TOWN))
    assert region.parent.code == COUNTY
    assert region.level == "town"


def test_reimport_updates_by_code(runner, tmp_path):
    """A changed name under an existing code updates the row in place."""
    build_county()
    before = db.session.scalar(select(Region.id).where(Region.code == VILLAGE))
    data = collection(feature(VILLAGE, "东村（改名）", box(118.0, 37.3, 118.05, 37.35), TOWN))
    result = run_import(runner, tmp_path, data, "village")
    assert result.exit_code == 0, result.output
    assert "更新 1" in result.output
    region = db.session.scalar(select(Region).where(Region.code == VILLAGE))
    assert (region.id, region.name) == (before, "东村（改名）")


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[118.0, 37.3], [118.01, 37.31], [118.01, 37.3], [118.0, 37.31], [118.0, 37.3]]
    ],
}


@pytest.mark.parametrize(
    ("level", "feat", "message"),
    [
        (
            "village",
            feature("37169910120", "短码村", box(118.0, 37.3, 118.01, 37.31), TOWN),
            "code 格式错误",
        ),
        (
            "village",
            feature("371699101000", "零码村", box(118.0, 37.3, 118.01, 37.31), TOWN),
            "code 格式错误",
        ),
        (
            "village",
            feature("371699101205", "", box(118.0, 37.3, 118.01, 37.31), TOWN),
            "缺少 name",
        ),
        (
            "village",
            feature("371699101205", "无上级村", box(118.0, 37.3, 118.01, 37.31)),
            "缺少 parent_code",
        ),
        (
            "village",
            feature("371699103205", "孤村", box(118.0, 37.3, 118.01, 37.31), "371699103000"),
            "不存在",
        ),
        (
            "village",
            feature("371699102205", "错上级", box(118.0, 37.3, 118.01, 37.31), TOWN),
            "不一致",
        ),
        (
            "village",
            feature("371699101205", "越界村", box(118.09, 37.3, 118.12, 37.31), TOWN),
            "超出上级",
        ),
        ("village", feature("371699101205", "自交村", BOWTIE, TOWN), "几何无效：Self-intersection"),
        (
            "village",
            feature("371699101205", "点村", {"type": "Point", "coordinates": [118.0, 37.3]}, TOWN),
            "几何类型应为 Polygon 或 MultiPolygon",
        ),
        (
            "village",
            feature(
                "371699101205",
                "开环村",
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[118.0, 37.3], [118.01, 37.3], [118.01, 37.31], [118.0, 37.31]]
                    ],
                },
                TOWN,
            ),
            "未闭合",
        ),
        (
            "county",
            feature("371698000000", "海外县", box(150.0, 37.3, 150.2, 37.5)),
            "超出中国范围",
        ),
        (
            "village",
            feature("371699101205", "重叠村", box(118.04, 37.31, 118.06, 37.33), TOWN),
            "重叠",
        ),
        (
            "town",
            feature(VILLAGE, "级别冲突", box(118.0, 37.3, 118.01, 37.31), COUNTY),
            "code 格式错误",
        ),
    ],
)
def test_bad_feature_is_refused_and_nothing_written(runner, tmp_path, level, feat, message):
    """Each kind of bad input gives its own message naming the feature, and writes nothing."""
    build_county()
    before = counts()
    good = feature("371699101209", "好村", box(118.0, 37.49, 118.01, 37.5), TOWN)
    data = collection(good, feat) if level == "village" else collection(feat)
    result = run_import(runner, tmp_path, data, level)
    assert result.exit_code == 1
    assert "未写入任何数据" in result.output
    assert message in result.output
    assert "要素 #" in result.output
    assert counts() == before
    assert db.session.scalar(select(Region).where(Region.code == "371699101209")) is None


def test_every_problem_is_listed(runner, tmp_path):
    """Several bad features: all problems are reported at once, with index and code."""
    build_county()
    data = collection(
        feature("371699101205", "甲", box(118.0, 37.3, 118.01, 37.31), TOWN),
        feature("371699101205", "重复", box(118.0, 37.36, 118.01, 37.37), TOWN),
        feature("bad", "乙", box(118.0, 37.3, 118.01, 37.31), TOWN),
        feature("371699101207", "丙", BOWTIE, TOWN),
    )
    result = run_import(runner, tmp_path, data, "village")
    assert result.exit_code == 1
    assert "要素 #1 (code 371699101205): code 在文件中重复" in result.output
    assert "要素 #2" in result.output and "code 格式错误" in result.output
    assert "要素 #3 (code 371699101207): 几何无效" in result.output
    # 甲 overlaps 东村, and 重复 too: listed as well
    assert "要素 #0 (code 371699101205): 与 371699101200 重叠" in result.output


def test_not_json_or_not_a_collection(runner, tmp_path):
    """A file that is not JSON, or not a FeatureCollection, is refused with a clear message."""
    result = run_import(runner, tmp_path, "{not json", "county")
    assert result.exit_code == 1
    assert "不是有效的 JSON" in result.output
    result = run_import(runner, tmp_path, {"type": "Feature"}, "county")
    assert result.exit_code == 1
    assert "不是 GeoJSON FeatureCollection" in result.output
    assert counts() == (0, 0)


def test_grid_cells_must_not_overlap_within_village(runner, tmp_path):
    """Two cells of one village overlapping by more than 1 m² are refused; edge contact is fine."""
    build_county()
    data = collection(
        feature(f"{VILLAGE}001", "一", box(118.0, 37.3, 118.03, 37.35), VILLAGE),
        feature(f"{VILLAGE}002", "二", box(118.025, 37.3, 118.05, 37.35), VILLAGE),
    )
    result = run_import(runner, tmp_path, data, "grid")
    assert result.exit_code == 1
    assert f"与 {VILLAGE}002 重叠" in result.output
    assert counts()[1] == 0
    build_cells()
    assert counts()[1] == 3


def test_grid_cell_must_lie_inside_village_within_one_metre(tmp_path):
    """A cell 0.5 m outside its village passes; 20 m outside is refused."""
    build_county()
    # 1e-5 degrees of latitude is about 1.1 m; 5e-6 is about 0.55 m.
    ok = collection(feature(f"{VILLAGE}001", "一", box(118.0, 37.3, 118.05, 37.350005), VILLAGE))
    assert services.import_geojson(ok, "grid").inserted == 1
    bad = collection(feature(f"{VILLAGE}002", "二", box(118.0, 37.3, 118.05, 37.3502), VILLAGE))
    with pytest.raises(services.ImportRejected) as exc:
        services.import_geojson(bad, "grid")
    messages = " ".join(str(p) for p in exc.value.problems)
    assert f"要素 #0 (code {VILLAGE}002): 超出上级 {VILLAGE} 的范围 1" in messages


def test_gcj02_file_is_converted(runner, tmp_path):
    """--crs gcj02 converts each coordinate back to WGS84 before storing."""
    ring = [(118.0, 37.3), (118.2, 37.3), (118.2, 37.5), (118.0, 37.5), (118.0, 37.3)]
    shifted = [list(wgs84_to_gcj02(x, y)) for x, y in ring]
    data = collection(feature(COUNTY, "测试县", {"type": "Polygon", "coordinates": [shifted]}))
    result = run_import(runner, tmp_path, data, "county", "--crs", "gcj02")
    assert result.exit_code == 0, result.output
    xmin, ymin = db.session.execute(
        select(func.ST_XMin(Region.boundary), func.ST_YMin(Region.boundary))
    ).one()
    assert xmin == pytest.approx(118.0, abs=1e-7)
    assert ymin == pytest.approx(37.3, abs=1e-7)


def test_new_village_replaces_predecessors(tmp_path):
    """A 新村 with predecessors links them and marks them 已撤销 from its valid_from."""
    build_county()
    new = collection(
        feature(
            "371699101210",
            "新村",
            box(118.0, 37.3, 118.1, 37.35),
            TOWN,
            valid_from="2022-01-01",
            predecessors=[VILLAGE, "371699101201"],
        )
    )
    services.import_geojson(new, "village")
    region = db.session.scalar(select(Region).where(Region.code == "371699101210"))
    assert sorted(p.code for p in region.predecessors) == [VILLAGE, "371699101201"]
    old = db.session.scalar(select(Region).where(Region.code == VILLAGE))
    assert str(old.valid_to) == "2022-01-01"
    assert old.abolished
    # Importing the same file again is a no-op.
    again = services.import_geojson(new, "village")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
