"""`flask geo make-grid`: coverage, no overlaps, no slivers, stable numbering."""

import pytest
from sqlalchemy import text

from app.extensions import db
from app.geo import services
from tests.geo.factories import TOWN
from tests.geo.factories import VILLAGE
from tests.geo.factories import build_county
from tests.geo.factories import collection
from tests.geo.factories import feature

IRREGULAR = {
    "type": "Polygon",
    "coordinates": [
        [
            [118.1, 37.36],
            [118.137, 37.362],
            [118.149, 37.389],
            [118.128, 37.41],
            [118.112, 37.403],
            [118.104, 37.384],
            [118.1, 37.36],
        ]
    ],
}
IRREGULAR_CODE = "371699102203"


def build_irregular() -> None:
    """An irregular village in the second town."""
    build_county()
    services.import_geojson(
        collection(feature(IRREGULAR_CODE, "不规则村", IRREGULAR, "371699102000")), "village"
    )


def cell_stats(village_code: str) -> dict:
    """Coverage, overlap and smallest-cell figures for a village's cells, in metres."""
    return (
        db.session.execute(
            text(
                """
                WITH v AS (SELECT id, boundary FROM regions WHERE code = :code),
                     c AS (SELECT g.code, g.geom FROM grid_cells g, v WHERE g.village_id = v.id)
                SELECT (SELECT ST_Area(boundary::geography) FROM v) AS village_area,
                       (SELECT ST_Area(ST_Union(geom)::geography) FROM c) AS union_area,
                       (SELECT sum(ST_Area(geom::geography)) FROM c) AS sum_area,
                       (SELECT min(ST_Area(geom::geography)) FROM c) AS min_area,
                       (SELECT count(*) FROM c) AS cells,
                       (SELECT coalesce(max(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
                          FROM c a JOIN c b ON a.code < b.code AND ST_Intersects(a.geom, b.geom))
                         AS max_overlap
                """
            ),
            {"code": village_code},
        )
        .mappings()
        .one()
    )


@pytest.mark.parametrize(("shape", "size"), [("square", 800.0), ("hex", 450.0), ("square", 300.0)])
def test_grid_covers_village_without_overlaps_or_slivers(shape, size):
    """Cells cover the village within 0.5%, do not overlap, and none is a sliver."""
    build_irregular()
    result = services.make_grid(IRREGULAR_CODE, shape, size)
    stats = cell_stats(IRREGULAR_CODE)
    assert stats["cells"] == result.cells > 3
    assert abs(stats["union_area"] - stats["village_area"]) / stats["village_area"] < 0.005
    assert abs(stats["sum_area"] - stats["village_area"]) / stats["village_area"] < 0.005
    assert stats["max_overlap"] < 1.0
    nominal = size**2 if shape == "square" else 3 * 3**0.5 / 2 * size**2
    # Projection scale (UTM) makes geodesic areas differ from planar ones by well under 1%.
    assert stats["min_area"] >= 0.25 * nominal * 0.99
    assert result.merged_slivers > 0


def test_numbering_is_stable_and_west_to_east_north_to_south():
    """Generating twice gives the same codes and shapes; 001 is in the top row, leftmost."""
    build_irregular()
    services.make_grid(IRREGULAR_CODE, "square", 800)
    first = db.session.execute(
        text("SELECT code, ST_AsText(geom) FROM grid_cells ORDER BY code")
    ).all()
    services.make_grid(IRREGULAR_CODE, "square", 800)
    second = db.session.execute(
        text("SELECT code, ST_AsText(geom) FROM grid_cells ORDER BY code")
    ).all()
    assert first == second
    assert [c for c, _ in first] == [f"{IRREGULAR_CODE}{n:03d}" for n in range(1, len(first) + 1)]
    # In the metric projection the grid is axis-aligned: each cell's row and column follow from
    # an interior point; codes must run along rows (west→east), rows from north to south.
    srid = services.utm_srid(118.12)
    rows = db.session.execute(
        text(
            """
            SELECT code,
                   floor(ST_Y(ST_PointOnSurface(ST_Transform(geom, :srid))) / 800) AS row,
                   floor(ST_X(ST_PointOnSurface(ST_Transform(geom, :srid))) / 800) AS col
              FROM grid_cells ORDER BY code
            """
        ),
        {"srid": srid},
    ).all()
    assert [r.code for r in rows] == [r.code for r in sorted(rows, key=lambda r: (-r.row, r.col))]
    assert (
        "不规则村第1网格"
        in db.session.execute(text("SELECT name FROM grid_cells ORDER BY code LIMIT 1")).scalar()
    )


def test_make_grid_refuses_referenced_cells():
    """Cells that another table references are not replaced."""
    build_irregular()
    services.make_grid(IRREGULAR_CODE, "square", 800)
    db.session.execute(text("CREATE TABLE tmp_refs (cell_id int REFERENCES grid_cells(id))"))
    db.session.execute(text("INSERT INTO tmp_refs SELECT min(id) FROM grid_cells"))
    with pytest.raises(services.GridError, match="被 tmp_refs 中 1 条记录引用"):
        services.make_grid(IRREGULAR_CODE, "square", 500)


@pytest.mark.parametrize(
    ("code", "shape", "size", "message"),
    [
        ("371699109999", "square", 500, "不存在"),
        (TOWN, "square", 500, "不是村"),
        (VILLAGE, "triangle", 500, "shape"),
        (VILLAGE, "square", 1, "cell-size"),
        (VILLAGE, "square", 20, "超过每村 999 个"),
    ],
)
def test_make_grid_bad_requests(code, shape, size, message):
    """Unknown or wrong-level codes, bad shapes and sizes give clear errors and write nothing."""
    build_county()
    with pytest.raises(services.GridError, match=message):
        services.make_grid(code, shape, size)
    assert db.session.execute(text("SELECT count(*) FROM grid_cells")).scalar() == 0


def test_make_grid_command(runner):
    """The CLI reports what it made; an error exits 1 with the reason."""
    build_county()
    result = runner.invoke(args=["geo", "make-grid", VILLAGE, "--cell-size", "1000"])
    assert result.exit_code == 0, result.output
    assert "生成" in result.output and "EPSG:326" in result.output
    count = db.session.execute(text("SELECT count(*) FROM grid_cells")).scalar()
    assert count > 10
    result = runner.invoke(args=["geo", "make-grid", "371699109999"])
    assert result.exit_code == 1
    assert "不存在" in result.output
