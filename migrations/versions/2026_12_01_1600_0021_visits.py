"""Visits (走访 / 民情日志) and assessment weights (网格员考核), issue 16 items 3 and 5.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 15:50
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

PURPOSES = ("routine", "key_people", "disputes", "policy", "other")
DEFAULT_WEIGHTS = {
    "reports": (20, 10),
    "verified_reports": (15, 6),
    "inspections_on_time": (20, 8),
    "visits": (25, 20),
    "follow_ups": (10, 4),
    "satisfaction": (10, 90),
}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_key", sa.String(length=100), nullable=False),
        sa.Column("logged_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=15), nullable=False),
        sa.Column("household_enc", sa.LargeBinary(), nullable=False),
        sa.Column("household_masked", sa.String(length=40), nullable=False),
        sa.Column("household_hash", sa.String(length=64), nullable=False),
        sa.Column("householder_enc", sa.LargeBinary(), nullable=True),
        sa.Column("householder_masked", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("heard", sa.Text(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_state", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(_in("purpose", PURPOSES), name=op.f("ck_visits_purpose")),
        sa.CheckConstraint(
            _in("review_state", ("pending", "reviewed")), name=op.f("ck_visits_review_state")
        ),
        sa.CheckConstraint(
            "(review_state = 'reviewed') = (reviewed_at IS NOT NULL)",
            name=op.f("ck_visits_review_consistent"),
        ),
        sa.ForeignKeyConstraint(
            ["logged_by_id"],
            ["users.id"],
            name=op.f("fk_visits_logged_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_visits_reviewed_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_visits_grid_cell_id_grid_cells"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["regions.id"],
            name=op.f("fk_visits_village_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["town_id"],
            ["regions.id"],
            name=op.f("fk_visits_town_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["regions.id"],
            name=op.f("fk_visits_county_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visits")),
        sa.UniqueConstraint("logged_by_id", "client_key", name=op.f("uq_visits_client_key")),
    )
    op.create_index(
        "ix_visits_region_code",
        "visits",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_index("ix_visits_grid_cell_id_visited_at", "visits", ["grid_cell_id", "visited_at"])
    op.create_index("ix_visits_logged_by_id_visited_at", "visits", ["logged_by_id", "visited_at"])

    op.create_table(
        "assessment_weights",
        sa.Column("component", sa.String(length=30), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            _in("component", tuple(DEFAULT_WEIGHTS)), name=op.f("ck_assessment_weights_component")
        ),
        sa.CheckConstraint(
            "weight >= 0 AND weight <= 100", name=op.f("ck_assessment_weights_weight")
        ),
        sa.CheckConstraint("target > 0", name=op.f("ck_assessment_weights_target")),
        sa.PrimaryKeyConstraint("component", name=op.f("pk_assessment_weights")),
    )
    weights = sa.table(
        "assessment_weights",
        sa.column("component", sa.String),
        sa.column("weight", sa.Integer),
        sa.column("target", sa.Integer),
    )
    op.bulk_insert(
        weights,
        [{"component": c, "weight": w, "target": t} for c, (w, t) in DEFAULT_WEIGHTS.items()],
    )


def downgrade():
    op.drop_table("assessment_weights")
    op.drop_index("ix_visits_logged_by_id_visited_at", table_name="visits")
    op.drop_index("ix_visits_grid_cell_id_visited_at", table_name="visits")
    op.drop_index("ix_visits_region_code", table_name="visits")
    op.drop_table("visits")
