"""Division levels above the county (省, 市) and regions without boundaries, issue 17 items 1–2.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 18:00
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OLD_LEVELS = "level IN ('county', 'town', 'village')"
NEW_LEVELS = "level IN ('province', 'prefecture', 'county', 'town', 'village')"


# A region without a boundary has no anchor (the point low-zoom tiles draw its counts at).
ANCHOR_FUNCTION = """
CREATE OR REPLACE FUNCTION regions_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.code <> NEW.code)
       OR (TG_OP <> 'DELETE' AND NEW.boundary IS NULL) THEN
        DELETE FROM region_anchors WHERE code = OLD.code OR code = NEW.code;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.boundary IS NOT NULL THEN
        INSERT INTO region_anchors (code, level, geom)
        VALUES (NEW.code, NEW.level, ST_Transform(ST_PointOnSurface(NEW.boundary), 3857))
        ON CONFLICT (code) DO UPDATE SET level = excluded.level, geom = excluded.geom;
    END IF;
    RETURN NULL;
END
$$;
"""
OLD_ANCHOR_FUNCTION = """
CREATE OR REPLACE FUNCTION regions_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.code <> NEW.code) THEN
        DELETE FROM region_anchors WHERE code = OLD.code;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO region_anchors (code, level, geom)
        VALUES (NEW.code, NEW.level, ST_Transform(ST_PointOnSurface(NEW.boundary), 3857))
        ON CONFLICT (code) DO UPDATE SET level = excluded.level, geom = excluded.geom;
    END IF;
    RETURN NULL;
END
$$;
"""


def upgrade():
    op.drop_constraint(op.f("ck_regions_level"), "regions", type_="check")
    op.create_check_constraint(op.f("ck_regions_level"), "regions", NEW_LEVELS)
    # Codes come from the statistical list first; boundaries may follow (边界未导入).
    op.alter_column("regions", "boundary", nullable=True)
    op.execute(ANCHOR_FUNCTION)


def downgrade():
    op.execute(OLD_ANCHOR_FUNCTION)
    op.execute("DELETE FROM regions WHERE boundary IS NULL")
    op.alter_column("regions", "boundary", nullable=False)
    op.execute("UPDATE regions SET parent_id = NULL WHERE level = 'county'")
    op.execute("DELETE FROM regions WHERE level IN ('province', 'prefecture')")
    op.drop_constraint(op.f("ck_regions_level"), "regions", type_="check")
    op.create_check_constraint(op.f("ck_regions_level"), "regions", OLD_LEVELS)
