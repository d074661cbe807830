"""Who a credential is, cached per process: token or login session → user → region → scope.

Every authenticated request used to load its token (or login session), user and region, and a
grid worker's cells for the scope. This cache keeps those rows as plain values per process,
keyed by the credential, and valid for one `accounts` data version (migration 0027): the sum of
16 `data_versions` stripes that statement and row triggers bump in the writer's own transaction
whenever a user, their grid cells, a region's code or level, a token or a login session changes
in a way that matters. A request reads the version (one statement, in its own transaction) and
uses an entry only when it was filled at that same version; anything else is a miss that reads
the rows again. Revocation, deactivation and permission changes therefore take effect on the
next request in every process.

Time is checked on every request, not cached: an entry only answers while its token has not
expired, its login session is inside its absolute lifetime, and the last use it knows of is
recent enough that no bookkeeping is due (a token's use every 5 minutes, a session's last-seen
time every minute) and no idle limit can have passed; otherwise the plain path runs and refills.

Entries are immutable values, never ORM objects: each request gets its own `User` (and its
region) attached to its own session without a statement, so threads and sessions share nothing
mutable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from flask import current_app
from sqlalchemy import inspect
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.accounts.models import User
from app.geo.models import Region
from app.scoping import Scope
from app.scoping import scope_for
from app.scoping import scope_key

EXTENSION = "gridgov_principals"
VERSION_SQL = text("SELECT coalesce(sum(version), 0) FROM data_versions WHERE name = 'accounts'")
# Entries per process before the cache starts again (a credential is about 2 kB).
LIMIT = 10_000


@dataclass(frozen=True)
class Principal:
    """A credential's user, region and scope as plain values, and what its time checks need."""

    user: tuple[tuple[str, object], ...]
    region: tuple[tuple[str, object], ...]
    scope: Scope
    # The token's expiry, or the login session's start (None for the other kind).
    expires_at: datetime | None
    created_at: datetime | None
    # The token's last use or the session's last-seen time, as written by this request.
    seen_at: datetime


class PrincipalCache:
    """Principals by credential for one accounts version; a new version empties it."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.version: int | None = None
        self.entries: dict[str, Principal] = {}
        self.lock = threading.Lock()

    def get(self, key: str, version: int) -> Principal | None:
        """The entry filled at `version`, or None."""
        if version != self.version:
            return None
        return self.entries.get(key)

    def current(self, key: str) -> tuple[int | None, Principal | None]:
        """The version the cache holds and its entry for `key` (None: none), read together:
        for a caller that checks the version in its own statement (app/core/fast.py)."""
        with self.lock:
            return self.version, self.entries.get(key)

    def put(self, key: str, version: int, principal: Principal) -> None:
        """Keep an entry read at `version` (a different version starts the cache again)."""
        with self.lock:
            if version != self.version or len(self.entries) >= self.limit:
                self.entries = {}
                self.version = version
            self.entries[key] = principal

    def clear(self) -> None:
        """Forget everything."""
        with self.lock:
            self.entries = {}
            self.version = None


def init_app(app: Flask) -> None:
    """One cache per app (scratch apps in one process never share entries)."""
    app.extensions[EXTENSION] = PrincipalCache()


def cache() -> PrincipalCache:
    """This app's cache."""
    return current_app.extensions[EXTENSION]


def version(session: Session) -> int:
    """The accounts data version, in the request's own transaction.

    Usually the request's first statement: when the pooled connection turns out dead (the
    database restarted while it sat idle; there is no pre-ping) and nothing of the request ran
    before, it is asked once more on a fresh connection, so the request still answers.
    """
    first = not session.in_transaction()
    try:
        return session.execute(VERSION_SQL).scalar_one()
    except DBAPIError as exc:
        if not (first and exc.connection_invalidated):
            raise
        session.rollback()
        return session.execute(VERSION_SQL).scalar_one()


def _loaded(obj, skip=()) -> tuple[tuple[str, object], ...]:
    """The loaded column values of an ORM object (what a query or a lazy load gave it)."""
    state = inspect(obj)
    loaded = state.dict
    return tuple(
        (attr.key, loaded[attr.key])
        for attr in state.mapper.column_attrs
        if attr.key in loaded and attr.key not in skip
    )


def principal_of(user: User, *, expires_at=None, created_at=None, seen_at) -> Principal:
    """The cacheable values of a user just authenticated by the plain path."""
    return Principal(
        user=_loaded(user),
        region=_loaded(user.region, skip=("boundary",)),
        scope=scope_for(user),
        expires_at=expires_at,
        created_at=created_at,
        seen_at=seen_at,
    )


def _attached(session: Session, cls, values: tuple[tuple[str, object], ...]):
    """The session's instance of that row, or a new one from the values, attached without SQL."""
    fields = dict(values)
    key = session.identity_key(cls, fields["id"])
    existing = session.identity_map.get(key)
    if existing is not None:
        return existing, False
    obj = cls(**fields)
    make_transient_to_detached(obj)
    return obj, True


def attach(session: Session, principal: Principal) -> User:
    """A `User` of this session for the principal: the identity map's, or one built from values.

    Relationships other than the region (grid cells, department) load lazily if asked for; the
    scope comes with the user (`User.known_scope`), so `current_scope()` needs no statement.
    """
    user, new_user = _attached(session, User, principal.user)
    if new_user:
        region, new_region = _attached(session, Region, principal.region)
        if new_region:
            session.add(region)
        set_committed_value(user, "region", region)
        session.add(user)
    user.known_scope = (scope_key(user), principal.scope)
    return user
