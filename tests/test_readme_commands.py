"""The README's `flask` commands work as printed; every command's --help works without a database.

The README's code blocks run through bash, as printed, from a copy of the project folder (its
entries symlinked, without the developer's .env, .pg, instance/ or backups/), with a .env that
scripts/dev-secrets.sh writes for a scratch database on TEST_DATABASE_URL's server, and with no
DATABASE_URL, secret or FLASK_APP in the environment: only .flaskenv and .env tell `flask` where
to go, as after `make db`. The blocks run in README order on a migrated, empty database; the
files the import commands name are the demo county's geography, and password.txt is given.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup
from flask.cli import ScriptInfo
from flask.cli import load_dotenv
from flask_migrate import upgrade
from shapely.geometry import box
from shapely.geometry import mapping
from shapely.geometry import shape
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app import MIGRATIONS_DIR
from app import create_app
from app.config import NO_DATABASE_URL
from app.config import sqlalchemy_url
from app.demo import geography
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
# Not copied into the scratch project folder: the developer's own state.
PRIVATE = {".env", ".pg", "instance", "backups", "var", ".git", ".venv", "bench"}
# Cleared from the commands' environment, so that only .flaskenv and .env configure them.
CLEARED = {
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "PERSONAL_DATA_KEY",
    "BACKUP_DIR",
    "ATTACHMENT_DIR",
    "RESTORE_URL",
    "MIGRATION_DATABASE_URL",
    "DATABASE_APP_ROLE",
    "AUDIT_SIGNING_KEY",
    "AUDIT_VERIFY_KEYS",
    "AUDIT_CHECKPOINT_DIR",
}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LI4_PASSWORD = "readme-li4-password"
WANG5_PASSWORD = "readme-wang5-password"


def readme_blocks() -> list[str]:
    """The README's shell code blocks that run `.venv/bin/flask`, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        body
        for lang, body in FENCE.findall(readme)
        if lang in ("", "sh", "bash") and re.search(r"^\.venv/bin/flask ", body, re.MULTILINE)
    ]


def command_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: none of the app's settings, no FLASK_* variables."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith("FLASK_")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def make_database(database_url) -> Iterator[Callable[[str], str]]:
    """Empty scratch databases beside the test database (from template1, which has PostGIS)."""
    url = make_url(database_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    names: list[str] = []

    def make(suffix: str) -> str:
        name = f"{url.database}_readme_{os.getpid()}_{suffix}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def project_copy(where: Path) -> Path:
    """A project folder of symlinks to this one, without the developer's private state."""
    where.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in PRIVATE and entry.name != "__pycache__":
            (where / entry.name).symlink_to(entry)
    (where / ".venv").symlink_to(Path(sys.prefix))  # the interpreter running the tests
    return where


def run(project: Path, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command in the project folder, as a new user would."""
    kwargs.setdefault("env", command_env())
    return subprocess.run(
        args, cwd=project, capture_output=True, text=True, timeout=180, check=False, **kwargs
    )


def write_geography(project: Path) -> None:
    """The files the README's import commands name: the demo county, two cells of one village."""
    features = geography.build()
    for name, level in [("county", "county"), ("towns", "town"), ("villages", "village")]:
        collection = geography.collection(features[level])
        (project / f"{name}.geojson").write_text(json.dumps(collection), encoding="utf-8")
    village = next(f for f in features["village"] if f["properties"]["code"] == "371699101200")
    polygon = shape(village["geometry"])
    minx, miny, maxx, maxy = polygon.bounds
    middle = polygon.centroid.x
    halves = [box(minx - 1, miny - 1, middle, maxy + 1), box(middle, miny - 1, maxx + 1, maxy + 1)]
    cells = [
        {
            "type": "Feature",
            "properties": {
                "code": f"371699101200{n:03d}",
                "name": f"第{n}网格",
                "parent_code": "371699101200",
            },
            "geometry": mapping(polygon.intersection(half)),
        }
        for n, half in enumerate(halves, start=1)
    ]
    collection = geography.collection(cells)
    (project / "cells.geojson").write_text(json.dumps(collection), encoding="utf-8")


@pytest.fixture(scope="module")
def readme_project(make_database, tmp_path_factory):
    """The scratch project folder, its .env (by scripts/dev-secrets.sh) on a migrated database."""
    url = make_database("app")
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url)})
    with migrated.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        db.engine.dispose()
    project = project_copy(tmp_path_factory.mktemp("readme") / "gridgov")
    made = run(project, ["scripts/dev-secrets.sh", url])
    assert made.returncode == 0, made.stderr
    return {"project": project, "url": url, "restore_url": make_database("restore")}


def query(url: str, sql: str, **params):
    """Rows from a scratch database."""
    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def check_import(setup, out: str) -> None:
    """Every level imported; 于楼村 got its generated cells."""
    for level in ("county", "town", "village"):
        assert f"导入完成（{level}）：新增 " in out
    assert "导入完成（grid）：新增 2，" in out
    assert "村 371699101204：生成 " in out
    counts = query(
        setup["url"],
        """SELECT v.code, count(g.id) FROM regions v JOIN grid_cells g ON g.village_id = v.id
            WHERE v.code IN ('371699101200', '371699101204') GROUP BY v.code ORDER BY v.code""",
    )
    assert counts[0] == ("371699101200", 2)
    assert counts[1][0] == "371699101204" and counts[1][1] > 1


def check_accounts(setup, out: str) -> None:
    """li4 created then deactivated; wang5 on its two cells with a token; the chain intact."""
    for expected in ("已创建用户 li4", "已创建用户 wang5", "已停用用户 li4", "审计链完整："):
        assert expected in out
    assert re.search(r"令牌 #\d+（手机），有效期至 \d{4}-\d{2}-\d{2}：\nggv_\S+", out)
    users = dict(query(setup["url"], "SELECT username, active FROM users ORDER BY username"))
    assert users == {"li4": False, "wang5": True}
    cells = query(
        setup["url"],
        """SELECT g.code FROM user_grid_cells ug JOIN grid_cells g ON g.id = ug.grid_cell_id
             JOIN users u ON u.id = ug.user_id WHERE u.username = 'wang5' ORDER BY g.code""",
    )
    assert [c for (c,) in cells] == ["371699101200001", "371699101200002"]
    tokens = query(
        setup["url"],
        """SELECT t.name FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE u.username = 'wang5'""",
    )
    assert tokens == [("手机",)]


def check_backup(setup, out: str) -> None:
    """A dump and its manifest in backups/; verified; restored into RESTORE_URL and verified."""
    dumps = list((setup["project"] / "backups").glob("*.dump"))
    assert len(dumps) == 1
    assert dumps[0].with_suffix(".manifest.json").exists()
    for expected in ("备份完成：", "核对完成：", "恢复完成："):
        assert expected in out
    restored = query(setup["restore_url"], "SELECT username FROM users ORDER BY username")
    assert restored == [("li4",), ("wang5",)]


# Each README block the test knows, by a command it holds, with what running it must have done.
CHECKS = {
    "geo import": check_import,
    "users create": check_accounts,
    "ops backup": check_backup,
}


def test_readme_flask_commands_work_as_printed(readme_project):
    """Every README block that runs `.venv/bin/flask` exits 0 and does what it says, in order."""
    assert importlib.util.find_spec("dotenv"), "python-dotenv (requirements.txt) is not installed"
    project = readme_project["project"]
    dotenv = (project / ".env").read_text(encoding="utf-8")
    assert f"DATABASE_URL='{readme_project['url']}'" in dotenv
    assert re.search(r"^PERSONAL_DATA_KEY='[A-Za-z0-9_=-]{44}'$", dotenv, re.MULTILINE)
    assert (project / ".env").stat().st_mode & 0o077 == 0
    write_geography(project)
    (project / "password.txt").write_text(WANG5_PASSWORD + "\n", encoding="utf-8")
    blocks = readme_blocks()
    seen = []
    for block in blocks:
        result = run(
            project,
            ["bash", "-euo", "pipefail", "-c", block],
            input=LI4_PASSWORD + "\n",  # the one prompt (not a terminal: the first line of stdin)
            env=command_env(RESTORE_URL=readme_project["restore_url"]),
        )
        assert result.returncode == 0, f"{block}\n--- stdout\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        for needle, check in CHECKS.items():
            if f".venv/bin/flask {needle} " in block:
                check(readme_project, result.stdout)
                seen.append(needle)
    assert seen == list(CHECKS), f"README blocks with flask commands: {blocks}"


def test_environment_wins_over_dotenv_files(readme_project, monkeypatch):
    """`make test` exports DATABASE_URL: the generated .env never overrides it, fills the rest."""
    for name in (
        "DATABASE_URL",
        "SECRET_KEY",
        "PERSONAL_DATA_KEY",
        "FLASK_APP",
        "FLASK_SKIP_DOTENV",
    ):
        monkeypatch.delenv(name, raising=False)  # restored (or removed again) afterwards
    monkeypatch.setenv("DATABASE_URL", "postgresql://exported@/the_test_database")
    monkeypatch.setenv("SECRET_KEY", "exported-secret")
    monkeypatch.chdir(readme_project["project"])
    assert load_dotenv()
    assert os.environ["DATABASE_URL"] == "postgresql://exported@/the_test_database"
    assert os.environ["SECRET_KEY"] == "exported-secret"
    assert len(os.environ["PERSONAL_DATA_KEY"]) == 44  # from .env
    assert os.environ["FLASK_APP"] == "wsgi"  # from .flaskenv


# --- no database at all -------------------------------------------------------------------------


def flask_cli() -> FlaskGroup:
    """The `flask` command as its entry point builds it (without reading the project's .env)."""
    return FlaskGroup(name="flask", create_app=create_app, load_dotenv=False)


def command_paths(group: click.Group, ctx: click.Context, prefix=()) -> Iterator[tuple[str, ...]]:
    """Every group and subcommand under group, depth first."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, ctx, (*prefix, name))


@pytest.fixture
def no_database(monkeypatch, fsa_session) -> ScriptInfo:
    """DATABASE_URL unset; one loaded `flask` app (as `flask` loads it) shared by the runs."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # The app's own session, not the suite's (bound to the test database's connection).
    monkeypatch.setattr(db, "session", fsa_session)
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    return ScriptInfo(create_app=create_app, load_dotenv_defaults=False)


def test_every_help_works_without_a_database(no_database):
    """`flask --help` and every group's and command's --help exit 0 with no DATABASE_URL."""
    cli = flask_cli()
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"], obj=no_database)
    assert top.exit_code == 0, top.output
    assert "Traceback" not in top.output and "Error" not in top.output
    with click.Context(cli, obj=no_database) as ctx:
        paths = list(command_paths(cli, ctx))
    registered = {"geo", "seed", "ops", "users", "audit", "policy", "cases", "risks", "db"}
    assert registered <= {path[0] for path in paths}
    assert ("users", "token", "create") in paths and ("db", "upgrade") in paths
    for path in paths:
        result = runner.invoke(cli, [*path, "--help"], obj=no_database)
        assert result.exit_code == 0, (path, result.output)
        assert f"Usage: flask {' '.join(path)} " in result.output, (path, result.output)


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "verify"],
        ["users", "create", "li4", "--role", "mediator", "--region", "371699101000"],
        ["users", "deactivate", "li4"],
        ["users", "token", "create", "wang5"],
        ["geo", "make-grid", "371699101204"],
        ["cases", "sweep"],
        ["risks", "sweep"],
        ["seed", "demo"],
        ["ops", "backup", "--out", "{tmp}"],
        ["ops", "verify", "{tmp}/x.dump"],
    ],
)
def test_commands_needing_the_database_say_what_to_do(no_database, args, tmp_path):
    """Without DATABASE_URL a command that needs it prints NO_DATABASE_URL and exits 1."""
    args = [a.replace("{tmp}", str(tmp_path / "out")) for a in args]
    result = CliRunner().invoke(flask_cli(), args, obj=no_database, input="a-long-password\n")
    assert result.exit_code == 1, result.output
    assert f"Error: {NO_DATABASE_URL}" in result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    assert not (tmp_path / "out").exists()  # ops backup stopped before writing anything


def test_serving_without_a_database_refuses(monkeypatch):
    """gunicorn's `wsgi:app` (create_app outside the CLI) and `flask run` refuse to start."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="DATABASE_URL is not set"):
        create_app()

    def serve(*args, **kwargs):
        raise AssertionError("flask run started a server without a database")

    monkeypatch.setattr("werkzeug.serving.run_simple", serve)
    info = ScriptInfo(create_app=create_app, load_dotenv_defaults=False)
    result = CliRunner().invoke(flask_cli(), ["run"], obj=info)
    assert result.exit_code == 1, result.output
    assert f"Error: {NO_DATABASE_URL}" in result.output


def test_the_real_flask_command_without_database_or_dotenv(tmp_path):
    """The installed `flask` entry point, in a project folder with no .env and no DATABASE_URL."""
    project = project_copy(tmp_path / "gridgov")
    helped = run(project, [".venv/bin/flask", "--help"])
    assert helped.returncode == 0, helped.stderr
    assert "Traceback" not in helped.stderr and "Error" not in helped.stderr
    for group in ("audit", "cases", "geo", "ops", "users"):
        assert re.search(rf"^  {group} ", helped.stdout, re.MULTILINE), helped.stdout
    verified = run(project, [".venv/bin/flask", "audit", "verify"])
    assert verified.returncode == 1
    assert verified.stderr.strip() == f"Error: {NO_DATABASE_URL}"
