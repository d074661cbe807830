"""Heavy reads on a standby: the second engine behind REPLICA_DATABASE_URL (issue 20).

`session()` is the session heavy reads use (tiles, map layers, measures, exports): with
REPLICA_DATABASE_URL set, a session of its own on the replica engine, one per app context and
closed at its end; unset, the request's own `db.session`, so nothing changes. The replica engine
opens every transaction read-only (`default_transaction_read_only`), whatever server it reaches:
a write sent through it is refused by PostgreSQL (ReadOnlySqlTransaction) even when the URL
falls back to the primary. Writes, sign-in and permission checks never come here: they use
`db.session`. What the replica answers may lag the primary by its replay delay (docs/scaling.md
says which reads may be stale).
"""

from __future__ import annotations

from flask import Flask
from flask import current_app
from flask import g
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.extensions import db

EXTENSION = "gridgov_replica"
READ_ONLY = "-c default_transaction_read_only=on"


def init_app(app: Flask) -> None:
    """The replica engine when REPLICA_DATABASE_URI is set (else heavy reads use the primary)."""
    uri = app.config.get("REPLICA_DATABASE_URI")
    app.extensions[EXTENSION] = replica_engine(uri, app.config) if uri else None
    app.teardown_appcontext(_close)


def replica_engine(uri: str, config) -> Engine:
    """The replica engine: the primary's pool options, read-only transactions, its own name.

    Options given in the URL (`?options=-c ...`) are kept: SQLAlchemy would let the engine's
    connect_args replace them.
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.pop("creator", None)
    connect_args = dict(options.pop("connect_args", {}))
    url = make_url(uri)
    given = url.query.get("options")
    url = url.difference_update_query(["options"])
    connect_args["options"] = " ".join(
        part for part in (connect_args.get("options"), given, READ_ONLY) if part
    )
    connect_args["application_name"] = "gridgov-replica"
    return create_engine(url, connect_args=connect_args, **options)


def engine() -> Engine | None:
    """The replica engine, or None when heavy reads use the primary."""
    return current_app.extensions.get(EXTENSION)


def session() -> Session:
    """The session for heavy reads (the request's own when no replica is configured)."""
    replica = engine()
    if replica is None:
        return db.session
    if "replica_session" not in g:
        g.replica_session = Session(bind=replica)
    return g.replica_session


def _close(exc) -> None:
    """End the app context's replica session: rolled back, its connection back in the pool."""
    replica_session = g.pop("replica_session", None)
    if replica_session is not None:
        try:
            replica_session.close()
        except Exception:  # noqa: BLE001 - the answer is made; a dead connection is the pool's
            replica_session.invalidate()
