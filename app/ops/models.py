"""Maintenance tasks a migration asks the running app to do (with the app's current code)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from app.extensions import db


class MaintenanceTask(db.Model):
    """A task waiting for the next sweep, e.g. recounting clocks after the rules changed.

    Migrations must not run application code (it follows the newest schema, not theirs): a
    migration that changes what a derived value means inserts a task here, and `flask cases
    sweep` (run by `make run` after migrating, and every few minutes) carries it out.
    """

    __tablename__ = "maintenance_tasks"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
