"""Merge the branches of the first day (service tokens, Lotse, gradebook; the Navigator's
20261122_03 comes in through the Lotse branch, which depends on it).

Revision ID: 20261122_07
Revises: 20261122_04, 20261122_05, 20261122_06
Create Date: 2026-11-22
"""

revision = "20261122_07"
down_revision = ("20261122_04", "20261122_05", "20261122_06")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
