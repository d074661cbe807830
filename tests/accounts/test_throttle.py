"""Login throttling: 5 failures per account per 15 minutes, per address too, shared via Redis."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.audit.models import AuditEntry
from app.extensions import db
from tests.accounts.helpers import csrf_from
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def attempt(client, username, password="wrong-password!"):
    """One API sign-in attempt; returns the status."""
    return client.post(
        "/api/v1/auth/tokens", json={"username": username, "password": password}
    ).status_code


def test_five_failures_lock_the_account_even_for_the_right_password(client, world):
    """After 5 failures the 6th attempt is 429, even with the right password; it is audited."""
    assert [attempt(client, "mediator-town") for _ in range(5)] == [401] * 5
    assert attempt(client, "mediator-town", PASSWORD) == 429
    assert attempt(client, "Mediator-Town ", PASSWORD) == 429  # same account, other spelling
    # Another account is not affected.
    assert attempt(client, "official-town", PASSWORD) == 201
    denied = db.session.scalars(
        select(AuditEntry.detail).where(AuditEntry.outcome == "denied")
    ).all()
    assert {"username": "mediator-town", "reason": "throttled"} in denied


def test_successes_do_not_count(client, world):
    """Only failures are counted: many good sign-ins never lock an account."""
    assert [attempt(client, "official-town", PASSWORD) for _ in range(8)] == [201] * 8


def test_unknown_and_known_accounts_throttle_alike(client, world):
    """An unknown username is throttled exactly like a known one (no enumeration)."""
    known = [attempt(client, "mediator-town") for _ in range(6)]
    unknown = [attempt(client, "no-such-user") for _ in range(6)]
    assert known == unknown == [401] * 5 + [429]


def test_web_and_api_logins_share_the_count(client, world):
    """Failures on the login form and on the token endpoint add up."""
    for _ in range(3):
        assert attempt(client, "admin-town") == 401
    for _ in range(2):
        token = csrf_from(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login", data={"username": "admin-town", "password": "nope-nope!", "csrf_token": token}
        )
        assert response.status_code == 401
    assert attempt(client, "admin-town", PASSWORD) == 429


def test_per_address_limit(app, client, world, monkeypatch):
    """Failures from one address across many accounts hit the per-address limit."""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_ADDRESS", "4 per 15 minutes")
    statuses = [attempt(client, f"someone-{i}") for i in range(6)]
    assert statuses == [401] * 4 + [429] * 2


# --- several app instances sharing one Redis -----------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 20) -> None:
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


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A private Redis (Debian's redis-server, installed by make test) on a free port."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def scratch_db(database_url):
    """A migrated throw-away database: the servers below commit audit rows for real."""
    url = make_url(database_url)
    name = f"{url.database}_throttle_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    scratch = url.set(database=name).render_as_string(hide_password=False)
    # Migrated as the suite's role: an empty MIGRATION_DATABASE_URL hides the one in .env.
    env = {**os.environ, "DATABASE_URL": scratch, "FLASK_APP": "wsgi", "MIGRATION_DATABASE_URL": ""}
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        yield scratch
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start_servers(count: int, database: str, storage: str) -> tuple[list, list[str]]:
    """`count` separate gunicorn processes of the app, each with its own limiter."""
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "RATELIMIT_STORAGE_URI": storage,
        "SECRET_KEY": "test-secret",
        # A failed sign-in's audit hashes what was typed (app/accounts/services.tried_username).
        "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
    }
    procs, urls = [], []
    for _ in range(count):
        port = free_port()
        procs.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    "-w",
                    "1",
                    "-b",
                    f"127.0.0.1:{port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            # Two app processes importing at once beside the suite's other worker: well over 20 s
            # on a loaded 2-core machine (a fresh-clone CI run timed out at 20).
            wait_for(url + "/healthz/live", seconds=90)
    except BaseException:
        stop_servers(procs)  # not left running into the next test (a ResourceWarning there)
        raise
    return procs, urls


def stop_servers(procs: list) -> None:
    """Stop the processes start_servers started, and reap them."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def post_login(base: str, username: str) -> int:
    """A failed sign-in against a running server; returns the status."""
    request = urllib.request.Request(
        base + "/api/v1/auth/tokens",
        data=f'{{"username": "{username}", "password": "wrong-password!"}}'.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


ROOT = Path(__file__).resolve().parents[2]


def make_value(name: str, **env: str) -> str:
    """What `make run` would use for a variable, in an environment without DATABASE_URL."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", name, "MAKEFLAGS"}}
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", f"print-{name}"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def embedded_redis() -> str:
    """The embedded set-up's private Redis (scripts/pg.sh), started if it is not running."""
    subprocess.run([str(ROOT / "scripts/pg.sh"), "redis-start"], check=True, capture_output=True)
    return subprocess.run(
        [str(ROOT / "scripts/pg.sh"), "redis-url"], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_make_run_counts_sign_in_failures_in_the_private_redis_unless_told_otherwise():
    """As installed, every worker shares one counter (issue 19 item 8); the setting still wins."""
    assert make_value("RATELIMIT_STORAGE_URI") == embedded_redis()
    assert embedded_redis().startswith("redis+unix:///")
    assert make_value("RATELIMIT_STORAGE_URI", RATELIMIT_STORAGE_URI="memory://") == "memory://"
    # With an outside database and no setting, the app's own default (memory://) applies.
    assert make_value("RATELIMIT_STORAGE_URI", DATABASE_URL="postgresql://x@/y") == ""


@pytest.mark.parametrize(
    ("storage", "shared"), [("redis", True), ("embedded", True), ("memory://", False)]
)
def test_throttle_holds_across_instances_sharing_storage(redis_url, scratch_db, storage, shared):
    """Two separate processes: with Redis (a server, or make run's private one) the 6th failure
    is refused; with memory it is not."""
    chosen = {"redis": redis_url, "embedded": embedded_redis() if storage == "embedded" else ""}
    procs, (a, b) = start_servers(2, scratch_db, chosen.get(storage, storage))
    try:
        username = f"shared-{storage[:5]}-{os.getpid()}"
        statuses = [post_login(a, username) for _ in range(3)]
        statuses += [post_login(b, username) for _ in range(2)]
        assert statuses == [401] * 5
        sixth = post_login(a, username)
        assert sixth == (429 if shared else 401)
    finally:
        stop_servers(procs)
