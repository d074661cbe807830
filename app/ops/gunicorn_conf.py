"""gunicorn's configuration: `gunicorn --config python:app.ops.gunicorn_conf wsgi:app`.

Threaded workers with keep-alive (issue 18): sync workers close every connection after one
answer, so each tile of a map page paid a new TCP connection; a gthread worker keeps a client's
connection open for KEEPALIVE seconds and answers on THREADS threads, which overlap one request's
database wait with another's work. Module-level state the app shares between threads is locked
(the tile cache, app/tiles/services.py TileCache) or per request (sessions, `g`).

Everything comes from the environment (WEB_WORKERS, WEB_THREADS, WEB_KEEPALIVE, WEB_TIMEOUT,
GUNICORN_BIND or PORT); options given on the command line (`--bind`, `--workers`) still override
these. Each thread may hold a database connection: keep DB_POOL_SIZE ≥ WEB_THREADS.
"""

from __future__ import annotations

import gc
import os
import sys

from prometheus_client import multiprocess

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:" + os.environ.get("PORT", "5000"))
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
# Longer than DB_STATEMENT_TIMEOUT_MS: the database gives up first, cleanly (503).
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
# The app logs every request itself (path only); gunicorn's access log would write query strings
# (tile keys among them), which may hold personal data.
accesslog = None
errorlog = "-"
# No control socket: make run and systemd manage the server.
control_socket_disable = True


def child_exit(server, worker):
    """Tell prometheus_client that a worker is gone (multiprocess mode, docs/operations.md)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Once the app is loaded: its ~270,000 long-lived objects (modules, mappers, schemas,
    compiled statements) leave the collector's generations (gc.freeze), so the collections the
    requests' garbage triggers no longer walk them (a full one took ~60-130 ms)."""
    if os.environ.get("WEB_GC_FREEZE", "1") != "0":
        gc.collect()
        gc.freeze()
    # A thread back from the database waits for the GIL while another runs Python, up to the
    # switch interval (5 ms by default): a report holding its number's lock (app/cases/
    # registration.py) waited so on each of its last round trips (issue 18). 1 ms hands over
    # sooner; WEB_SWITCH_INTERVAL_MS sets it.
    sys.setswitchinterval(float(os.environ.get("WEB_SWITCH_INTERVAL_MS", "1")) / 1000)


def worker_exit(server, worker):
    """Append the public lookups' audit entries the worker still holds (app/audit/deferred.py)."""
    from app.audit import deferred  # import here: the config loads in the master, before the app

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        deferred.flush(app)
