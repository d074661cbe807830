"""Answers outside Flask's request cycle, for a few hot reads (issue 18).

Flask's cycle alone — request context, routing, the before/after hooks, Flask-Login — costs more
on this machine than the whole answer of a small read is allowed (bench/NOTES.md). `FastPaths`
wraps the app's WSGI callable; each route it knows is a handler that either answers a request
completely — the same status, headers and bytes as the Flask view — or returns None, and Flask
answers it unchanged. Handlers answer only the plain case: a bearer token the authentication
cache already holds (app/accounts/principals.py), no cookie, no body, no query string they do
not read, nothing the view would treat in another way. Everything else — a token not cached, an
error, a 404, a database gone — is Flask's, so errors keep their standard shape and audit.

A handler's statement carries the accounts data version beside its data (`version_sql`),
and the answer stands only when that version is the one the cached principal was read at: a
revocation, deactivation or permission change committed before the statement started sends
the request to Flask, exactly as the plain path would see it.

`finish` adds what every answer gets — the request id, the security headers, `Cache-Control:
no-store` where the handler set none, the log line and the metrics — also for the cached-tile
path (app/tiles/fast.py). Each handler keeps a test comparing its answers with Flask's.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable
from collections.abc import Iterable
from types import SimpleNamespace

import orjson
from flask import Flask
from flask import current_app
from psycopg2 import errors as pg_errors
from psycopg2.extensions import STATUS_READY

from app.accounts import principals
from app.accounts import services as accounts
from app.core import clock
from app.core.dump import JSON_OPTIONS
from app.core.replica import EXTENSION as REPLICA_EXTENSION
from app.core.sqltext import driver_sql
from app.extensions import db
from app.ops.logging import REQUEST_ID_HEADER
from app.ops.logging import log_answer
from app.ops.logging import request_id_from
from app.ops.metrics import count
from app.scoping import scope_key
from app.security import new_nonce
from app.security import security_headers

log = logging.getLogger(__name__)

# (status, headers, body) or (status, headers, body, headers Flask's hooks add last: the limiter's)
Answer = tuple[str, list[tuple[str, str]], bytes] | tuple[str, list, bytes, list]
Handler = Callable[[Flask, dict, re.Match], Answer | None]


def version_sql(name: str) -> str:
    """A data version (the sum of its stripes, as principals.VERSION_SQL reads the accounts
    version) as a scalar subquery, for a handler's statement to select beside its data (two
    of these planned and ran faster than one aggregate of both joined)."""
    return f"(SELECT coalesce(sum(version), 0) FROM data_versions WHERE name = '{name}')"


JSON = "application/json"


class FastPaths:
    """WSGI middleware: the routes' handlers answer what they can, the app the rest."""

    def __init__(self, app: Flask, wsgi_app: Callable, routes: list[tuple[str, str, str, Handler]]):
        self.app = app
        self.wsgi_app = wsgi_app
        # (method, compiled path pattern, route label for the metrics, handler)
        self.routes = [(m, re.compile(p), label, h) for m, p, label, h in routes]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        for wanted, pattern, label, handler in self.routes:
            if method != wanted:
                continue
            match = pattern.fullmatch(path)
            if match is None:
                continue
            started = time.perf_counter()
            answer = handler(self.app, environ, match)
            if answer is None:
                break
            return finish(self.app, environ, label, started, answer, start_response, session=True)
        return self.wsgi_app(environ, start_response)


def finish(
    app: Flask,
    environ: dict,
    route: str,
    started: float,
    answer: Answer,
    start_response,
    session: bool = False,
) -> list[bytes]:
    """Send a handler's answer with the headers, log line and metrics Flask's hooks add.

    `session`: the view's request read the (empty) cookie session, as every authenticated one
    does (Flask-Login looks there first), so Flask's answer ends with `Vary: Cookie`.
    """
    status, headers, body, *last = answer
    request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID", ""))
    headers.append((REQUEST_ID_HEADER, request_id))
    secure = environ.get("wsgi.url_scheme") == "https"
    headers.extend(security_headers(app.config, new_nonce(), secure))
    if not any(name == "Cache-Control" for name, _ in headers):
        headers.append(("Cache-Control", "no-store"))  # as app/security.py for every non-static
    if last:
        headers.extend(last[0])
    if session:
        headers.append(("Vary", "Cookie"))
    code = int(status[:3])
    method = environ.get("REQUEST_METHOD", "")
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log_answer(method, environ.get("PATH_INFO", ""), code, request_id, duration_ms)
    count(method, route, code, started)
    start_response(status, headers)
    return [body]


def plain(environ: dict, query: bool = False) -> bool:
    """No cookie, no body, no query string (unless the handler reads it: `query`), no
    conditional header: nothing the view would read beyond its path, the query the handler
    reads and the bearer token."""
    return not (
        environ.get("HTTP_COOKIE")
        or (environ.get("QUERY_STRING") and not query)
        or environ.get("CONTENT_LENGTH", "0") not in ("", "0")
        or environ.get("HTTP_TRANSFER_ENCODING")
        or environ.get("HTTP_IF_NONE_MATCH")
        or environ.get("HTTP_IF_MODIFIED_SINCE")
    )


def bearer(app: Flask, environ: dict) -> tuple[int, principals.Principal] | None:
    """(accounts version, principal) of the request's bearer token when the authentication
    cache holds it fresh (accounts.token_entry_fresh), else None: Flask authenticates."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() != "bearer ":
        return None
    parts = header.split(None, 1)
    secret = parts[1].strip() if len(parts) == 2 else ""
    if not secret.startswith(accounts.TOKEN_PREFIX):
        return None
    version, known = app.extensions[principals.EXTENSION].current(accounts.token_key(secret))
    if version is None or known is None or not accounts.token_entry_fresh(known, clock.now()):
        return None
    return version, known


def user_of(principal: principals.Principal) -> SimpleNamespace:
    """The principal's user as plain attributes (its region as `region`; `scope_for` answers its
    cached scope), for the rules that take a user (app/cases/workflow.py, app/scoping.py)."""
    user = SimpleNamespace(**dict(principal.user))
    user.region = SimpleNamespace(**dict(principal.region))
    user.known_scope = (scope_key(user), principal.scope)  # what scope_for reads first
    return user


MISSING = object()
# Entries a `Kept` holds before it starts again.
KEPT_LIMIT = 10_000
KEPT_EXTENSION = "gridgov_fast_kept"


class Kept:
    """Values kept per process for one data version (a trigger bumps it on every write that
    could change them); a value read at another version starts it again."""

    def __init__(self) -> None:
        self.version = None
        self.values: dict = {}
        self.lock = threading.Lock()

    def get(self, version, key):
        """The value kept at `version`, or MISSING."""
        with self.lock:
            return self.values.get(key, MISSING) if version == self.version else MISSING

    def put(self, version, key, value) -> None:
        with self.lock:
            if version != self.version or len(self.values) >= KEPT_LIMIT:
                self.values, self.version = {}, version
            self.values[key] = value


def kept(app: Flask, name: str) -> Kept:
    """This app's `Kept` of that name."""
    every = app.extensions.setdefault(KEPT_EXTENSION, {})
    found = every.get(name)
    if found is None:
        found = every.setdefault(name, Kept())
    return found


def lookup(cursor, store: Kept, version, keys, sql: str) -> dict:
    """Values by key from `store` at `version`; those missing read by `sql` (rows of key and
    value, for `%(keys)s`) in one statement and kept."""
    found, missing = {}, []
    for key in keys:
        value = store.get(version, key)
        if value is MISSING:
            missing.append(key)
        else:
            found[key] = value
    if missing:
        cursor.execute(sql, {"keys": missing})
        for key, *value in cursor.fetchall():
            found[key] = tuple(value)
            store.put(version, key, tuple(value))
    return found


# Where a test puts a callable answering its own transaction's DBAPI connection (the suite's
# writes are never committed, so the pool's connections would not see them).
CONNECTION_SOURCE = "gridgov_fast_connection"


def engine(app: Flask, replica: bool = False):
    """The app's database engine (Flask-SQLAlchemy's), read once per app; with `replica`, the
    heavy reads' standby engine when one is configured (app/core/replica.py)."""
    standby = app.extensions.get(REPLICA_EXTENSION) if replica else None
    if standby is not None:
        return standby
    found = app.extensions.get("gridgov_fast_engine")
    if found is None:
        with app.app_context():
            found = app.extensions["gridgov_fast_engine"] = db.engine
    return found


def driver(app: Flask, replica: bool = False) -> str:
    """The DBAPI driver's name of that engine (`fetch`'s statements are psycopg2's)."""
    return engine(app, replica).dialect.driver


def fetch(app: Flask, statements: Callable, replica: bool = False) -> object | None:
    """`statements(cursor)` on a pooled connection, or None when anything fails (the connection
    is then dropped, and Flask answers the request its way).

    In autocommit: one round trip a statement, where a transaction would add a BEGIN and a
    COMMIT (psycopg2 sends each on its own); a statement that writes (an audit append) commits
    by itself. The cursor is psycopg2's: no result
    objects, no session. `replica`: on the standby when one is configured (heavy reads).
    """
    source = app.extensions.get(CONNECTION_SOURCE)
    try:
        # Checking out can fail too (the database restarting, the network cut): Flask then
        # answers, in the standard 503 shape, as it does for every request the database misses.
        pooled = engine(app, replica).raw_connection() if source is None else None
    except Exception as error:  # noqa: BLE001 - Flask runs the request again and answers it
        log.warning("fast path connection failed, Flask answers: %s", error)
        return None
    dbapi = source() if pooled is None else pooled.dbapi_connection
    idle = pooled is not None and dbapi.status == STATUS_READY
    try:
        if idle:
            dbapi.autocommit = True
        with dbapi.cursor() as cursor:
            return statements(cursor)
    except Exception as error:  # noqa: BLE001 - Flask runs the request again and answers it
        log.warning("fast path statement failed, Flask answers: %s", error)
        if pooled is not None:
            pooled.invalidate()
        return None
    finally:
        if idle and pooled.dbapi_connection is not None and not dbapi.closed:
            dbapi.autocommit = False
        if pooled is not None:
            pooled.close()


# The names this process has prepared on each DBAPI connection (gone with the connection).
PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
PREPARED_LOCK = threading.Lock()
DRIVER_PARAMETER = re.compile(r"%\((\w+)\)s")


@functools.cache
def prepared_form(sql: str) -> tuple[str, str, str]:
    """(name, PREPARE statement, EXECUTE statement with psycopg2 parameters) of a driver SQL
    statement (`%(name)s` parameters, `%%` for a literal percent): each parameter becomes `$n`
    in the order it first appears, its type inferred by PostgreSQL from where it stands."""
    names: list[str] = []

    def number(match: re.Match) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    body = DRIVER_PARAMETER.sub(number, sql).replace("%%", "%")
    name = "gg_" + hashlib.sha256(sql.encode()).hexdigest()[:20]
    arguments = f"({', '.join(f'%({n})s' for n in names)})" if names else ""
    return name, f"PREPARE {name} AS {body}", f"EXECUTE {name}{arguments}"


def prepared_on(dbapi, sql: str, send) -> tuple[str, str, str, set]:
    """(name, PREPARE, EXECUTE, the names prepared on the DBAPI connection) of a driver SQL
    statement, prepared first through `send` when this connection has not prepared it."""
    name, prepare, run = prepared_form(sql)
    with PREPARED_LOCK:
        known = PREPARED.setdefault(dbapi, set())
    if name not in known:
        send(prepare)
        known.add(name)
    return name, prepare, run, known


def execute(app: Flask, cursor, sql: str, params: dict) -> None:
    """`cursor.execute(sql, params)` as a server-side prepared statement of the connection
    (plainly when FAST_PATH_PREPARED is off: behind PgBouncer in transaction mode).

    Planning a handler's statement costs more than running it (the dispatch list's: ~0.4 ms
    planned against ~0.1 executed, bench/NOTES.md); prepared once per connection, it is planned
    the first times and then by its generic plan. A statement the server no longer knows (a
    `DEALLOCATE`) is prepared again, at once in autocommit, else on the next call."""
    if not app.config["FAST_PATH_PREPARED"]:
        cursor.execute(sql, params)
        return
    connection = cursor.connection
    name, prepare, run, known = prepared_on(connection, sql, cursor.execute)
    try:
        cursor.execute(run, params)
    except pg_errors.InvalidSqlStatementName:
        known.discard(name)
        if not connection.autocommit:
            raise
        cursor.execute(prepare)
        known.add(name)
        cursor.execute(run, params)


def session_execute(connection, sql: str, params: dict):
    """A `text()` statement (`:name` parameters) run prepared on a SQLAlchemy connection: in
    its transaction and through its events, as `connection.execute(text(sql), params)` runs
    it, with the same rows. Prepared once per DBAPI connection (PREPARE is not undone by a
    rollback), then run by EXECUTE; plainly when FAST_PATH_PREPARED is off.

    For statements planned at more cost than they run: the warnings scan's EVIDENCE_SQL was
    planned in ~1.4 ms and ran in ~0.5 (bench/NOTES.md). Its generic plan must stay as good as
    the custom ones (migration 0034's indexes): tests/warnings compares it with the plain one."""
    sql = driver_sql(sql)
    if not current_app.config["FAST_PATH_PREPARED"]:
        return connection.exec_driver_sql(sql, params)
    dbapi = connection.connection.dbapi_connection
    name, _prepare, run, known = prepared_on(dbapi, sql, connection.exec_driver_sql)
    try:
        return connection.exec_driver_sql(run, params)
    except Exception as error:
        if isinstance(getattr(error, "orig", None), pg_errors.InvalidSqlStatementName):
            known.discard(name)  # deallocated behind our back: prepared again next time
        raise


def json_body(app: Flask, data) -> bytes:
    """The bytes `json_answer(data)` sends (app/core/dump.py)."""
    return orjson.dumps(data, default=app.json.default, option=JSON_OPTIONS)
