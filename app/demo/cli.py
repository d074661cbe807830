"""`flask seed demo`: the deterministic demo county, idempotent."""

import math
import sys
import time

import click
from sqlalchemy import text

from app.demo import geography
from app.extensions import db
from app.geo import services

CELLS_PER_VILLAGE = 6


@click.group("seed")
def seed_cli():
    """Demo data."""


@seed_cli.command("demo")
def seed_demo_command():
    """Build (or bring up to date) the demo county: towns, villages, 新村 and grid cells."""
    started = time.monotonic()
    try:
        summary = seed_demo()
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
        f"用时 {time.monotonic() - started:.1f} 秒"
    )


def seed_demo() -> dict:
    """Create or update the demo geography; grid cells only for villages that have none."""
    features = geography.build()
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
    return {**counts._asdict(), "new_cells": new_cells}
