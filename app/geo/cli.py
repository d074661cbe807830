"""`flask geo import` and `flask geo make-grid`."""

import json
import sys

import click

from app.extensions import db
from app.geo import services


@click.group("geo")
def geo_cli():
    """Regions and grid cells."""


@geo_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--level", required=True, type=click.Choice(services.IMPORT_LEVELS), help="what the file holds"
)
@click.option(
    "--crs",
    default="wgs84",
    type=click.Choice(["wgs84", "gcj02", "bd09"]),
    help="coordinates of the file (default wgs84)",
)
def import_command(file, level, crs):
    """Import an RFC 7946 GeoJSON FeatureCollection (properties: code, name, parent_code).

    Every feature is checked first; on any problem nothing is written and every problem is listed.
    Re-importing updates by code.
    """
    try:
        collection = json.load(file)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.echo(f"导入失败：文件不是有效的 JSON（{exc}）", err=True)
        sys.exit(1)
    try:
        result = services.import_geojson(collection, level, crs)
    except services.ImportRejected as exc:
        db.session.rollback()
        click.echo(f"导入失败，未写入任何数据；共 {len(exc.problems)} 个问题：", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(
        f"导入完成（{level}）：新增 {result.inserted}，更新 {result.updated}，"
        f"未变 {result.unchanged}"
    )


@geo_cli.command("make-grid")
@click.argument("village_code")
@click.option("--shape", default="square", type=click.Choice(["square", "hex"]))
@click.option(
    "--cell-size",
    default=500.0,
    type=float,
    help="square: side in metres; hex: edge length in metres",
)
def make_grid_command(village_code, shape, cell_size):
    """Generate grid cells covering a village, replacing its unreferenced cells."""
    try:
        result = services.make_grid(village_code, shape, cell_size)
    except services.GridError as exc:
        db.session.rollback()
        click.echo(f"生成失败：{exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(
        f"村 {result.village_code}：生成 {result.cells} 个网格（EPSG:{result.srid}），"
        f"合并碎片 {result.merged_slivers} 个，替换原有网格 {result.replaced} 个"
    )
