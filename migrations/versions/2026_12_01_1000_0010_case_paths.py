"""Case paths: agreements (oral, late performance, found invalid), petition paths, mediators.

issue 13 items 6–8 (docs/workflow.md):

- cases: `mediator_ids` (人民调解法 第十九条, default empty); the likely same matter of 信访工作条例
  第十九条 (`same_matter_of_id`, `same_matter_decision`, `same_matter_note`); why a matter was not
  accepted (`rejection_ground`, `routes_told`, `competent_body`, `rejection_notice`: 第十九、
  二十三、三十一条); 听证 (`hearing_started_on`, `hearing_ended_on`, `hearing_days` default 0:
  第三十六条); `reply_received_on` (第三十五条); two more sources, 法院委派 and 公安委托
  (人民调解法 第十八条).
- agreements: `form` (written, the default for every existing agreement, or oral: 第二十八条),
  `agreed_by`, `performed_late` (set for existing agreements from their recorded dates); the
  items an oral agreement does not have become nullable; a court may find one `invalid`
  (第三十三条第二款).

Existing cases keep their values: nothing pending, no hearing, no mediators named.

NOTE for the merge: down_revision is "0008" for now; the clock helper adds 0009 and the lead
rechains this one onto it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_SOURCES = "('grid_patrol', 'visit', 'letter', 'phone', 'online', 'video', 'assigned', 'other')"
NEW_SOURCES = OLD_SOURCES[:-1] + ", 'court_referral', 'police_referral')"
OLD_OUTCOMES = "('pending', 'applied', 'confirmed', 'rejected', 'not_applied')"
NEW_OUTCOMES = OLD_OUTCOMES[:-1] + ", 'invalid')"
# Oral agreements have none of these (第二十八条).
ORAL_OPTIONAL = (
    ("facts", sa.Text()),
    ("responsibilities", sa.Text()),
    ("performance_method", sa.Text()),
    ("performance_due", sa.Date()),
    ("signed_by_parties", sa.Boolean()),
    ("signed_by_mediator", sa.Boolean()),
    ("judicial_window_due", sa.Date()),
)


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column(
            "mediator_ids",
            postgresql.ARRAY(sa.Integer()),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("cases", sa.Column("same_matter_of_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_same_matter_of_id_cases"),
        "cases",
        "cases",
        ["same_matter_of_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.add_column("cases", sa.Column("same_matter_decision", sa.String(10), nullable=True))
    op.add_column("cases", sa.Column("same_matter_note", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("rejection_ground", sa.String(20), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "routes_told", postgresql.ARRAY(sa.String(10)), server_default="{}", nullable=False
        ),
    )
    op.add_column("cases", sa.Column("competent_body", sa.String(100), nullable=True))
    op.add_column("cases", sa.Column("rejection_notice", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("hearing_started_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("hearing_ended_on", sa.Date(), nullable=True))
    op.add_column(
        "cases", sa.Column("hearing_days", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("cases", sa.Column("reply_received_on", sa.Date(), nullable=True))
    op.create_check_constraint(
        op.f("ck_cases_same_matter_decision"),
        "cases",
        "same_matter_decision IS NULL OR "
        "same_matter_decision IN ('pending', 'different', 'refused')",
    )
    op.create_check_constraint(
        op.f("ck_cases_rejection_ground"),
        "cases",
        "rejection_ground IS NULL OR rejection_ground IN "
        "('outside_remit', 'other_route', 'same_matter', 'after_re_review', 'other')",
    )
    op.create_check_constraint(op.f("ck_cases_hearing_days"), "cases", "hearing_days >= 0")
    op.drop_constraint(op.f("ck_cases_source"), "cases", type_="check")
    op.create_check_constraint(op.f("ck_cases_source"), "cases", f"source IN {NEW_SOURCES}")

    op.add_column(
        "agreements",
        sa.Column("form", sa.String(10), server_default="written", nullable=False),
    )
    op.add_column("agreements", sa.Column("agreed_by", sa.Text(), nullable=True))
    op.add_column("agreements", sa.Column("performed_late", sa.Boolean(), nullable=True))
    for name, type_ in ORAL_OPTIONAL:
        op.alter_column("agreements", name, existing_type=type_, nullable=True)
    op.create_check_constraint(
        op.f("ck_agreements_form"), "agreements", "form IN ('written', 'oral')"
    )
    op.drop_constraint(op.f("ck_agreements_judicial_outcome"), "agreements", type_="check")
    op.create_check_constraint(
        op.f("ck_agreements_judicial_outcome"),
        "agreements",
        f"judicial_outcome IN {NEW_OUTCOMES}",
    )
    # Existing agreements: performed after the due date is late, as the service now records it.
    op.execute(
        "UPDATE agreements SET performed_late = (performed_on > performance_due) "
        "WHERE performed AND performed_on IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_agreements_judicial_outcome"), "agreements", type_="check")
    op.execute(
        "UPDATE agreements SET judicial_outcome = 'rejected' WHERE judicial_outcome = 'invalid'"
    )
    op.create_check_constraint(
        op.f("ck_agreements_judicial_outcome"),
        "agreements",
        f"judicial_outcome IN {OLD_OUTCOMES}",
    )
    op.drop_constraint(op.f("ck_agreements_form"), "agreements", type_="check")
    # Oral agreements cannot be kept by the older schema: they lose nothing else, so their
    # missing written items are filled with what they have.
    op.execute(
        "UPDATE agreements SET facts = coalesce(facts, terms), "
        "responsibilities = coalesce(responsibilities, ''), "
        "performance_method = coalesce(performance_method, ''), "
        "performance_due = coalesce(performance_due, signed_on), "
        "signed_by_parties = coalesce(signed_by_parties, false), "
        "signed_by_mediator = coalesce(signed_by_mediator, false), "
        "judicial_window_due = coalesce(judicial_window_due, signed_on)"
    )
    for name, type_ in reversed(ORAL_OPTIONAL):
        op.alter_column("agreements", name, existing_type=type_, nullable=False)
    op.drop_column("agreements", "performed_late")
    op.drop_column("agreements", "agreed_by")
    op.drop_column("agreements", "form")

    op.drop_constraint(op.f("ck_cases_source"), "cases", type_="check")
    op.execute(
        "UPDATE cases SET source = 'other' WHERE source IN ('court_referral', 'police_referral')"
    )
    op.create_check_constraint(op.f("ck_cases_source"), "cases", f"source IN {OLD_SOURCES}")
    op.drop_constraint(op.f("ck_cases_hearing_days"), "cases", type_="check")
    op.drop_constraint(op.f("ck_cases_rejection_ground"), "cases", type_="check")
    op.drop_constraint(op.f("ck_cases_same_matter_decision"), "cases", type_="check")
    op.drop_constraint(op.f("fk_cases_same_matter_of_id_cases"), "cases", type_="foreignkey")
    for name in (
        "reply_received_on",
        "hearing_days",
        "hearing_ended_on",
        "hearing_started_on",
        "rejection_notice",
        "competent_body",
        "routes_told",
        "rejection_ground",
        "same_matter_note",
        "same_matter_decision",
        "same_matter_of_id",
        "mediator_ids",
    ):
        op.drop_column("cases", name)
