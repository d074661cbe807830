"""Risk versions: optimistic locking for risk points and risk categories.

A `version` column (integer, NOT NULL, default 1) on risk_points and risk_categories, used by
SQLAlchemy as `version_id_col` (as on cases): every change bumps it, and an UPDATE made from a
version that is no longer current matches no row and is answered 409. The risk API's actions
and category updates take it in `If-Match` (or `version`); the pages' forms carry it
(docs/risks.md, "Versions"). Existing rows start at 1. Replaces the pages' use of updated_at
microseconds as a version.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("risk_points", "risk_categories")


def upgrade() -> None:
    for table in TABLES:
        # A constant default: PostgreSQL adds the column without rewriting the table.
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_column(table, "version")
