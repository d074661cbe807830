"""Cases: cases, parties, timeline, agreements, follow-ups, numbering, idempotency keys, and
the deadline policy (seeded with shared/DOMAIN.md §4's defaults) and admin-entered holiday years.

The timeline (case_events) is append-only in the database, like the audit log. pg_trgm indexes
titles and descriptions for Chinese text search.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 14:35
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# A frozen copy, as this migration seeded it: app/deadlines/policy.py DEFAULT_POLICY is the one
# source from now on (an applied migration never changes).
DEFAULT_POLICY = [
    ("petition", "*", "accept", "*", 15, "days", "信访工作条例 第二十二、二十三条"),
    ("petition", "*", "resolve", "*", 60, "days", "信访工作条例 第三十四条"),
    ("petition", "*", "extension_max", "*", 30, "days", "信访工作条例 第三十四条（延期一次）"),
    ("petition", "*", "review_request", "*", 30, "days", "信访工作条例 第三十五条"),
    ("petition", "*", "review_answer", "*", 30, "days", "信访工作条例 第三十五条"),
    ("petition", "*", "re_review_request", "*", 30, "days", "信访工作条例 第三十六条"),
    ("petition", "*", "re_review_decision", "*", 30, "days", "信访工作条例 第三十六条"),
    ("dispute", "*", "accept", "*", 3, "days", "地方实践（可配置）"),
    ("dispute", "*", "resolve", "*", 30, "days", "深圳 2022 第二十五条；宁波 第二十七条"),
    ("dispute", "*", "extension_max", "*", 30, "days", "经当事人同意可延长（可配置）"),
    ("dispute", "*", "judicial_window", "*", 30, "days", "人民调解法 第三十三条"),
    ("incident", "*", "resolve", "simple", 1, "days", "县级实践：简易"),
    ("incident", "*", "resolve", "ordinary", 7, "days", "县级实践：一般"),
    ("incident", "*", "resolve", "complex", 20, "days", "县级实践：复杂"),
    ("incident", "*", "extension_max", "*", 10, "days", "县级实践（可配置）"),
]

EVENTS_IMMUTABLE = """
CREATE FUNCTION case_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER case_events_no_update_delete BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_immutable();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_immutable();
"""


def upgrade():
    # pg_trgm is a trusted extension: the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "case_counters",
        sa.Column("county_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("county_code", "year", name=op.f("pk_case_counters")),
    )
    op.create_table(
        "deadline_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=10), server_default="*", nullable=False),
        sa.Column("clock", sa.String(length=30), nullable=False),
        sa.Column("variant", sa.String(length=10), server_default="*", nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=12), server_default="days", nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "unit IN ('days', 'working_days')", name=op.f("ck_deadline_policies_unit")
        ),
        sa.CheckConstraint("days > 0 AND days <= 366", name=op.f("ck_deadline_policies_days")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_policies")),
        sa.UniqueConstraint("kind", "level", "clock", "variant", name="uq_deadline_policies_rule"),
    )
    op.create_geospatial_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("complexity", sa.String(length=10), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column(
            "location",
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
        sa.Column("origin_level", sa.String(length=10), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("max_level", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="reported", nullable=False),
        sa.Column("group_visit", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("accept_from", sa.Date(), nullable=True),
        sa.Column("accept_due", sa.Date(), nullable=True),
        sa.Column("resolve_from", sa.Date(), nullable=True),
        sa.Column("resolve_due", sa.Date(), nullable=True),
        sa.Column("review_request_due", sa.Date(), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("clock_warning", sa.String(length=200), nullable=True),
        sa.Column("warning", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_on_time", sa.Boolean(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_on_time", sa.Boolean(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("extension_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("extension_requested", sa.Integer(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("supervision", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("supervision_note", sa.Text(), nullable=True),
        sa.Column("supervision_due", sa.Date(), nullable=True),
        sa.Column("review_stage", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("risk_point_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
            "complexity IS NULL OR complexity IN ('simple', 'ordinary', 'complex')",
            name=op.f("ck_cases_cx"),
        ),
        sa.CheckConstraint(
            "kind IN ('dispute', 'petition', 'incident')", name=op.f("ck_cases_kind")
        ),
        sa.CheckConstraint("level IN ('village', 'town', 'county')", name=op.f("ck_cases_level")),
        sa.CheckConstraint(
            "max_level IN ('village', 'town', 'county')", name=op.f("ck_cases_max_level")
        ),
        sa.CheckConstraint(
            "origin_level IN ('village', 'town', 'county')", name=op.f("ck_cases_origin_level")
        ),
        sa.CheckConstraint(
            "review_stage IN ('none', 'review', 're_review')", name=op.f("ck_cases_review_stage")
        ),
        sa.CheckConstraint(
            "source IN ('grid_patrol', 'visit', 'letter', 'phone', 'online', 'video', 'assigned', 'other')",
            name=op.f("ck_cases_source"),
        ),
        sa.CheckConstraint(
            "state IN ('reported', 'accepted', 'in_progress', 'resolved', 'followed_up', 'closed', 'rejected', 'withdrawn')",
            name=op.f("ck_cases_state"),
        ),
        sa.CheckConstraint(
            "supervision IN ('none', 'normal', 'yellow', 'red')", name=op.f("ck_cases_supervision")
        ),
        sa.CheckConstraint("warning IN ('none', 'yellow', 'red')", name=op.f("ck_cases_warning")),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["regions.id"],
            name=op.f("fk_cases_county_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_cell_id"],
            ["grid_cells.id"],
            name=op.f("fk_cases_grid_cell_id_grid_cells"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["cases.id"], name=op.f("fk_cases_parent_id_cases"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_cases_reporter_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["town_id"], ["regions.id"], name=op.f("fk_cases_town_id_regions"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["regions.id"],
            name=op.f("fk_cases_village_id_regions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_grid_cell_id", ["grid_cell_id"], unique=False)
        batch_op.create_geospatial_index(
            "ix_cases_location",
            ["location"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
        batch_op.create_index("ix_cases_parent_id", ["parent_id"], unique=False)
        batch_op.create_index(
            "ix_cases_region_code",
            ["region_code"],
            unique=False,
            postgresql_ops={"region_code": "text_pattern_ops"},
        )
        batch_op.create_index("ix_cases_reported_at", ["reported_at"], unique=False)
        batch_op.create_index("ix_cases_reporter_id", ["reporter_id"], unique=False)
        batch_op.create_index("ix_cases_state_next_due", ["state", "next_due", "id"], unique=False)
        batch_op.create_index("ix_cases_town_id", ["town_id"], unique=False)
        batch_op.create_index("ix_cases_village_id", ["village_id"], unique=False)

    op.create_table(
        "holiday_years",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("workdays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("notice", sa.String(length=200), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "entered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entered_by_id"],
            ["users.id"],
            name=op.f("fk_holiday_years_entered_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_holiday_years")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_created_at", ["created_at"], unique=False)

    op.create_table(
        "agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("responsibilities", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("performance_method", sa.Text(), nullable=False),
        sa.Column("performance_due", sa.Date(), nullable=False),
        sa.Column("performed", sa.Boolean(), nullable=True),
        sa.Column("performed_on", sa.Date(), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("signed_by_parties", sa.Boolean(), nullable=False),
        sa.Column("signed_by_mediator", sa.Boolean(), nullable=False),
        sa.Column("judicial_window_due", sa.Date(), nullable=False),
        sa.Column("judicial_applied_on", sa.Date(), nullable=True),
        sa.Column(
            "judicial_outcome", sa.String(length=12), server_default="pending", nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "judicial_outcome IN ('pending', 'applied', 'confirmed', 'rejected', 'not_applied')",
            name=op.f("ck_agreements_judicial_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_agreements_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
        sa.UniqueConstraint("case_id", name=op.f("uq_agreements_case_id")),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=12), nullable=True),
        sa.Column("to_state", sa.String(length=12), nullable=True),
        sa.Column("from_level", sa.String(length=10), nullable=True),
        sa.Column("to_level", sa.String(length=10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_case_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_events_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_case_id", ["case_id", "id"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("by_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("satisfaction", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "method IN ('phone', 'visit', 'online')", name=op.f("ck_follow_ups_method")
        ),
        sa.CheckConstraint(
            "satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')",
            name=op.f("ck_follow_ups_satisfaction"),
        ),
        sa.ForeignKeyConstraint(
            ["by_id"], ["users.id"], name=op.f("fk_follow_ups_by_id_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_follow_ups_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index("ix_follow_ups_case_id", ["case_id"], unique=False)

    op.create_table(
        "parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("name_masked", sa.String(length=40), nullable=False),
        sa.Column("id_number_masked", sa.String(length=20), nullable=True),
        sa.Column("phone_masked", sa.String(length=20), nullable=True),
        sa.Column("address_masked", sa.String(length=60), nullable=True),
        sa.Column("name_hash", sa.String(length=64), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "role IN ('applicant', 'respondent', 'third_party')", name=op.f("ck_parties_role")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_parties_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
    )
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.create_index("ix_parties_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_parties_id_number_hash", ["id_number_hash"], unique=False)
        batch_op.create_index("ix_parties_name_hash", ["name_hash"], unique=False)
        batch_op.create_index("ix_parties_phone_hash", ["phone_hash"], unique=False)

    op.execute(
        "CREATE INDEX ix_cases_text_trgm ON cases USING gin ((title || ' ' || description) gin_trgm_ops)"
    )
    op.execute(EVENTS_IMMUTABLE)
    policies = sa.table(
        "deadline_policies",
        sa.column("kind", sa.String),
        sa.column("level", sa.String),
        sa.column("clock", sa.String),
        sa.column("variant", sa.String),
        sa.column("days", sa.Integer),
        sa.column("unit", sa.String),
        sa.column("source", sa.String),
    )
    op.bulk_insert(
        policies,
        [
            dict(
                zip(
                    ("kind", "level", "clock", "variant", "days", "unit", "source"),
                    row,
                    strict=True,
                )
            )
            for row in DEFAULT_POLICY
        ],
    )


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_cases_text_trgm")
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.drop_index("ix_parties_phone_hash")
        batch_op.drop_index("ix_parties_name_hash")
        batch_op.drop_index("ix_parties_id_number_hash")
        batch_op.drop_index("ix_parties_case_id")

    op.drop_table("parties")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_case_id")

    op.drop_table("follow_ups")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_case_id")

    op.drop_table("case_events")
    op.drop_table("agreements")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_created_at")

    op.drop_table("idempotency_keys")
    op.drop_table("holiday_years")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_village_id")
        batch_op.drop_index("ix_cases_town_id")
        batch_op.drop_index("ix_cases_state_next_due")
        batch_op.drop_index("ix_cases_reporter_id")
        batch_op.drop_index("ix_cases_reported_at")
        batch_op.drop_index(
            "ix_cases_region_code", postgresql_ops={"region_code": "text_pattern_ops"}
        )
        batch_op.drop_index("ix_cases_parent_id")
        batch_op.drop_geospatial_index(
            "ix_cases_location", postgresql_using="gist", column_name="location"
        )
        batch_op.drop_index("ix_cases_grid_cell_id")

    op.drop_geospatial_table("cases")
    op.drop_table("deadline_policies")
    op.drop_table("case_counters")
    op.execute("DROP FUNCTION case_events_immutable()")
