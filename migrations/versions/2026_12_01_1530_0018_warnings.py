"""研判预警 (issue 16 item 1): warning rules (thresholds as data, seeded) and warnings.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 15:30
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KINDS = "kind IN ('hotspot', 'repeat_party', 'group', 'bypass', 'risk_point')"
# DOMAIN §10's defaults, as app/warnings/rules.py DEFAULTS held them when this was written (a
# later change of the defaults is a new migration, not an edit here).
DEFAULTS = {
    "hotspot": {
        "window_days": 14,
        "min_cases": 3,
        "baseline_months": 12,
        "p_value": 0.01,
        "min_baseline": 0.5,
        "cell": True,
        "village": True,
    },
    "repeat_party": {"months": 12, "min_cases": 3, "while_open": True},
    "group": {"min_people": 5, "group_visit": True},
    "bypass": {"levels": ["county"], "sources": ["visit", "letter", "phone", "online", "video"]},
    "risk_point": {"abnormal_in_row": 3, "red_overdue": True},
}


def upgrade():
    rules = op.create_table(
        "warning_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "params", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "updated_by_id",
            sa.Integer(),
            sa.ForeignKey(
                "users.id", ondelete="SET NULL", name=op.f("fk_warning_rules_updated_by_id_users")
            ),
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(KINDS, name=op.f("ck_warning_rules_kind")),
        sa.UniqueConstraint("kind", name=op.f("uq_warning_rules_kind")),
    )
    op.bulk_insert(rules, [{"kind": kind, "params": params} for kind, params in DEFAULTS.items()])

    def user(column: str) -> sa.Column:
        return sa.Column(
            column,
            sa.Integer(),
            sa.ForeignKey(
                "users.id", ondelete="RESTRICT", name=op.f(f"fk_warnings_{column}_users")
            ),
        )

    def region(column: str, nullable: bool) -> sa.Column:
        return sa.Column(
            column,
            sa.Integer(),
            sa.ForeignKey(
                "regions.id", ondelete="RESTRICT", name=op.f(f"fk_warnings_{column}_regions")
            ),
            nullable=nullable,
        )

    op.create_table(
        "warnings",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("dedup_key", sa.String(120), nullable=False),
        sa.Column("state", sa.String(15), server_default="open", nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column(
            "grid_cell_id",
            sa.Integer(),
            sa.ForeignKey(
                "grid_cells.id",
                ondelete="RESTRICT",
                name=op.f("fk_warnings_grid_cell_id_grid_cells"),
            ),
        ),
        region("village_id", True),
        region("town_id", False),
        region("county_id", False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("category", sa.String(40)),
        sa.Column("case_ids", postgresql.ARRAY(sa.Integer()), server_default="{}", nullable=False),
        sa.Column(
            "risk_point_id",
            sa.Integer(),
            sa.ForeignKey(
                "risk_points.id",
                ondelete="RESTRICT",
                name=op.f("fk_warnings_risk_point_id_risk_points"),
            ),
        ),
        sa.Column("party_hash", sa.String(64)),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Float()),
        sa.Column("p_value", sa.Float()),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry("POINT", srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT"),
            nullable=False,
        ),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        user("acknowledged_by_id"),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        user("handled_by_id"),
        sa.Column("handled_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.Text()),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_warnings_kind")),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'handled')", name=op.f("ck_warnings_state")
        ),
        sa.CheckConstraint(
            "level IN ('village', 'town', 'county')", name=op.f("ck_warnings_level")
        ),
    )
    op.create_index(
        "uq_warnings_live_key",
        "warnings",
        ["dedup_key"],
        unique=True,
        postgresql_where=sa.text("state IN ('open', 'acknowledged')"),
    )
    op.create_index("ix_warnings_dedup_key", "warnings", ["dedup_key"])
    op.create_index(
        "ix_warnings_region_code",
        "warnings",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_index("ix_warnings_state_id", "warnings", ["state", "id"])
    op.create_index("ix_warnings_first_seen_at", "warnings", ["first_seen_at"])


def downgrade():
    op.drop_table("warnings")
    op.drop_table("warning_rules")
