"""Risks: risk points (风险隐患排查台账), their append-only history, inspections, categories
(seeded with shared/DOMAIN.md §5's list) and the inspection schedule (red 7, orange 14, yellow 30,
blue 90 days); attachments (stored by content hash, owned by any object); and the foreign key
from cases.risk_point_id to risk_points.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 15:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (name, sub-categories, restricted): 重点人群 holds no personal data beyond its sub-category
# (个人信息保护法 第二十八条), so it has no free-text name or description (docs/risks.md).
DEFAULT_CATEGORIES = [
    ("欠薪", [], False),
    ("四乱", ["乱占", "乱采", "乱堆", "乱建"], False),
    (
        "重点人群",
        ["矛盾纠纷易激化", "信访诉求未化解", "生活困难需帮扶", "独居高龄老人", "其他需关注情形"],
        True,
    ),
    ("安全生产", [], False),
    ("消防", [], False),
    ("防汛/地质灾害", [], False),
    ("道路交通", [], False),
    ("房屋安全", [], False),
    ("食品药品", [], False),
    ("涉稳", [], False),
]

DEFAULT_SCHEDULE = [
    ("red", 7, "风险隐患排查默认周期：红色（重大）每 7 天"),
    ("orange", 14, "风险隐患排查默认周期：橙色（较大）每 14 天"),
    ("yellow", 30, "风险隐患排查默认周期：黄色（一般）每 30 天"),
    ("blue", 90, "风险隐患排查默认周期：蓝色（低）每 90 天"),
]

EVENTS_IMMUTABLE = """
CREATE FUNCTION risk_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'risk_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER risk_events_no_update_delete BEFORE UPDATE OR DELETE ON risk_events
    FOR EACH ROW EXECUTE FUNCTION risk_events_immutable();
CREATE TRIGGER risk_events_no_truncate BEFORE TRUNCATE ON risk_events
    FOR EACH STATEMENT EXECUTE FUNCTION risk_events_immutable();
"""


def upgrade():
    op.create_table(
        "inspection_schedules",
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "level IN ('red', 'orange', 'yellow', 'blue')",
            name=op.f("ck_inspection_schedules_level"),
        ),
        sa.CheckConstraint("days > 0 AND days <= 366", name=op.f("ck_inspection_schedules_days")),
        sa.PrimaryKeyConstraint("level", name=op.f("pk_inspection_schedules")),
    )
    op.create_table(
        "risk_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column(
            "subcategories",
            postgresql.ARRAY(sa.String(length=40)),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("restricted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_risk_categories_name")),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("owner_type", sa.String(length=30), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'application/pdf')",
            name=op.f("ck_attachments_content_type"),
        ),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_attachments_sha256_format")),
        sa.CheckConstraint("size > 0", name=op.f("ck_attachments_size")),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_attachments_uploaded_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index("ix_attachments_owner", ["owner_type", "owner_id"], unique=False)
        batch_op.create_index("ix_attachments_sha256", ["sha256"], unique=False)

    op.create_geospatial_table(
        "risk_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("subcategory", sa.String(length=40), nullable=True),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="active", nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
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
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=False),
        sa.Column("last_inspected_on", sa.Date(), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("overdue_since", sa.Date(), nullable=True),
        sa.Column("clear_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clear_requested_by_id", sa.Integer(), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'cleared') = (cleared_at IS NOT NULL)",
            name=op.f("ck_risk_points_cleared_consistent"),
        ),
        sa.CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'POLYGON') AND ST_IsValid(geom) AND NOT ST_IsEmpty(geom)",
            name=op.f("ck_risk_points_geom_kind"),
        ),
        sa.CheckConstraint(
            "level IN ('red', 'orange', 'yellow', 'blue')", name=op.f("ck_risk_points_level")
        ),
        sa.CheckConstraint("status IN ('active', 'cleared')", name=op.f("ck_risk_points_status")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["risk_categories.id"],
            name=op.f("fk_risk_points_category_id_risk_categories"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["clear_requested_by_id"],
            ["users.id"],
            name=op.f("fk_risk_points_clear_requested_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["regions.id"],
            name=op.f("fk_risk_points_county_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_risk_points_grid_cell_id_grid_cells"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["users.id"],
            name=op.f("fk_risk_points_registered_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["users.id"],
            name=op.f("fk_risk_points_responsible_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["town_id"],
            ["regions.id"],
            name=op.f("fk_risk_points_town_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["regions.id"],
            name=op.f("fk_risk_points_village_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_points")),
        sa.UniqueConstraint("code", name=op.f("uq_risk_points_code")),
    )
    with op.batch_alter_table("risk_points", schema=None) as batch_op:
        batch_op.create_index("ix_risk_points_category_id", ["category_id"], unique=False)
        batch_op.create_geospatial_index(
            "ix_risk_points_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_risk_points_grid_cell_id", ["grid_cell_id"], unique=False)
        batch_op.create_index(
            "ix_risk_points_region_code",
            ["region_code"],
            unique=False,
            postgresql_ops={"region_code": "text_pattern_ops"},
        )
        batch_op.create_index("ix_risk_points_responsible_id", ["responsible_id"], unique=False)
        batch_op.create_index(
            "ix_risk_points_status_next_due", ["status", "next_due", "id"], unique=False
        )

    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("risk_point_id", sa.Integer(), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("result IN ('normal', 'abnormal')", name=op.f("ck_inspections_result")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_inspections_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"],
            ["users.id"],
            name=op.f("fk_inspections_inspector_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["risk_point_id"],
            ["risk_points.id"],
            name=op.f("fk_inspections_risk_point_id_risk_points"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
    )
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inspections_risk_point_id", ["risk_point_id", "inspected_on"], unique=False
        )

    op.create_table(
        "risk_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("risk_point_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_level", sa.String(length=10), nullable=True),
        sa.Column("to_level", sa.String(length=10), nullable=True),
        sa.Column("from_status", sa.String(length=10), nullable=True),
        sa.Column("to_status", sa.String(length=10), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_risk_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["risk_point_id"],
            ["risk_points.id"],
            name=op.f("fk_risk_events_risk_point_id_risk_points"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_events")),
    )
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.create_index("ix_risk_events_risk_point_id", ["risk_point_id", "id"], unique=False)

    op.execute(EVENTS_IMMUTABLE)
    # Before this revision cases.risk_point_id pointed at nothing: no risk point existed yet.
    op.execute("UPDATE cases SET risk_point_id = NULL WHERE risk_point_id IS NOT NULL")
    op.create_foreign_key(
        op.f("fk_cases_risk_point_id_risk_points"),
        "cases",
        "risk_points",
        ["risk_point_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    # A point's detail lists its linked cases.
    op.create_index("ix_cases_risk_point_id", "cases", ["risk_point_id"])
    categories = sa.table(
        "risk_categories",
        sa.column("name", sa.String),
        sa.column("subcategories", postgresql.ARRAY(sa.String)),
        sa.column("restricted", sa.Boolean),
        sa.column("sort_order", sa.Integer),
    )
    op.bulk_insert(
        categories,
        [
            {"name": name, "subcategories": subs, "restricted": restricted, "sort_order": n * 10}
            for n, (name, subs, restricted) in enumerate(DEFAULT_CATEGORIES, start=1)
        ],
    )
    schedules = sa.table(
        "inspection_schedules",
        sa.column("level", sa.String),
        sa.column("days", sa.Integer),
        sa.column("source", sa.String),
    )
    op.bulk_insert(
        schedules,
        [
            {"level": level, "days": days, "source": source}
            for level, days, source in DEFAULT_SCHEDULE
        ],
    )


def downgrade():
    op.drop_index("ix_cases_risk_point_id", table_name="cases")
    op.drop_constraint(op.f("fk_cases_risk_point_id_risk_points"), "cases", type_="foreignkey")
    with op.batch_alter_table("risk_events", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_events_risk_point_id")

    op.drop_table("risk_events")
    with op.batch_alter_table("inspections", schema=None) as batch_op:
        batch_op.drop_index("ix_inspections_risk_point_id")

    op.drop_table("inspections")
    with op.batch_alter_table("risk_points", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_points_status_next_due")
        batch_op.drop_index("ix_risk_points_responsible_id")
        batch_op.drop_index(
            "ix_risk_points_region_code", postgresql_ops={"region_code": "text_pattern_ops"}
        )
        batch_op.drop_index("ix_risk_points_grid_cell_id")
        batch_op.drop_geospatial_index(
            "ix_risk_points_geom", postgresql_using="gist", column_name="geom"
        )
        batch_op.drop_index("ix_risk_points_category_id")

    op.drop_geospatial_table("risk_points")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_attachments_sha256")
        batch_op.drop_index("ix_attachments_owner")

    op.drop_table("attachments")
    op.drop_table("risk_categories")
    op.drop_table("inspection_schedules")
    op.execute("DROP FUNCTION risk_events_immutable()")
