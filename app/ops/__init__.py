"""Operations: health checks, request ids and logs, metrics, request-body guards, backups."""

from __future__ import annotations

from flask import Flask

from app.ops.guards import init_guards
from app.ops.logging import init_request_logging
from app.ops.metrics import init_metrics


def init_app(app: Flask) -> None:
    """Install the app-wide request hooks; request ids first, so every later hook can log them."""
    init_request_logging(app)
    init_metrics(app)
    init_guards(app)
