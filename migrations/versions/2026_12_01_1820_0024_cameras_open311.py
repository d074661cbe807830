"""雪亮工程 cameras and a case's camera (issue 17 item 4; Open311, item 5, needs no table).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 18:20
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
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
        sa.Column("direction", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), server_default="online", nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("video_url", sa.String(length=500), nullable=True),
        sa.Column("grid_cell_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=15), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("device_code ~ '^[0-9]{20}$'", name=op.f("ck_cameras_device_code")),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'fault')", name=op.f("ck_cameras_status")
        ),
        sa.CheckConstraint(
            "direction IS NULL OR direction BETWEEN 0 AND 359", name=op.f("ck_cameras_direction")
        ),
        sa.CheckConstraint(
            "video_url IS NULL OR video_url ~ '^https?://'", name=op.f("ck_cameras_video_url")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_cameras_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_cameras_grid_cell_id_grid_cells"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["regions.id"],
            name=op.f("fk_cameras_village_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["town_id"],
            ["regions.id"],
            name=op.f("fk_cameras_town_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["regions.id"],
            name=op.f("fk_cameras_county_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
        sa.UniqueConstraint("device_code", name=op.f("uq_cameras_device_code")),
    )
    op.create_index("ix_cameras_geom", "cameras", ["geom"], postgresql_using="gist")
    op.create_index(
        "ix_cameras_region_code",
        "cameras",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.add_column("cases", sa.Column("camera_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_camera_id_cameras"),
        "cases",
        "cameras",
        ["camera_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.create_index("ix_cases_camera_id", "cases", ["camera_id"])


def downgrade():
    op.drop_index("ix_cases_camera_id", table_name="cases")
    op.drop_constraint(op.f("fk_cases_camera_id_cameras"), "cases", type_="foreignkey")
    op.drop_column("cases", "camera_id")
    op.drop_index("ix_cameras_region_code", table_name="cameras")
    op.drop_index("ix_cameras_geom", table_name="cameras")
    op.drop_table("cameras")
