"""Fast paths: data versions for the tile cache, pre-aggregated measures, region anchors.

- data_versions: one counter per layer in 16 stripes, bumped by statement triggers on the
  tables a layer shows. The tile cache keys on the sum, read in the same snapshot as the tile, so
  a cached tile is never older than its key (docs/api.md, "Performance").
- measure_facts: per village × day × kind × metric counts of cases and follow-ups, kept by row
  triggers, read by /api/v1/metrics instead of scanning every case (docs/measures.md, "Cost").
  `case_measure_facts(cases)` is the one definition of which facts a case contributes.
- region_anchors: a point inside each region (Web Mercator), where low-zoom tiles draw counts.
- indexes chosen from EXPLAIN (ANALYZE, BUFFERS) at county scale (bench/NOTES.md): the case
  list's keyset order, and accepted_at / resolved_at for the measures' medians.

Revision ID: 0007
Revises: 0005 (temporarily; 0006 once it exists)
Create Date: 2026-11-26 15:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

STRIPES = 16
LAYERS = ("cases", "grid_cells", "risk_points")

DATA_VERSION_SQL = """
CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One of 16 stripes per layer, chosen by backend: concurrent writers rarely wait on
    -- each other, and the sum still grows with every committed write.
    UPDATE data_versions SET version = version + 1
     WHERE name = TG_ARGV[0] AND stripe = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('cases');
CREATE TRIGGER grid_cells_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grid_cells
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('grid_cells');
DO $$
BEGIN
    -- Risk points come from another revision; the trigger follows when the table exists.
    IF to_regclass('risk_points') IS NOT NULL THEN
        CREATE TRIGGER risk_points_data_version
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON risk_points
            FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version('risk_points');
    END IF;
END
$$;
"""

# Which facts one case contributes (docs/measures.md, "Definitions as implemented"). Days are
# Asia/Shanghai dates; 1970-01-01 stands for "now" (backlog counts that have no day).
FACTS_SQL = """
CREATE FUNCTION case_measure_facts(c cases) RETURNS TABLE (metric text, day date)
LANGUAGE sql STABLE AS $$
    SELECT f.metric, f.day
      FROM (SELECT c.review_stage = 'none' AS orig,
                   c.state IN ('reported', 'accepted', 'in_progress') AS is_open,
                   c.state NOT IN ('closed', 'rejected', 'withdrawn') AS unsettled,
                   CAST(c.reported_at AT TIME ZONE 'Asia/Shanghai' AS date) AS reported_day,
                   CAST(c.closed_at AT TIME ZONE 'Asia/Shanghai' AS date) AS closed_day,
                   CAST(coalesce(c.accepted_at, CASE WHEN c.state = 'rejected'
                                                     THEN c.closed_at END)
                        AT TIME ZONE 'Asia/Shanghai' AS date) AS decided_day,
                   CAST(c.resolved_at AT TIME ZONE 'Asia/Shanghai' AS date) AS resolved_day) d,
           LATERAL (VALUES
               ('all', DATE '1970-01-01', true),
               ('open', DATE '1970-01-01', d.is_open),
               ('reported', d.reported_day, d.orig),
               ('reported_county', d.reported_day, d.orig AND c.max_level = 'county'),
               ('closed', d.closed_day, d.orig AND c.state = 'closed'),
               ('closed_v', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level = 'village'),
               ('closed_v_kept', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level = 'village'
                AND c.max_level = 'village'),
               ('closed_vt', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level IN ('village', 'town')),
               ('closed_vt_kept', d.closed_day,
                d.orig AND c.state = 'closed' AND c.origin_level IN ('village', 'town')
                AND c.max_level <> 'county'),
               ('decided', d.decided_day,
                c.accept_due IS NOT NULL AND c.accepted_on_time IS NOT NULL),
               ('decided_on_time', d.decided_day,
                c.accept_due IS NOT NULL AND c.accepted_on_time),
               ('resolved_due', d.resolved_day,
                c.resolve_due IS NOT NULL AND c.resolved_on_time IS NOT NULL),
               ('resolved_on_time', d.resolved_day,
                c.resolve_due IS NOT NULL AND c.resolved_on_time),
               ('resolved_dispute', d.resolved_day, c.kind = 'dispute'),
               ('resolved_agreement', d.resolved_day,
                c.kind = 'dispute' AND c.outcome = 'agreement'),
               ('reported_due', c.accept_due, c.state = 'reported'),
               ('progress_due', c.resolve_due, c.state IN ('accepted', 'in_progress')),
               ('supervised_normal', DATE '1970-01-01',
                c.supervision = 'normal' AND d.unsettled),
               ('supervised_yellow', DATE '1970-01-01',
                c.supervision = 'yellow' AND d.unsettled),
               ('supervised_red', DATE '1970-01-01', c.supervision = 'red' AND d.unsettled)
           ) AS f(metric, day, keep)
     WHERE f.keep AND f.day IS NOT NULL
$$;

CREATE FUNCTION cases_measure_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The difference between the old and the new row's facts, in key order (no deadlocks
    -- between writers touching the same counters).
    INSERT INTO measure_facts AS m (metric, day, region_code, kind, n)
    SELECT metric, day, region_code, kind, sum(n)
      FROM (SELECT f.metric, f.day, left(OLD.region_code, 12) AS region_code,
                   OLD.kind AS kind, -1 AS n
              FROM case_measure_facts(OLD) f WHERE TG_OP <> 'INSERT'
            UNION ALL
            SELECT f.metric, f.day, left(NEW.region_code, 12), NEW.kind, 1
              FROM case_measure_facts(NEW) f WHERE TG_OP <> 'DELETE') x
     GROUP BY metric, day, region_code, kind
    HAVING sum(n) <> 0
     ORDER BY metric, day, region_code, kind
    ON CONFLICT (metric, day, region_code, kind) DO UPDATE SET n = m.n + excluded.n;
    RETURN NULL;
END
$$;
CREATE TRIGGER cases_measure_facts AFTER INSERT OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_measure_facts();
CREATE TRIGGER cases_measure_facts_update AFTER UPDATE ON cases
    FOR EACH ROW
    WHEN ((OLD.state, OLD.kind, OLD.region_code, OLD.origin_level, OLD.max_level,
           OLD.review_stage, OLD.reported_at, OLD.closed_at, OLD.accepted_at,
           OLD.accepted_on_time, OLD.accept_due, OLD.resolved_at, OLD.resolved_on_time,
           OLD.resolve_due, OLD.outcome, OLD.supervision)
          IS DISTINCT FROM
          (NEW.state, NEW.kind, NEW.region_code, NEW.origin_level, NEW.max_level,
           NEW.review_stage, NEW.reported_at, NEW.closed_at, NEW.accepted_at,
           NEW.accepted_on_time, NEW.accept_due, NEW.resolved_at, NEW.resolved_on_time,
           NEW.resolve_due, NEW.outcome, NEW.supervision))
    EXECUTE FUNCTION cases_measure_facts();

CREATE FUNCTION follow_ups_measure_facts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO measure_facts AS m (metric, day, region_code, kind, n)
    SELECT metric, day, region_code, kind, sum(n)
      FROM (SELECT 'fu_' || OLD.satisfaction AS metric,
                   CAST(OLD.at AT TIME ZONE 'Asia/Shanghai' AS date) AS day,
                   left(c.region_code, 12) AS region_code, c.kind, -1 AS n
              FROM cases c WHERE c.id = OLD.case_id AND TG_OP <> 'INSERT'
            UNION ALL
            SELECT 'fu_' || NEW.satisfaction,
                   CAST(NEW.at AT TIME ZONE 'Asia/Shanghai' AS date),
                   left(c.region_code, 12), c.kind, 1
              FROM cases c WHERE c.id = NEW.case_id AND TG_OP <> 'DELETE') x
     GROUP BY metric, day, region_code, kind
    HAVING sum(n) <> 0
     ORDER BY metric, day, region_code, kind
    ON CONFLICT (metric, day, region_code, kind) DO UPDATE SET n = m.n + excluded.n;
    RETURN NULL;
END
$$;
CREATE TRIGGER follow_ups_measure_facts AFTER INSERT OR UPDATE OR DELETE ON follow_ups
    FOR EACH ROW EXECUTE FUNCTION follow_ups_measure_facts();

-- Recount everything from the cases (after a bulk load with triggers off, or to check).
CREATE FUNCTION rebuild_measure_facts() RETURNS bigint LANGUAGE sql AS $$
    DELETE FROM measure_facts;
    -- In order of day, as the triggers add them over time: a period's rows stay together.
    INSERT INTO measure_facts (metric, day, region_code, kind, n)
    SELECT * FROM (
        SELECT f.metric, f.day, left(c.region_code, 12), c.kind, count(*)
          FROM cases c CROSS JOIN LATERAL case_measure_facts(c) f
         GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT 'fu_' || fu.satisfaction, CAST(fu.at AT TIME ZONE 'Asia/Shanghai' AS date),
               left(c.region_code, 12), c.kind, count(*)
          FROM follow_ups fu JOIN cases c ON c.id = fu.case_id
         GROUP BY 1, 2, 3, 4) x
     ORDER BY 2, 1, 3, 4;
    SELECT count(*) FROM measure_facts;
$$;
SELECT rebuild_measure_facts();
"""

ANCHORS_SQL = """
CREATE FUNCTION regions_anchor() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER regions_anchor AFTER INSERT OR UPDATE OF code, level, boundary OR DELETE
    ON regions FOR EACH ROW EXECUTE FUNCTION regions_anchor();
INSERT INTO region_anchors (code, level, geom)
SELECT code, level, ST_Transform(ST_PointOnSurface(boundary), 3857) FROM regions;
"""


def upgrade():
    op.create_table(
        "data_versions",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("stripe", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("name", "stripe", name=op.f("pk_data_versions")),
    )
    op.execute(
        "INSERT INTO data_versions (name, stripe) SELECT n, s FROM unnest(ARRAY["
        + ", ".join(f"'{layer}'" for layer in LAYERS)
        + f"]) n, generate_series(0, {STRIPES - 1}) s"
    )
    op.create_table(
        "measure_facts",
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "metric", "day", "region_code", "kind", name=op.f("pk_measure_facts")
        ),
    )
    op.create_geospatial_table(
        "region_anchors",
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column(
            "geom",
            Geometry(geometry_type="POINT", srid=3857, spatial_index=False),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region_anchors")),
    )
    with op.batch_alter_table("region_anchors", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "ix_region_anchors_geom",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
    # Chosen from EXPLAIN (ANALYZE, BUFFERS) at county scale (bench/NOTES.md): the case list's
    # keyset order as one expression (a seek however deep the page), and the period scans of the
    # measures' medians.
    op.execute(
        "CREATE INDEX ix_cases_due_key ON cases ((coalesce(next_due, 'infinity'::date)), id)"
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_accepted_at", ["accepted_at"], unique=False)
        batch_op.create_index("ix_cases_resolved_at", ["resolved_at"], unique=False)
    op.execute(DATA_VERSION_SQL)
    op.execute(FACTS_SQL)
    op.execute(ANCHORS_SQL)


def downgrade():
    op.execute("DROP TRIGGER IF EXISTS regions_anchor ON regions")
    op.execute("DROP FUNCTION IF EXISTS regions_anchor()")
    op.execute("DROP TRIGGER IF EXISTS follow_ups_measure_facts ON follow_ups")
    op.execute("DROP TRIGGER IF EXISTS cases_measure_facts ON cases")
    op.execute("DROP TRIGGER IF EXISTS cases_measure_facts_update ON cases")
    op.execute("DROP FUNCTION IF EXISTS rebuild_measure_facts()")
    op.execute("DROP FUNCTION IF EXISTS follow_ups_measure_facts()")
    op.execute("DROP FUNCTION IF EXISTS cases_measure_facts()")
    op.execute("DROP FUNCTION IF EXISTS case_measure_facts(cases)")
    op.execute("DROP TRIGGER IF EXISTS cases_data_version ON cases")
    op.execute("DROP TRIGGER IF EXISTS grid_cells_data_version ON grid_cells")
    op.execute(
        "DO $$ BEGIN IF to_regclass('risk_points') IS NOT NULL THEN "
        "DROP TRIGGER IF EXISTS risk_points_data_version ON risk_points; END IF; END $$"
    )
    op.execute("DROP FUNCTION IF EXISTS bump_data_version()")
    with op.batch_alter_table("region_anchors", schema=None) as batch_op:
        batch_op.drop_geospatial_index(
            "ix_region_anchors_geom", postgresql_using="gist", column_name="geom"
        )
    op.drop_geospatial_table("region_anchors")
    op.drop_table("measure_facts")
    op.drop_table("data_versions")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_resolved_at")
        batch_op.drop_index("ix_cases_accepted_at")
    op.execute("DROP INDEX ix_cases_due_key")
