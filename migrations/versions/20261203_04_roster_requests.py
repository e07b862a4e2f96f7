"""Roster refreshes are asked for by pages and done by the worker (roster_sync.requested_at).

Revision ID: 20261203_04
Revises: 20261203_03
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "20261203_04"
down_revision = "20261203_03"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("roster_sync") as batch:
        batch.add_column(sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("roster_sync") as batch:
        batch.drop_column("requested_at")
