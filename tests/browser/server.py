"""A real GridGov server for browser tests and screenshots: a scratch database, the demo county,
gunicorn on a free loopback port, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# No sandbox (tests may run as root), no GPU, and nothing that calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PERSONAL_DATA_KEY = "dGVzdC1vbmx5LXBlcnNvbmFsLWRhdGEta2V5LTMyYnl0ZXM="
DEMO_PASSWORD = "gridgov-demo"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    """Poll until the URL answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


@contextmanager
def scratch_database(base_url: str, suffix: str):
    """A new empty database beside `base_url` (dropped afterwards)."""
    url = make_url(base_url)
    name = f"{url.database}_{suffix}_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def server_env(database: str, **extra: str) -> dict:
    """The environment of the server and its set-up commands: no tiles, so no outside host
    (`extra` settings override, e.g. BASEMAP for tests/browser/test_basemaps.py)."""
    return {
        **os.environ,
        "DATABASE_URL": database,
        "MIGRATION_DATABASE_URL": "",  # migrated as the suite's role, not .env's owner
        "FLASK_APP": "wsgi",
        "SECRET_KEY": "browser-tests-only",
        "PERSONAL_DATA_KEY": PERSONAL_DATA_KEY,
        "TILE_URL": "none",
        "DB_STATEMENT_TIMEOUT_MS": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


# `flask db upgrade` then `flask seed demo --no-history`, in one process: each start imports the
# app (about 5 s of every browser-testing worker's set-up).
PREPARE = """
from wsgi import app

for args in (["db", "upgrade"], ["seed", "demo", "--no-history"]):
    with app.app_context():  # as `flask` runs every command
        result = app.test_cli_runner().invoke(args=args)
    if result.exit_code != 0:
        raise SystemExit(f"flask {' '.join(args)}: {result.output}{result.exception!r}")
"""


def prepare(database: str) -> None:
    """Migrate the database and load the demo county, its accounts, risk points and cases."""
    subprocess.run(
        [str(BIN / "python"), "-c", PREPARE],
        cwd=ROOT,
        env=server_env(database),
        check=True,
        capture_output=True,
    )


# The log of each running server, by base URL: tests/browser/conftest.py adds its tail to the report
# of a failed test (one JSON line per request with its status and duration, and any error).
SERVER_LOGS: dict[str, Path] = {}


@contextmanager
def running_server(database: str, workers: int = 2, **extra: str):
    """gunicorn serving the app on 127.0.0.1 as `make run` serves it (app/ops/gunicorn_conf.py:
    threaded workers with keep-alive); yields its base URL.

    Not sync workers: chromium opens spare connections ahead of need (preconnect) and may never
    send on them; a sync worker waits on such a connection with nothing to read, and with two
    workers a form's answer could wait behind them for half a minute (the browser tests timed
    out that way under load, a different test each run)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"gridgov-browser-server-{os.getpid()}-{port}.log"
    SERVER_LOGS[base] = log
    logged = {"LOG_LEVEL": "INFO", "LOG_FORMAT": "json", **extra}
    with log.open("wb") as stderr:  # the server has its own copy of the descriptor
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "python:app.ops.gunicorn_conf",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=server_env(database, **logged),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for(base + "/healthz/live", 120)  # a loaded machine takes its time to import
        yield base
    finally:
        proc.terminate()
        proc.wait(15)
        SERVER_LOGS.pop(base, None)
        log.unlink(missing_ok=True)


def log_tail(base: str, lines: int = 60) -> str:
    """The last lines the server at `base` logged ('' when it is not running)."""
    log = SERVER_LOGS.get(base)
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def submitted(page, button) -> str:
    """Click a form's submit button (a locator or a selector) and wait for the answer's flash.

    The flashes already on the page are removed first, so the one waited for is the answer's
    (after a redirect or put in place by a script). Returns the success flash's text; a form that
    answered with an error fails here with the error's text, not 30 s later with a timeout."""
    page.evaluate("document.querySelectorAll('.flash').forEach((flash) => flash.remove())")
    (page.locator(button) if isinstance(button, str) else button).click()
    page.wait_for_selector(".flash")
    flashes = page.eval_on_selector_all(
        ".flash", "(all) => all.map((flash) => [flash.className, flash.textContent.trim()])"
    )
    success = [text for classes, text in flashes if "flash-success" in classes.split()]
    assert success, f"the form at {page.url} answered {flashes}"
    return success[0]


def launch(playwright):
    """Debian's chromium (never a downloaded browser build)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def sign_in(page, base: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
