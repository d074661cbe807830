"""Extensions: PostGIS.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 14:00
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # PostGIS is not a trusted extension: on a database where the app's role is not a superuser,
    # an administrator creates it once beforehand (make run / make test do it for the embedded one).
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def downgrade():
    # The extension may be shared with other schemas in the same database: it is left installed.
    pass
