"""Soak with faults (`make soak`; a short version runs in the test suite, tests/soak).

Many simulated users work against the app, served by gunicorn on a loopback port, while the
database is restarted in immediate mode (a crash, as far as PostgreSQL can tell) and the network
to it is cut. Afterwards SQL checks that no acknowledged report was lost or doubled, that every
case's state is explained by its timeline, and that the audit chain verifies; the figures go to
bench/RESULTS.md between the `<!-- soak: begin -->` / `<!-- soak: end -->` markers.

Everything runs on a private PostgreSQL cluster that this script creates in /tmp and removes
again: the shared development cluster is never restarted, and nothing else can be disturbed.

The network cut. The cluster listens on a Unix socket only, and the app reaches it through a
small TCP relay on 127.0.0.1 that this script runs (`soak.py relay`). Cutting the network stops
the relay from passing any byte either way and from opening new upstream connections, without
closing anything: what the app sees is what a partition looks like — queries on open
connections hang, new connections get no answer until `DB_CONNECT_TIMEOUT` — and when the cut
ends the held traffic flows again, as after a partition heals. (chmod on the socket directory
does not stop root, moving the socket refuses connections at once rather than dropping them,
and this machine's kernel has neither netem nor an iptables binary, so a relay it is.)

Users, all with their own bearer token, created before the load starts:

- reporters (grid workers): report cases at random points of their cells with an
  Idempotency-Key, and retry every failure and timeout until a definitive answer;
- handlers (village mediator and official): move shared cases along the workflow with the
  version they read (409s are expected: they compete for the same cases);
- readers (town and county staff): read the map layers and the case list.

Run it with the project's venv: `.venv/bin/python bench/soak.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import datetime as dt
import json
import logging
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
BIN = Path(sys.executable).parent  # the project's .venv/bin when run as documented
RESULTS = ROOT / "bench" / "RESULTS.md"
BEGIN, END = "<!-- soak: begin -->", "<!-- soak: end -->"
DATABASE = "gridgov_soak"
# Demo accounts (app/demo): grid workers report in their cells of 371699101200, the village's
# mediator and official handle its cases, town and county staff read the maps.
REPORTERS = ("cun_wangge", "cun_wangge2")
HANDLERS = ("cun_tiaojie", "cun_ganbu")
READERS = ("zhen_ganbu", "zhen_tiaojie", "xian_ganbu", "xian_tiaojie")
CATEGORIES = {"dispute": "邻里", "petition": "征地拆迁安置", "incident": "治安"}
RESOLUTION = {
    "dispute": {"outcome": "referred", "note": "转交司法所"},
    "petition": {"outcome": "explained", "note": "已解释说明", "reply": "处理意见书：已答复"},
    "incident": {"outcome": "handled", "note": "已处置"},
}
FORWARD = ("accept", "start", "resolve", "follow_up", "close")
RECOVERY_LIMIT_S = 30.0
CLIENT_TIMEOUT_S = 20.0  # above DB_STATEMENT_TIMEOUT_MS: the server's own 503 comes first


def log(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def die_with_parent() -> None:
    """Children get SIGTERM when this script dies, however it dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the private cluster -------------------------------------------------------------------------


class Cluster:
    """A throw-away PostgreSQL cluster in /tmp, Unix socket only, owned by `postgres` as root."""

    def __init__(self, synchronous_commit: str):
        self.base = Path(tempfile.mkdtemp(prefix="gg-soak-", dir="/tmp"))
        self.data, self.sock = self.base / "data", self.base / "run"
        self.logfile = self.base / "postgresql.log"
        self.synchronous_commit = synchronous_commit
        (self.base / "soak.pid").write_text(str(os.getpid()))

    def as_owner(self, *args) -> list[str]:
        """Run as the cluster's owner (initdb and pg_ctl refuse root)."""
        args = [str(a) for a in args]
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def run(self, *args, **kwargs) -> subprocess.CompletedProcess:
        """A cluster command that must succeed."""
        return subprocess.run(self.as_owner(*args), check=True, capture_output=True, **kwargs)

    def create(self) -> None:
        """initdb, configure, start, and create the app's role and database with PostGIS."""
        self.sock.mkdir()
        if os.geteuid() == 0:
            for path in (self.base, self.sock):
                shutil.chown(path, "postgres")
        self.run(
            PGBIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--lc-collate=C", "--lc-ctype=C.UTF-8", "--lc-messages=C",
        )  # fmt: skip
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            # Production-like durability (the development cluster runs synchronous_commit=off,
            # which may lose the last acknowledged commits in a crash: --synchronous-commit off
            # shows what that means for the checks below).
            conf.write(
                "listen_addresses = ''\n"
                f"unix_socket_directories = '{self.sock}'\n"
                "max_connections = 200\n"
                f"synchronous_commit = {self.synchronous_commit}\n"
                "jit = off\n"
            )
        self.start()
        self.psql("postgres", "CREATE ROLE gridgov LOGIN CREATEDB")
        self.psql("postgres", f"CREATE DATABASE {DATABASE} OWNER gridgov")
        self.psql(DATABASE, "CREATE EXTENSION postgis")

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self.run(PGBIN / "pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "start")

    def restart_immediate(self) -> None:
        """Immediate shutdown (no checkpoint: crash recovery on start), then start again."""
        self.run(
            PGBIN / "pg_ctl", "-D", self.data, "-l", self.logfile, "-m", "immediate", "-w",
            "-t", "60", "restart",
        )  # fmt: skip

    def psql(self, db: str, sql: str) -> str:
        """Run SQL as the superuser; the output."""
        out = self.run(
            PGBIN / "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.sock,
            "-U", "postgres", "-d", db, "-c", sql, text=True,
        )  # fmt: skip
        return out.stdout

    def url(self, db: str = DATABASE) -> str:
        """The app's direct URL (setup and checks; the load goes through the relay)."""
        return f"postgresql://gridgov@/{db}?host={self.sock}"

    def destroy(self) -> None:
        """Stop the cluster and delete it."""
        remove_cluster(self.base)


def keep_logs(cluster: Cluster) -> None:
    """Copy the server logs somewhere that outlives the cluster (after a failure)."""
    target = Path(tempfile.mkdtemp(prefix="gridgov-soak-logs-", dir="/tmp"))
    for name in ("gunicorn.log", "postgresql.log"):
        with contextlib.suppress(OSError):
            shutil.copy(cluster.base / name, target / name)
    log(f"logs kept in {target}")


def remove_cluster(base: Path) -> None:
    """Stop a soak cluster (if running) and delete its directory."""
    data = base / "data"
    if (data / "postmaster.pid").exists():
        for mode in ("fast", "immediate"):
            args = [PGBIN / "pg_ctl", "-D", data, "-m", mode, "-w", "-t", "30", "stop"]
            args = [str(a) for a in args]
            if os.geteuid() == 0:
                args = ["runuser", "-u", "postgres", "--", *args]
            if subprocess.run(args, capture_output=True).returncode == 0:
                break
    shutil.rmtree(base, ignore_errors=True)


def remove_stale_clusters() -> None:
    """Clusters left by a soak that was killed outright (its pid is gone)."""
    for base in Path("/tmp").glob("gg-soak-*"):
        if not (base / "soak.pid").exists():
            continue  # not a soak cluster (or not yet one)
        try:
            pid = int((base / "soak.pid").read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            log(f"removing a stale soak cluster in {base}")
            remove_cluster(base)


# --- the relay through which the app reaches the database ----------------------------------------


async def relay_main(socket_path: str) -> None:
    """TCP 127.0.0.1:<port> → the cluster's Unix socket; SIGUSR1 cuts, SIGUSR2 restores."""
    loop = asyncio.get_running_loop()
    flowing, stop = asyncio.Event(), asyncio.Event()
    flowing.set()
    loop.add_signal_handler(signal.SIGUSR1, flowing.clear)
    loop.add_signal_handler(signal.SIGUSR2, flowing.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    async def pump(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                await flowing.wait()  # during a cut, bytes wait as packets would be resent
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer) -> None:
        await flowing.wait()  # a new connection during a cut gets no answer
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(socket_path)
        except OSError:
            client_writer.close()  # the server is down: the connection is refused
            return
        await asyncio.gather(pump(client_reader, up_writer), pump(up_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()


class Relay:
    """The relay process."""

    def __init__(self, cluster: Cluster):
        socket_path = cluster.sock / ".s.PGSQL.5432"
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "relay", str(socket_path)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        self.port = int(self.proc.stdout.readline())

    def cut(self) -> None:
        """Stop all traffic to the database."""
        self.proc.send_signal(signal.SIGUSR1)

    def restore(self) -> None:
        """Let the traffic flow again."""
        self.proc.send_signal(signal.SIGUSR2)

    def stop(self) -> None:
        """End the relay."""
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.proc.kill()


# --- set-up: schema, demo county, tokens, points -------------------------------------------------


@dataclass
class Plan:
    """Who the simulated users are."""

    tokens: dict[str, list[str]]
    points: dict[str, list[tuple[float, float]]]
    bbox: tuple[float, float, float, float]
    user_ids: dict[str, int]


def app_env(cluster: Cluster, secret: dict, url: str, extra: dict | None = None) -> dict:
    """The environment of the app's commands and of gunicorn."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PG"))}
    env.update(
        {
            "DATABASE_URL": url,
            "PERSONAL_DATA_KEY": secret["personal_data_key"],
            "SECRET_KEY": secret["secret_key"],
            "LOG_LEVEL": "WARNING",
            "RATELIMIT_STORAGE_URI": "memory://",
            "FLASK_APP": "wsgi",
            **(extra or {}),
        }
    )
    return env


def make_app(cluster: Cluster, secret: dict):
    """The app on the soak database, in this process, for set-up and checks (no time limit)."""
    os.environ["DB_STATEMENT_TIMEOUT_MS"] = "0"  # migrations and seeding run long statements
    sys.path.insert(0, str(ROOT))
    from app import create_app
    from app.config import sqlalchemy_url

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(cluster.url()),
            "PERSONAL_DATA_KEY": secret["personal_data_key"],
            "LOG_LEVEL": "WARNING",
        }
    )


def flask(app, *args: str) -> tuple[int, str]:
    """Run a `flask` command (`db upgrade`, `seed demo`, `audit verify`) in this process."""
    with app.app_context():
        result = app.test_cli_runner().invoke(args=list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def prepare(app, counts: dict[str, int], seed: int, history: bool = True) -> Plan:
    """Migrate, seed the demo county, and make a token per simulated user (and report points).

    `history`: with the demo's two years of settled cases (`flask seed demo --history`).
    """
    from sqlalchemy import select
    from sqlalchemy import text

    from app.accounts import services as accounts
    from app.accounts.models import User
    from app.extensions import db

    seed_demo = ("seed", "demo", "--history" if history else "--no-history")
    for args in (("db", "upgrade"), seed_demo):
        began = time.monotonic()
        code, output = flask(app, *args)
        if code != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{output}")
        log(f"flask {' '.join(args)}: {time.monotonic() - began:.1f} s")
    tokens, points, user_ids = {}, {}, {}
    with app.app_context():
        for username, count in counts.items():
            user = db.session.scalar(select(User).where(User.username == username))
            user_ids[username] = user.id
            tokens[username] = [
                accounts.create_token(user, f"soak-{i}", 2)[1] for i in range(count)
            ]
        db.session.commit()
        for username in REPORTERS:
            rows = db.session.execute(
                text(
                    """
                    SELECT ST_X(p.geom), ST_Y(p.geom)
                      FROM users u
                      JOIN user_grid_cells ug ON ug.user_id = u.id
                      JOIN grid_cells g ON g.id = ug.grid_cell_id,
                           ST_Dump(ST_GeneratePoints(ST_Buffer(g.geom, -0.0002), 60, :seed)) p
                     WHERE u.username = :username
                    """
                ),
                {"username": username, "seed": seed},
            ).all()
            points[username] = [(round(x, 6), round(y, 6)) for x, y in rows]
        box = db.session.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT boundary::box2d AS b FROM regions WHERE code = '371699000000') r"
            )
        ).one()
        db.session.remove()
        db.engines[None].dispose()
    return Plan(tokens, points, tuple(box), user_ids)


class Server:
    """gunicorn serving the app on a loopback port, with the production settings that matter."""

    def __init__(
        self,
        cluster: Cluster,
        secret: dict,
        relay: Relay | None,
        workers: int,
        url: str | None = None,
        extra: dict | None = None,
    ):
        self.port = free_port()
        # Through the relay, unless the caller names the database itself (bench/soak_ha.py).
        url = url or f"postgresql://gridgov@127.0.0.1:{relay.port}/{DATABASE}"
        env = app_env(
            cluster,
            secret,
            url,
            {
                "DB_POOL_SIZE": "2",
                "DB_CONNECT_TIMEOUT": "5",
                "DB_STATEMENT_TIMEOUT_MS": "15000",
                **(extra or {}),
            },
        )
        self.log = open(cluster.base / "gunicorn.log", "w", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--no-control-socket",
                "wsgi:app",
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 180) -> None:
        """Until /healthz/ready answers 200 (workers boot slowly on a busy machine)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited; see gunicorn.log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> None:
        """Stop gunicorn."""
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- the load ------------------------------------------------------------------------------------

OUTCOMES = ("2xx", "409", "4xx", "503", "503_nonstandard", "5xx", "timeout", "connection")
ANOMALIES = ("503_nonstandard", "5xx", "connection")  # kept with their answers, for the log


@dataclass
class Fault:
    """One injected fault and when the service answered again."""

    kind: str
    started: float
    ended: float = 0.0  # the database is back (restart done, network restored)
    recovered_probe: float | None = None  # first /healthz/ready 200 sent after `ended`
    recovered_traffic: float | None = None  # first 2xx of the load sent after `ended`

    def recovered(self) -> float | None:
        """When the first request sent after the database's return got a 2xx (probe or load)."""
        times = [t for t in (self.recovered_probe, self.recovered_traffic) if t is not None]
        return min(times) if times else None

    def recovery(self) -> float | None:
        """Seconds from the database's return to the service's."""
        return None if self.recovered() is None else self.recovered() - self.ended


@dataclass
class Report:
    """One report as its client saw it."""

    key: str
    username: str
    user_id: int = 0
    attempts: int = 0
    status: int | None = None
    number: str | None = None
    replayed: bool = False


@dataclass
class Load:
    """Everything the simulated users did, for the checks and the figures."""

    started: float = 0.0
    requests: list[tuple[float, float, str, str]] = field(default_factory=list)
    reports: list[Report] = field(default_factory=list)
    probes: list[tuple[float, int]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)  # acknowledged cases, shared by handlers
    anomalies: list[dict] = field(default_factory=list)


def classify(response, error: Exception | None) -> str:
    """The outcome kind of one request."""
    import httpx

    if error is not None:
        return "timeout" if isinstance(error, httpx.TimeoutException) else "connection"
    status = response.status_code
    if 200 <= status < 300:
        return "2xx"
    if status == 409:
        return "409"
    if status == 503:
        return "503" if standard_error(response, 503) else "503_nonstandard"
    return "4xx" if status < 500 else "5xx"


def standard_error(response, status: int) -> bool:
    """The app's one error shape, and no stack trace."""
    try:
        body = response.json()
    except ValueError:
        return False
    return (
        isinstance(body, dict)
        and set(body) == {"code", "status", "message", "errors"}
        and body["code"] == status
        and "Traceback" not in response.text
    )


class User:
    """One simulated user with its own token."""

    def __init__(self, sim: Simulation, username: str, token: str, rng: random.Random):
        self.sim, self.username, self.rng = sim, username, rng
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs):
        """One request; (response or None, outcome)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        sent = time.monotonic()
        response = error = None
        try:
            response = await self.sim.client.request(method, path, headers=headers, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every transport failure is an outcome
            error = exc
        outcome = classify(response, error)
        self.sim.record(sent, outcome, path, method)
        if outcome in ANOMALIES and len(self.sim.load.anomalies) < 20:
            self.sim.load.anomalies.append(
                {
                    "at_s": round(sent - self.sim.load.started, 1),
                    "request": f"{method} {path}",
                    "outcome": outcome,
                    "answer": repr(error) if response is None else response.text[:300],
                }
            )
        return response, outcome

    async def think(self) -> None:
        """A pause between actions (exponential, so arrivals are irregular)."""
        pause = min(self.rng.expovariate(1 / self.sim.think), 4 * self.sim.think)
        await asyncio.sleep(max(0.0, min(pause, self.sim.load_until - time.monotonic())))

    async def run(self) -> None:
        """Work until the load ends."""
        await asyncio.sleep(self.rng.uniform(0, self.sim.think))
        while time.monotonic() < self.sim.load_until:
            await self.step()
            await self.think()


class Reporter(User):
    """Reports cases in its cells, retrying each until a definitive answer; reads the map."""

    async def step(self) -> None:
        if self.rng.random() < 0.25:
            await self.call("GET", "/api/v1/cases", params={"limit": 20})
            return
        kind = self.rng.choice(tuple(CATEGORIES))
        lon, lat = self.rng.choice(self.sim.plan.points[self.username])
        report = Report(key=str(uuid.UUID(int=self.rng.getrandbits(128))), username=self.username)
        body = {
            "kind": kind,
            "category": CATEGORIES[kind],
            "title": f"压测上报 {report.key[:8]}",
            # The key in the text lets the checks find doubles without trusting the key table.
            "description": f"soak:{report.key}",
            "lon": lon,
            "lat": lat,
            "parties": [{"role": "applicant", "name": "张三", "phone": "13812345678"}],
        }
        self.sim.load.reports.append(report)
        delay = 0.2
        while time.monotonic() < self.sim.drain_until:
            report.attempts += 1
            response, outcome = await self.call(
                "POST", "/api/v1/cases", json=body, headers={"Idempotency-Key": report.key}
            )
            if outcome == "2xx":
                data = response.json()
                report.status, report.number = response.status_code, data["number"]
                report.replayed = response.headers.get("Idempotent-Replayed") == "true"
                self.sim.load.numbers.append(data["number"])
                return
            if outcome == "4xx":  # definitive: the report itself is refused
                report.status = response.status_code
                return
            # 409 (the first attempt is still running), 503, 5xx, timeouts: the same again.
            await asyncio.sleep(delay * self.rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 2.0)


class Handler(User):
    """Moves shared cases along the workflow with the version it read."""

    async def step(self) -> None:
        numbers = self.sim.load.numbers
        if not numbers:
            await self.call("GET", "/api/v1/cases", params={"state": "reported", "limit": 20})
            return
        number = self.rng.choice(numbers[-40:])
        response, outcome = await self.call("GET", f"/api/v1/cases/{number}")
        if outcome != "2xx":
            return
        case = response.json()
        action = next((a for a in FORWARD if a in case["allowed_actions"]), None)
        if action is None:
            return
        body = {
            "resolve": RESOLUTION[case["kind"]],
            "follow_up": {"method": "phone", "satisfaction": "satisfied"},
        }.get(action, {})
        await self.call(
            "POST",
            f"/api/v1/cases/{number}/actions/{action}",
            json=body,
            headers={"If-Match": f'"{case["version"]}"'},
        )


class Reader(User):
    """Reads the map layers (a random part of the county) and the case list."""

    async def step(self) -> None:
        # A map window over part of the county, as a phone or a desk screen shows it.
        minx, miny, maxx, maxy = self.sim.plan.bbox
        width = (maxx - minx) * self.rng.uniform(0.1, 0.4)
        height = (maxy - miny) * self.rng.uniform(0.1, 0.4)
        x, y = self.rng.uniform(minx, maxx - width), self.rng.uniform(miny, maxy - height)
        bbox = f"{x:.5f},{y:.5f},{x + width:.5f},{y + height:.5f}"
        path = self.rng.choice(("/api/v1/cases.geojson", "/api/v1/grid-cells", "/api/v1/cases"))
        params = {"limit": 20} if path == "/api/v1/cases" else {"bbox": bbox, "limit": 1000}
        await self.call("GET", path, params=params)


class Simulation:
    """The users, the probe and the fault schedule, on one event loop."""

    def __init__(self, args, plan: Plan, server: Server, cluster: Cluster, relay: Relay):
        self.args, self.plan, self.cluster, self.relay = args, plan, cluster, relay
        self.base_url = server.base_url
        self.think = args.think
        self.load = Load()
        self.client = None
        self.load_until = self.drain_until = 0.0

    def record(self, sent: float, outcome: str, path: str, method: str = "GET") -> None:
        """Remember one request."""
        self.load.requests.append((sent, time.monotonic(), outcome, path))
        if outcome == "2xx" and not path.startswith("/healthz"):
            for fault in self.load.faults:
                if fault.ended and sent >= fault.ended and fault.recovered_traffic is None:
                    fault.recovered_traffic = time.monotonic()

    async def probe(self, client) -> None:
        """Readiness every 250 ms: when did the service answer again?"""
        while time.monotonic() < self.drain_until:
            sent = time.monotonic()
            try:
                status = (await client.get("/healthz/ready", timeout=10.0)).status_code
            except Exception:  # noqa: BLE001 - a failed probe is just not ready
                status = 0
            self.load.probes.append((sent, status))
            if status == 200:
                for fault in self.load.faults:
                    if fault.ended and sent >= fault.ended and fault.recovered_probe is None:
                        fault.recovered_probe = time.monotonic()
            await asyncio.sleep(0.25)

    async def inject(self) -> None:
        """The fault schedule: restarts and one network cut, spread over the run."""
        schedule = fault_schedule(self.args)
        start = self.load.started
        for at, kind in schedule:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            fault = Fault(kind=kind, started=time.monotonic())
            self.load.faults.append(fault)
            if kind == "restart":
                log("fault: pg_ctl restart -m immediate")
                await asyncio.to_thread(self.cluster.restart_immediate)
            else:
                log(f"fault: network to the database cut for {self.args.cut:g} s")
                self.relay.cut()
                await asyncio.sleep(self.args.cut)
                self.relay.restore()
            fault.ended = time.monotonic()
            log(f"fault over after {fault.ended - fault.started:.1f} s")

    async def run(self) -> Load:
        """Run the users, the probe and the faults; wait for the reports to settle."""
        import httpx

        limits = httpx.Limits(max_connections=self.args.users + 20, max_keepalive_connections=50)
        async with (
            httpx.AsyncClient(
                base_url=self.base_url, timeout=CLIENT_TIMEOUT_S, limits=limits
            ) as client,
            httpx.AsyncClient(base_url=self.base_url) as probe_client,
        ):
            self.client = client
            self.load.started = time.monotonic()
            self.load_until = self.load.started + self.args.duration
            self.drain_until = self.load_until + self.args.drain
            users = make_users(self, self.args.users, self.args.seed)
            tasks = [asyncio.create_task(u.run()) for u in users]
            probe = asyncio.create_task(self.probe(probe_client))
            await self.inject()
            await asyncio.gather(*tasks)
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        return self.load


def make_users(sim: Simulation, count: int, seed: int) -> list[User]:
    """40 % reporters, 20 % handlers, 40 % readers, each with its own token."""
    rng = random.Random(seed)
    users, used = [], dict.fromkeys(sim.plan.tokens, 0)
    for i in range(count):
        kind, names = persona(i)
        name = names[i % len(names)]
        token = sim.plan.tokens[name][used[name]]
        used[name] += 1
        users.append(kind(sim, name, token, random.Random(rng.getrandbits(64))))
    return users


def persona(i: int) -> tuple[type[User], tuple[str, ...]]:
    """The i-th user's kind: 2 of every 5 report, 1 handles, 2 read."""
    return [
        (Reporter, REPORTERS),
        (Reader, READERS),
        (Handler, HANDLERS),
        (Reporter, REPORTERS),
        (Reader, READERS),
    ][i % 5]


def token_counts(users: int) -> dict[str, int]:
    """How many tokens each demo account needs."""
    counts: dict[str, int] = {}
    for i in range(users):
        _, names = persona(i)
        name = names[i % len(names)]
        counts[name] = counts.get(name, 0) + 1
    return counts


def fault_schedule(args) -> list[tuple[float, str]]:
    """When each fault starts (seconds into the run): restarts and the cut, evenly spread."""
    kinds = ["restart"] * args.restarts
    if args.cut > 0:
        kinds.insert(len(kinds) // 2 + (1 if len(kinds) % 2 else 0), "cut")
    step = args.duration / (len(kinds) + 1)
    return [(round(step * (i + 1), 1), kind) for i, kind in enumerate(kinds)]


# --- the checks ----------------------------------------------------------------------------------

# One pass over the events, grouped by case (a correlated subquery per column scanned every event
# for every case: a minute of the check on the demo county's 3,000 history cases).
TIMELINE_SQL = """
WITH ev AS (
    SELECT case_id, action, from_state, to_state,
           row_number() OVER (PARTITION BY case_id ORDER BY id) AS n,
           lag(to_state) OVER (PARTITION BY case_id ORDER BY id) AS previous,
           count(*) OVER (PARTITION BY case_id) AS total
      FROM case_events WHERE to_state IS NOT NULL),
per_case AS (
    SELECT case_id,
           max(action) FILTER (WHERE n = 1) AS first_action,
           max(to_state) FILTER (WHERE n = total) AS last_state,
           count(*) FILTER (WHERE n > 1 AND from_state IS DISTINCT FROM previous) AS breaks,
           count(*) AS steps
      FROM ev GROUP BY case_id)
SELECT c.number,
       c.state,
       p.first_action,
       p.last_state,
       coalesce(p.breaks, 0) AS breaks,
       coalesce(p.steps, 0) AS steps,
       c.version
  FROM cases c LEFT JOIN per_case p ON p.case_id = c.id
"""


def check(app, cluster: Cluster, load: Load, dsn: dict | None = None) -> dict:
    """SQL checks after the run: lost, doubled, unexplained states, the audit chain.

    As the superuser on the cluster's socket, or where `dsn` (psycopg2's keywords) says.
    """
    import psycopg2

    dsn = dsn or {"host": str(cluster.sock), "dbname": DATABASE, "user": "postgres"}
    conn = psycopg2.connect(**dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT number, description FROM cases WHERE description LIKE 'soak:%'")
            by_key: dict[str, list[str]] = {}
            for number, description in cur.fetchall():
                by_key.setdefault(description.removeprefix("soak:"), []).append(number)
            cur.execute(
                "SELECT k.key, k.user_id, k.status, k.response->>'number' FROM idempotency_keys k"
            )
            keys = {(row[0], row[1]): row for row in cur.fetchall()}
            cur.execute(TIMELINE_SQL)
            timeline = cur.fetchall()
    finally:
        conn.close()
    acknowledged = [r for r in load.reports if r.status in (200, 201)]
    lost = [r.key for r in acknowledged if r.number not in by_key.get(r.key, [])]
    doubled = {key: numbers for key, numbers in by_key.items() if len(numbers) > 1}
    key_mismatch = [
        r.key
        for r in acknowledged
        if keys.get((r.key, r.user_id)) and keys[(r.key, r.user_id)][3] not in (None, r.number)
    ]
    unexplained = [
        number
        for number, state, first, last, breaks, steps, version in timeline
        if first != "report" or last != state or breaks or steps != version
    ]
    audit_code, audit_output = flask(app, "audit", "verify")
    return {
        "reports_acknowledged": len(acknowledged),
        "reports_refused": sum(1 for r in load.reports if r.status and r.status >= 400),
        "reports_unresolved": sum(1 for r in load.reports if r.status is None),
        "reports_retried": sum(1 for r in load.reports if r.attempts > 1),
        "reports_replayed": sum(1 for r in load.reports if r.replayed),
        "lost": len(lost),
        "lost_keys": lost[:10],
        "duplicated": len(doubled),
        "duplicated_keys": list(doubled)[:10],
        "key_mismatch": len(key_mismatch),
        "cases_checked": len(timeline),
        "unexplained_states": len(unexplained),
        "unexplained_cases": unexplained[:10],
        "audit_verified": audit_code == 0,
        "audit_output": audit_output.strip()[-400:],
    }


def summarize(args, plan: Plan, load: Load, checks: dict, elapsed: dict) -> dict:
    """The figures: requests by outcome, overall and during the outages; recovery times."""
    outages = []
    for fault in load.faults:
        until = fault.recovered() or fault.ended + RECOVERY_LIMIT_S
        outages.append((fault.started, until))

    def during(sent: float, done: float) -> bool:
        return any(done >= a and sent <= b for a, b in outages)

    overall = dict.fromkeys(OUTCOMES, 0)
    outage = dict.fromkeys(OUTCOMES, 0)
    latencies = []
    for sent, done, outcome, _path in load.requests:
        overall[outcome] += 1
        latencies.append(done - sent)
        if during(sent, done):
            outage[outcome] += 1
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    by_path: dict[str, list[float]] = {}
    for sent, done, _outcome, path in load.requests:
        by_path.setdefault(route_of(path), []).append(done - sent)
    paths = {
        route: {
            "requests": len(times),
            "p50_ms": round(statistics.median(times) * 1000),
            "max_ms": round(max(times) * 1000),
        }
        for route, times in sorted(by_path.items())
    }
    faults = [
        {
            "kind": f.kind,
            "at_s": round(f.started - load.started, 1),
            "duration_s": round(f.ended - f.started, 1),
            "recovery_s": None if f.recovery() is None else round(f.recovery(), 2),
            "recovery_probe_s": (
                None if f.recovered_probe is None else round(f.recovered_probe - f.ended, 2)
            ),
            "recovery_traffic_s": (
                None if f.recovered_traffic is None else round(f.recovered_traffic - f.ended, 2)
            ),
        }
        for f in load.faults
    ]
    summary = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "machine": f"{os.cpu_count()} CPU, {platform_name()}",
        "users": args.users,
        "duration_s": args.duration,
        "workers": args.workers,
        "think_s": args.think,
        "synchronous_commit": args.synchronous_commit,
        "setup_s": elapsed["setup"],
        "requests": len(load.requests),
        "requests_per_s": round(len(load.requests) / max(args.duration, 1), 1),
        "latency_ms": {
            "p50": round(quantiles[49] * 1000),
            "p95": round(quantiles[94] * 1000),
            "p99": round(quantiles[98] * 1000),
        },
        "by_route": paths,
        "outcomes": overall,
        "outage_outcomes": outage,
        "faults": faults,
        "anomalies": load.anomalies,
        **checks,
    }
    summary["failures"] = failures(summary)
    summary["passed"] = not summary["failures"]
    return summary


def route_of(path: str) -> str:
    """A path with its case number and action generalized, for per-route figures."""
    parts = path.split("/")
    if len(parts) > 4 and parts[3] == "cases" and parts[4][:1].isdigit():
        parts[4] = "<number>"
    return "/".join(parts)


def failures(s: dict) -> list[str]:
    """Which of the soak's promises were broken."""
    problems = []
    for name in ("lost", "duplicated", "key_mismatch", "unexplained_states", "reports_unresolved"):
        if s[name]:
            problems.append(f"{name} = {s[name]}")
    if not s["audit_verified"]:
        problems.append("flask audit verify failed")
    for kind in ("5xx", "503_nonstandard", "connection"):
        if s["outcomes"][kind]:
            problems.append(f"{s['outcomes'][kind]} responses of kind {kind}")
    for fault in s["faults"]:
        if fault["recovery_s"] is None or fault["recovery_s"] > RECOVERY_LIMIT_S:
            problems.append(f"{fault['kind']} at {fault['at_s']} s: no recovery within 30 s")
    if not s["reports_acknowledged"]:
        problems.append("no report was acknowledged at all")
    return problems


def git_commit() -> str:
    """The commit the tree is at (the tree may have changes on top)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def platform_name() -> str:
    """The PostgreSQL version used."""
    done = subprocess.run([str(PGBIN / "postgres"), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def markdown(s: dict) -> str:
    """The "Soak with faults" section of bench/RESULTS.md."""
    o, out = s["outcomes"], s["outage_outcomes"]
    lines = [
        "## Soak with faults",
        "",
        f"Generated by `make soak` (bench/soak.py) on {s['date']}, commit {s['commit']}; "
        f"{s['machine']}. Result: **{'PASS' if s['passed'] else 'FAIL'}**"
        + ("" if s["passed"] else f" ({'; '.join(s['failures'])})")
        + ".",
        "",
        f"{s['users']} simulated users for {s['duration_s']} s against gunicorn "
        f"({s['workers']} sync workers) on a private PostgreSQL cluster "
        f"(synchronous_commit={s['synchronous_commit']}); mean think time {s['think_s']} s. "
        "Reporters retry every failure with the same Idempotency-Key until a definitive answer.",
        "",
        "Recovery is the time from the database's return (restart done, network restored) to "
        "the first 2xx of a request sent after it; the readiness probe (every 250 ms) and the "
        "load's own first 2xx are shown apart.",
        "",
        "| fault | at (s) | lasted (s) | recovery (s) | readiness probe (s) | load's 2xx (s) |",
        "|---|---|---|---|---|---|",
    ]
    names = {"restart": "`pg_ctl restart -m immediate`", "cut": "network to the database cut"}
    for f in s["faults"]:
        lines.append(
            f"| {names[f['kind']]} | {f['at_s']} | {f['duration_s']} | {f['recovery_s']} | "
            f"{f['recovery_probe_s']} | {f['recovery_traffic_s']} |"
        )
    lines += [
        "",
        "| requests | 2xx | 409 | other 4xx | 503 | 5xx ≠ 503 | timeouts | connection errors |",
        "|---|---|---|---|---|---|---|---|",
        f"| all: {s['requests']} ({s['requests_per_s']}/s) | {o['2xx']} | {o['409']} | "
        f"{o['4xx']} | {o['503'] + o['503_nonstandard']} | {o['5xx']} | {o['timeout']} | "
        f"{o['connection']} |",
        f"| during the outages: {sum(out.values())} | {out['2xx']} | {out['409']} | "
        f"{out['4xx']} | {out['503'] + out['503_nonstandard']} | {out['5xx']} | "
        f"{out['timeout']} | {out['connection']} |",
        "",
        f"Latency (all requests, outages included): p50 {s['latency_ms']['p50']} ms, "
        f"p95 {s['latency_ms']['p95']} ms, p99 {s['latency_ms']['p99']} ms. "
        + (
            "Every 503 was in the standard error shape."
            if not o["503_nonstandard"]
            else f"{o['503_nonstandard']} of the 503s were NOT in the standard error shape."
        ),
        "",
        "| reports acknowledged (2xx) | retried | replayed | lost | duplicated | "
        "unresolved | cases checked | states unexplained by the timeline | audit chain |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {s['reports_acknowledged']} | {s['reports_retried']} | {s['reports_replayed']} | "
        f"{s['lost']} | {s['duplicated']} | {s['reports_unresolved']} | {s['cases_checked']} | "
        f"{s['unexplained_states']} | {'verified' if s['audit_verified'] else 'BROKEN'} |",
        "",
    ]
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS, begin: str = BEGIN, end: str = END) -> None:
    """Replace the soak section of bench/RESULTS.md (creating the file if needed)."""
    block = f"{begin}\n{section}{end}"
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if begin in text and end in text:
            head, _, rest = text.partition(begin)
            _, _, tail = rest.partition(end)
            text = f"{head}{block}{tail}"
        else:
            text = text.rstrip("\n") + f"\n\n{block}\n"
    else:
        text = (
            "# Benchmark and soak results\n\n"
            "Generated files: each section is rewritten by the script that names it; "
            "do not edit by hand.\n\n"
            f"{block}\n"
        )
    path.write_text(text, encoding="utf-8")


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    parser.add_argument("--duration", type=float, default=600, help="seconds of load (600)")
    parser.add_argument("--restarts", type=int, default=2, help="immediate restarts (2)")
    parser.add_argument("--cut", type=float, default=10, help="network cut in seconds (10)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--think", type=float, default=6.0, help="mean think time, s (6)")
    parser.add_argument("--drain", type=float, default=60, help="time to settle reports (60)")
    parser.add_argument("--seed", type=int, default=8, help="random seed (8)")
    parser.add_argument(
        "--history",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="seed the demo's two years of history too (default: yes)",
    )
    parser.add_argument(
        "--synchronous-commit", default="on", choices=("on", "off"), help="of the cluster (on)"
    )
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the Markdown file to update")
    parser.add_argument(
        "--no-results", action="store_true", help="do not touch the results file (CI)"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Set up, load with faults, check, report; exit 1 when a promise was broken."""
    args = parse_args(argv)
    if args.users < 1 or args.duration <= 0:
        raise SystemExit("--users and --duration must be positive")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` cleans up
    remove_stale_clusters()
    secret = {
        "personal_data_key": base64.b64encode(os.urandom(32)).decode(),
        "secret_key": os.urandom(32).hex(),
    }
    cluster = relay = server = summary = None
    started = time.monotonic()
    try:
        cluster = Cluster(args.synchronous_commit)
        log(f"private cluster in {cluster.base}")
        cluster.create()
        log(f"cluster created and started: {time.monotonic() - started:.1f} s")
        app = make_app(cluster, secret)
        plan = prepare(app, token_counts(args.users), args.seed, args.history)
        relay = Relay(cluster)
        server = Server(cluster, secret, relay, args.workers)
        server.wait_ready()
        setup = round(time.monotonic() - started, 1)
        log(f"ready after {setup} s: {args.users} users for {args.duration:g} s")
        sim = Simulation(args, plan, server, cluster, relay)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        load = asyncio.run(sim.run())
        for report in load.reports:
            report.user_id = plan.user_ids[report.username]
        log(f"load done: {len(load.requests)} requests; checking")
        server.stop()
        server = None
        checks = check(app, cluster, load)
        summary = summarize(args, plan, load, checks, {"setup": setup})
        log(f"checked: {time.monotonic() - started:.1f} s in all")
    finally:
        if server is not None:
            server.stop()
        if relay is not None:
            relay.stop()
        if cluster is not None:
            if summary is None or not summary["passed"]:
                keep_logs(cluster)
            cluster.destroy()
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    if not args.no_results:
        write_results(markdown(summary), args.results)
        log(f"figures written to {args.results}")
    print(markdown(summary))
    for problem in summary["failures"]:
        log(f"FAILED: {problem}")
    for anomaly in summary["anomalies"]:
        log(f"anomaly: {anomaly}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "relay":
        asyncio.run(relay_main(sys.argv[2]))
    else:
        sys.exit(main())
