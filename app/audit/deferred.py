"""Audit entries of public reads appended in batches (issue 18): the progress lookup's.

A resident's lookup (app/resident/fast.py) reads public words only — no personal data — and is
audited so that abuse can be traced. Appending its entry in the lookup's own statement cost
more than the whole read (the chain's lock, the head, the hash, the INSERT and its commit, on
every request). With AUDIT_PUBLIC_DEFER_MS > 0 the entry is queued in the process instead and
a background thread appends what is queued every that many milliseconds, in one `audit_append`
call (the same function, lock and chain as every other entry): the entry is in the chain within
that time, in the order the lookups were answered. The process flushes what is queued when it
exits (atexit, and gunicorn's worker_exit hook, app/ops/gunicorn_conf.py), so only a process
killed outright (SIGKILL, a power cut) loses the lookups of its last interval; a failed append
is retried with the entries kept. When the queue is full (QUEUE_LIMIT: the database away for a
while) the lookup goes to Flask, which audits it in its own transaction, as with the setting 0.

Only public reads come here. Every change, denial, sign-in and reveal of personal data is
audited in its own transaction, as before (app/audit/services.py).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from app.audit import services as audit
from app.core import fast
from app.core.sqltext import driver_sql

log = logging.getLogger(__name__)

EXTENSION = "gridgov_audit_deferred"
QUEUE_LIMIT = 20_000
APPEND = driver_sql(audit.APPEND_SQL)


class Deferred:
    """This process's queue of entries and the thread that appends them."""

    def __init__(self, app) -> None:
        self.app = app
        self.entries: list[dict] = []
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = None

    def put(self, entry: dict) -> bool:
        """Queue an entry; False when the queue is full (the caller audits it itself)."""
        with self.lock:
            if len(self.entries) >= QUEUE_LIMIT:
                return False
            self.entries.append(entry)
            if self.pid != os.getpid() or self.thread is None or not self.thread.is_alive():
                # Started lazily, and again in a forked worker (threads do not survive a fork).
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self.run, name="audit-deferred", daemon=True)
                self.thread.start()
        return True

    def pending(self) -> int:
        with self.lock:
            return len(self.entries)

    def run(self) -> None:
        interval = self.app.config["AUDIT_PUBLIC_DEFER_MS"] / 1000
        while True:
            time.sleep(interval)
            self.flush()

    def flush(self) -> int:
        """Append everything queued in one call; how many. On failure the entries stay queued,
        in order, for the next try."""
        with self.lock:
            batch, self.entries = self.entries, []
        if not batch:
            return 0
        params = {"entries": audit.append_argument(batch), "k": audit.AUDIT_LOCK_KEY}

        def append(cursor):
            cursor.execute(APPEND, params)  # in autocommit: the statement commits itself
            return cursor.fetchone()[0]

        written = fast.fetch(self.app, append)
        if written != len(batch):
            log.warning(
                "deferred audit append failed; %d entries kept for the next try", len(batch)
            )
            with self.lock:
                self.entries[:0] = batch
            return 0
        return written


def deferred(app) -> Deferred:
    """The app's queue (made on first use, flushed at exit)."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions.setdefault(EXTENSION, Deferred(app))
        if found is app.extensions[EXTENSION]:
            atexit.register(found.flush)
    return found


def record(app, entry: dict) -> bool:
    """Queue a public read's entry when the app defers them; False: audit it now instead."""
    if app.config["AUDIT_PUBLIC_DEFER_MS"] <= 0:
        return False
    return deferred(app).put(entry)


def flush(app) -> int:
    """Append what this process has queued (tests; the worker's exit)."""
    found = app.extensions.get(EXTENSION)
    return found.flush() if found is not None else 0
