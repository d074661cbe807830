"""Personal data in free text and retention (issue 19): clear originals, retention policies,
de-identified and archived cases, and the one UPDATE case_events allows (masking a note).

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-01 18:40
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None

KINDS = ("dispute", "petition", "incident", "risk_point", "visit", "self_report", "audit_log")
# Defaults (configurable, docs/privacy.md): months after a record ends.
DEFAULTS = [
    ("dispute", 60, "人民调解卷宗：默认 5 年（可配置）"),
    ("petition", 60, "信访事项材料：默认 5 年（可配置）"),
    ("incident", 36, "一般事件：默认 3 年（可配置）"),
    ("risk_point", 36, "风险点销号后：默认 3 年（可配置）"),
    ("visit", 24, "走访记录：默认 2 年（可配置）"),
    ("self_report", 12, "随手拍未立案：默认 1 年（可配置）"),
    ("audit_log", 36, "网络安全法 第二十一条：不少于六个月"),
]

# The masking de-identification applies in the database (case_events' notes): any 18- or
# 15-digit ID-like run, mobile and landline number, without the checksum test the app's detector
# makes (past retention, over-masking an order number loses nothing that counts).
MASK_FUNCTION = r"""
CREATE FUNCTION gridgov_mask_text(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(t,
    '(?<![0-9])([0-9]{6})[ -]?[0-9]{8}[ -]?([0-9]{3}[0-9Xx])(?![0-9Xx])', '\1********\2', 'g'),
    '(?<![0-9])([0-9]{6})[0-9]{5}([0-9]{4})(?![0-9Xx])', '\1*****\2', 'g'),
    '(?<![0-9])(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})(?![0-9])', '\1****\2', 'g'),
    '(?<![0-9-])(0[0-9]{2,3})-[0-9]{3,4}([0-9]{4})(?![0-9-])', '\1****\2', 'g')
$$;
"""

# case_events stays append-only, except an UPDATE that changes nothing but the note, to its
# masked form: whoever runs it can only remove personal data, never rewrite history.
EVENTS_IMMUTABLE = """
CREATE OR REPLACE FUNCTION case_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(NEW) - 'note') = (to_jsonb(OLD) - 'note')
       AND NEW.note IS NOT DISTINCT FROM gridgov_mask_text(OLD.note) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'case_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""
EVENTS_IMMUTABLE_0004 = """
CREATE OR REPLACE FUNCTION case_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

# The privileged path for de-identification: owned by the migrations' role, so an app role
# without UPDATE on case_events (docs/deployment.md) can still mask a de-identified case's notes.
DEIDENTIFY_EVENTS = """
CREATE FUNCTION deidentify_case_events(p_case integer) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH done AS (
        UPDATE case_events SET note = gridgov_mask_text(note)
         WHERE case_id = p_case
           AND EXISTS (SELECT 1 FROM cases WHERE id = p_case AND deidentified_at IS NOT NULL)
           AND note IS DISTINCT FROM gridgov_mask_text(note)
        RETURNING 1)
    SELECT count(*)::integer FROM done
$$;
"""


def upgrade():
    op.create_table(
        "free_text_originals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_free_text_originals")),
        sa.UniqueConstraint("table_name", "row_id", "field", name="uq_free_text_originals_field"),
    )
    op.create_index("ix_free_text_originals_case_id", "free_text_originals", ["case_id"])
    op.create_table(
        "retention_policies",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN (" + ", ".join(repr(k) for k in KINDS) + ")",
            name=op.f("ck_retention_policies_kind"),
        ),
        sa.CheckConstraint("months >= 1", name=op.f("ck_retention_policies_months")),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_retention_policies_updated_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_retention_policies")),
    )
    op.bulk_insert(
        sa.table(
            "retention_policies",
            sa.column("kind", sa.String),
            sa.column("months", sa.Integer),
            sa.column("basis", sa.String),
        ),
        [{"kind": k, "months": m, "basis": b} for k, m, b in DEFAULTS],
    )
    op.add_column("cases", sa.Column("deidentified_at", sa.DateTime(timezone=True)))
    op.add_column("cases", sa.Column("archived_at", sa.DateTime(timezone=True)))
    op.alter_column("parties", "name_enc", nullable=True)
    op.alter_column("parties", "name_hash", nullable=True)
    op.execute(MASK_FUNCTION)
    op.execute(EVENTS_IMMUTABLE)
    op.execute(DEIDENTIFY_EVENTS)


def downgrade():
    op.execute("DROP FUNCTION deidentify_case_events(integer)")
    op.execute(EVENTS_IMMUTABLE_0004)
    op.execute("DROP FUNCTION gridgov_mask_text(text)")
    op.execute("UPDATE parties SET name_enc = '', name_hash = '' WHERE name_enc IS NULL")
    op.alter_column("parties", "name_hash", nullable=False)
    op.alter_column("parties", "name_enc", nullable=False)
    op.drop_column("cases", "archived_at")
    op.drop_column("cases", "deidentified_at")
    op.drop_table("retention_policies")
    op.drop_index("ix_free_text_originals_case_id", table_name="free_text_originals")
    op.drop_table("free_text_originals")
