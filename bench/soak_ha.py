"""Soak with a failover (`make soak-ha`): the soak's load while the primary dies (issue 20).

The formation is `make ha`'s (scripts/ha.sh: a pg_auto_failover monitor, a primary and a
synchronous standby on loopback ports, in .ha/). This script makes a fresh `gridgov_soak`
database on it, migrates and seeds it through the multi-host URL, and serves the app with
gunicorn on that URL (`target_session_attrs=read-write`), heavy reads on the standby
(REPLICA_DATABASE_URL with `target_session_attrs=prefer-standby`). The same users as bench/soak.py
work against it: reporters retrying with their Idempotency-Keys, handlers moving cases with the
version they read, readers on the map layers.

A third of the way in, the primary is stopped at once (`pg_autoctl stop --immediate`: its
postgres gets an immediate shutdown, and its keeper stops reporting to the monitor, as when the
server dies); the monitor promotes the standby. Two thirds in, the old primary's keeper is
started again: it rejoins as the new standby. Measured: the failover time (the kill → the first
successful write sent after it), when the monitor promoted the standby and when the old primary
was back as secondary, and the requests by status during the outage. Checked afterwards on the
new primary: every acknowledged report present exactly once (and on the new standby too), every
state explained by its timeline, the audit chain. The figures go to bench/RESULTS.md between
`<!-- soak-ha: begin -->` and `<!-- soak-ha: end -->`.

Run it with the project's venv: `.venv/bin/python bench/soak_ha.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak  # noqa: E402 - bench/soak.py, beside this file

ROOT = soak.ROOT
HA = ROOT / "scripts" / "ha.sh"
BEGIN, END = "<!-- soak-ha: begin -->", "<!-- soak-ha: end -->"
FAILOVER_LIMIT_S = 30.0
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def log(message: str) -> None:
    """Progress on stderr, with the time."""
    print(f"[soak-ha {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ha(*args: str) -> str:
    """Run scripts/ha.sh; its output."""
    done = subprocess.run([str(HA), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/ha.sh {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip()


class Formation:
    """The pg_auto_failover formation of scripts/ha.sh, seen through its monitor."""

    def __init__(self):
        # Logs of this run (gunicorn's); soak.Server writes into `base`.
        self.base = Path(tempfile.mkdtemp(prefix="gg-soak-ha-", dir="/tmp"))
        self.monitor = soak_dsn(ha("monitor-url"))

    def nodes(self) -> list[tuple[int, str, int, str]]:
        """(node id, name, port, reported state) of every node, by the monitor."""
        import psycopg2

        with psycopg2.connect(**self.monitor) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT nodeid, nodename, nodeport, reportedstate::text "
                "FROM pgautofailover.node ORDER BY nodeid"
            )
            rows = cur.fetchall()
        conn.close()
        return rows

    def primary(self) -> tuple[int, str, int]:
        """The node that is primary, reported and assigned: (number, name, port)."""
        import psycopg2

        with psycopg2.connect(**self.monitor) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT nodename, nodeport FROM pgautofailover.node "
                "WHERE reportedstate::text IN ('primary', 'wait_primary', 'single') "
                "AND goalstate = reportedstate ORDER BY nodeid LIMIT 1"
            )
            row = cur.fetchone()
        conn.close()
        if row is None:
            raise RuntimeError(f"no primary: {self.nodes()}")
        return int(row[0].removeprefix("node")), row[0], row[1]

    def dsn(self, db: str = soak.DATABASE, port: int | None = None) -> dict:
        """psycopg2 keywords: the superuser on the primary (or on one node's port).

        The primary's own port, not the host list: libpq does not try the next host after a
        FATAL answer (a database the standby has not replayed yet does not exist there).
        """
        port = port or self.primary()[2]
        return {"host": "127.0.0.1", "port": port, "dbname": db, "user": "postgres"}

    def sql(self, db: str, *statements: str) -> None:
        """Run statements one by one, autocommit, as the superuser on the primary."""
        import psycopg2

        conn = psycopg2.connect(**self.dsn(db))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    def setting(self, name: str) -> str:
        """A setting of the primary."""
        import psycopg2

        conn = psycopg2.connect(**self.dsn("postgres"))
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_setting(%s)", (name,))
                return cur.fetchone()[0]
        finally:
            conn.close()

    def fresh_database(self) -> None:
        """An empty gridgov_soak owned by the app's role, with PostGIS."""
        db = soak.DATABASE
        self.sql(
            "postgres",
            f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)',
            f'CREATE DATABASE "{db}" OWNER "{os.environ.get("HA_OWNER", "gridgov_owner")}"',
        )
        self.sql(db, "CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self) -> None:
        """Remove gridgov_soak again."""
        self.sql("postgres", f'DROP DATABASE IF EXISTS "{soak.DATABASE}" WITH (FORCE)')

    def wait(self, predicate, timeout: float) -> float | None:
        """Poll the monitor every 100 ms until predicate(nodes) holds; when, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate(self.nodes()):
                    return time.monotonic()
            except Exception:  # noqa: BLE001 - the monitor busy for a moment: ask again
                pass
            time.sleep(0.1)
        return None


class Target:
    """What soak.make_app needs of a cluster: the URL of the soak database."""

    def __init__(self, url: str):
        self._url = url

    def url(self) -> str:
        """The multi-host URL."""
        return self._url


def soak_dsn(url: str) -> dict:
    """psycopg2 keywords for a postgres:// URL with a host and a port (the monitor's)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return {"host": u.host, "port": u.port, "dbname": u.database, "user": "postgres"}


class FailoverSimulation(soak.Simulation):
    """The soak's users; the one fault is the primary's death, then its return as standby."""

    def __init__(self, args, plan, server, formation: Formation):
        super().__init__(args, plan, server, formation, None)
        self.formation = formation
        self.killed_at: float | None = None
        self.first_write_after: float | None = None
        self.events: dict[str, float | None] = {}
        self.old_primary: tuple[int, str, int] | None = None
        self.new_primary: str | None = None

    def record(self, sent: float, outcome: str, path: str, method: str = "GET") -> None:
        """Remember one request; note the first write acknowledged after the kill."""
        super().record(sent, outcome, path, method)
        if (
            self.killed_at is not None
            and self.first_write_after is None
            and outcome == "2xx"
            and method in WRITES
            and sent >= self.killed_at
        ):
            self.first_write_after = time.monotonic()

    async def inject(self) -> None:
        """Kill the primary at a third of the run; start it again at two thirds."""
        start, f = self.load.started, self.formation
        await asyncio.sleep(max(0.0, start + self.args.duration / 3 - time.monotonic()))
        self.old_primary = number, name, _ = f.primary()
        fault = soak.Fault(kind="failover", started=time.monotonic())
        self.load.faults.append(fault)
        log(f"fault: pg_autoctl stop --immediate on the primary ({name})")
        self.killed_at = time.monotonic()
        await asyncio.to_thread(ha, "kill-node", str(number))
        # For the soak's own figures, the outage is counted from the kill.
        fault.ended = self.killed_at

        def promoted(nodes) -> bool:
            # The dead node still shows its last reported state: look at the others only.
            for _, other, _, state in nodes:
                if other != name and state in ("primary", "wait_primary"):
                    self.new_primary = other
                    return True
            return False

        self.events["promoted"] = await asyncio.to_thread(f.wait, promoted, 90)
        log(f"monitor: {self.new_primary} promoted" if self.new_primary else "no promotion!")
        await asyncio.sleep(max(0.0, start + 2 * self.args.duration / 3 - time.monotonic()))
        log(f"restarting {name}: it should rejoin as the standby")
        self.events["restarted"] = time.monotonic()
        await asyncio.to_thread(ha, "run-node", str(number))

        def rejoined(nodes) -> bool:
            states = {n: s for _, n, _, s in nodes}
            return states.get(name) == "secondary" and states.get(self.new_primary) == "primary"

        self.events["rejoined"] = await asyncio.to_thread(f.wait, rejoined, 120)
        log(f"{name} is secondary again" if self.events["rejoined"] else f"{name} did not rejoin")


def standby_check(formation: Formation, load: soak.Load, new_primary: str | None) -> dict:
    """The acknowledged reports on the new standby too, once it has replayed the primary's WAL."""
    import psycopg2

    numbers = sorted({r.number for r in load.reports if r.status in (200, 201)})
    found = {}
    for _, name, port, _ in formation.nodes():
        conn = psycopg2.connect(**formation.dsn(port=port))
        try:
            with conn.cursor() as cur:
                if name != new_primary:  # wait for the standby to replay what the primary has
                    for _ in range(100):
                        cur.execute("SELECT count(*) FROM cases WHERE number = ANY(%s)", (numbers,))
                        if cur.fetchone()[0] == len(numbers):
                            break
                        time.sleep(0.2)
                cur.execute("SELECT count(*) FROM cases WHERE number = ANY(%s)", (numbers,))
                found[name] = cur.fetchone()[0]
        finally:
            conn.close()
    return {"acknowledged_on_each_node": found}


def markdown(s: dict) -> str:
    """The "Soak with a failover" section of bench/RESULTS.md."""
    o, out = s["outcomes"], s["outage_outcomes"]
    lines = [
        "## Soak with a failover (pg_auto_failover)",
        "",
        f"Generated by `make soak-ha` (bench/soak_ha.py) on {s['date']}, commit {s['commit']}; "
        f"{s['machine']}; {s['pg_auto_failover']}. Result: **{'PASS' if s['passed'] else 'FAIL'}**"
        + ("" if s["passed"] else f" ({'; '.join(s['failures'])})")
        + ".",
        "",
        f"{s['users']} simulated users for {s['duration_s']} s against gunicorn "
        f"({s['workers']} sync workers) on the multi-host URL of `make ha`'s formation: a monitor, "
        "a primary and a synchronous standby (replication quorum, "
        f"`synchronous_standby_names = {s['synchronous_standby_names']}`) on loopback ports; heavy "
        "reads on the standby (REPLICA_DATABASE_URL, prefer-standby). Mean think time "
        f"{s['think_s']} s; reporters retry every failure with the same Idempotency-Key.",
        "",
        f"At {s['killed_at_s']} s the primary ({s['old_primary']}) was stopped with "
        "`pg_autoctl stop --immediate`; at "
        f"{s['restarted_at_s']} s its keeper was started again.",
        "",
        "| failover: kill → first acknowledged write (s) | kill → monitor promoted the standby (s) "
        "| new primary | old primary back as secondary (s after its restart) |",
        "|---|---|---|---|",
        f"| **{s['failover_s']}** | {s['promoted_s']} | {s['new_primary']} | {s['rejoined_s']} |",
        "",
        "| requests | 2xx | 409 | other 4xx | 503 | 5xx ≠ 503 | timeouts | connection errors |",
        "|---|---|---|---|---|---|---|---|",
        f"| all: {s['requests']} ({s['requests_per_s']}/s) | {o['2xx']} | {o['409']} | "
        f"{o['4xx']} | {o['503'] + o['503_nonstandard']} | {o['5xx']} | {o['timeout']} | "
        f"{o['connection']} |",
        f"| during the outage: {sum(out.values())} | {out['2xx']} | {out['409']} | "
        f"{out['4xx']} | {out['503'] + out['503_nonstandard']} | {out['5xx']} | "
        f"{out['timeout']} | {out['connection']} |",
        "",
        "The outage runs from the kill to the first acknowledged write; reads on the standby "
        "keep answering through it. "
        + (
            "Every 503 was in the standard error shape."
            if not o["503_nonstandard"]
            else f"{o['503_nonstandard']} of the 503s were NOT in the standard error shape."
        ),
        "",
        "| reports acknowledged | retried | replayed | lost | duplicated | unresolved "
        "| on each node | cases checked | states unexplained by the timeline | audit chain |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {s['reports_acknowledged']} | {s['reports_retried']} | {s['reports_replayed']} | "
        f"{s['lost']} | {s['duplicated']} | {s['reports_unresolved']} | "
        + ", ".join(f"{k}: {v}" for k, v in sorted(s["acknowledged_on_each_node"].items()))
        + f" | {s['cases_checked']} | {s['unexplained_states']} | "
        f"{'verified on ' + str(s['new_primary']) if s['audit_verified'] else 'BROKEN'} |",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=60, help="simulated users (default 60)")
    parser.add_argument("--duration", type=float, default=180, help="seconds of load (180)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--think", type=float, default=4.0, help="mean think time, s (4)")
    parser.add_argument("--drain", type=float, default=45, help="time to settle reports (45)")
    parser.add_argument("--seed", type=int, default=20, help="random seed (20)")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument("--results", type=Path, default=soak.RESULTS, help="the file to update")
    parser.add_argument("--no-results", action="store_true", help="do not touch the results file")
    parser.add_argument("--keep-database", action="store_true", help="keep gridgov_soak afterwards")
    args = parser.parse_args(argv)
    # soak.summarize reads these.
    args.synchronous_commit = "on (synchronous standby)"
    return args


def rel(t: float | None, origin: float | None) -> float | None:
    """Seconds from origin to t, rounded (None when either is missing)."""
    return None if t is None or origin is None else round(t - origin, 2)


def version() -> str:
    """pg_autoctl's version line."""
    done = subprocess.run(["pg_autoctl", "--version"], capture_output=True, text=True)
    return (done.stdout.splitlines() or ["pg_autoctl ?"])[0]


def main(argv=None) -> int:
    """Set up on the formation, load with a failover, check, report; exit 1 on a broken promise."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` cleans up
    log("starting the formation (scripts/ha.sh start)")
    ha("start")
    formation = Formation()
    secret = {
        "personal_data_key": base64.b64encode(os.urandom(32)).decode(),
        "secret_key": os.urandom(32).hex(),
    }
    url = ha("url", soak.DATABASE)
    replica_url = url.replace(
        "target_session_attrs=read-write", "target_session_attrs=prefer-standby"
    )
    server = summary = None
    started = time.monotonic()
    try:
        formation.fresh_database()
        # Migrations and the demo as the tables' owner, granting the app's role what it needs
        # (app/ops/roles.py); gunicorn as that role, which owns nothing.
        from sqlalchemy.engine import make_url  # noqa: PLC0415 - as soak_dsn: the app's venv

        os.environ["DATABASE_APP_ROLE"] = make_url(url).username
        app = soak.make_app(Target(ha("owner-url", soak.DATABASE)), secret)
        plan = soak.prepare(app, soak.token_counts(args.users), args.seed)
        server = soak.Server(
            formation,
            secret,
            None,
            args.workers,
            url=url,
            extra={"REPLICA_DATABASE_URL": replica_url, "DB_RETRY_AFTER_SECONDS": "2"},
        )
        server.wait_ready(timeout=240)
        setup = round(time.monotonic() - started, 1)
        log(f"ready after {setup} s: {args.users} users for {args.duration:g} s")
        sim = FailoverSimulation(args, plan, server, formation)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        load = asyncio.run(sim.run())
        for report in load.reports:
            report.user_id = plan.user_ids[report.username]
        log(f"load done: {len(load.requests)} requests; checking on the new primary")
        server.stop()
        server = None
        # The app's engine pointed at the old primary: reconnect (the URL finds the new one).
        with app.app_context():
            from app.extensions import db

            db.engines[None].dispose()
        checks = soak.check(app, None, load, dsn=formation.dsn())
        checks |= standby_check(formation, load, sim.new_primary)
        # The outage, for the soak's figures: from the kill to the first acknowledged write.
        fault = load.faults[0] if load.faults else None
        if fault is not None and sim.first_write_after is not None:
            fault.recovered_traffic = sim.first_write_after
            fault.recovered_probe = None
        summary = soak.summarize(args, plan, load, checks, {"setup": setup})
        sync_names = formation.setting("synchronous_standby_names")
        summary.update(
            {
                "pg_auto_failover": version(),
                "synchronous_standby_names": f"'{sync_names}'",
                "old_primary": sim.old_primary[1] if sim.old_primary else None,
                "new_primary": sim.new_primary,
                "killed_at_s": rel(sim.killed_at, load.started),
                "restarted_at_s": rel(sim.events.get("restarted"), load.started),
                "failover_s": rel(sim.first_write_after, sim.killed_at),
                "promoted_s": rel(sim.events.get("promoted"), sim.killed_at),
                "rejoined_s": rel(sim.events.get("rejoined"), sim.events.get("restarted")),
            }
        )
        summary["failures"] = failures(summary)
        summary["passed"] = not summary["failures"]
        log(f"checked: {time.monotonic() - started:.1f} s in all")
    finally:
        if server is not None:
            server.stop()
        if summary is None or not summary["passed"]:
            target = Path(tempfile.mkdtemp(prefix="gridgov-soak-ha-logs-", dir="/tmp"))
            shutil.copytree(formation.base, target, dirs_exist_ok=True)
            log(f"logs kept in {target} (and .ha/*.log)")
        shutil.rmtree(formation.base, ignore_errors=True)
        if not args.keep_database:
            try:
                formation.drop_database()
            except Exception as exc:  # noqa: BLE001 - the figures matter more than the clean-up
                log(f"could not drop {soak.DATABASE}: {exc}")
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    if not args.no_results:
        soak.write_results(markdown(summary), args.results, BEGIN, END)
        log(f"figures written to {args.results}")
    print(markdown(summary))
    for problem in summary["failures"]:
        log(f"FAILED: {problem}")
    for anomaly in summary["anomalies"]:
        log(f"anomaly: {anomaly}")
    return 0 if summary["passed"] else 1


def failures(s: dict) -> list[str]:
    """Which promises were broken: the soak's own, the failover time, the old primary's return."""
    problems = [p for p in s["failures"] if not p.startswith("failover at")]
    if s["failover_s"] is None or s["failover_s"] > FAILOVER_LIMIT_S:
        problems.append(f"failover took {s['failover_s']} s (limit {FAILOVER_LIMIT_S:g} s)")
    if s["rejoined_s"] is None:
        problems.append("the old primary did not rejoin as the standby")
    counts = set(s["acknowledged_on_each_node"].values())
    if counts != {s["reports_acknowledged"]}:
        problems.append(f"acknowledged reports per node: {s['acknowledged_on_each_node']}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
