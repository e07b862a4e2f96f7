"""Privacy audit: one row per export, erasure and retention purge (courses/services/privacy.py)

Revision ID: 20261203_05
Revises: 20261203_04
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261203_05'
down_revision = '20261203_04'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('privacy_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=True),
    sa.Column('actor', sa.String(length=10), nullable=False),
    sa.Column('actor_ref', sa.String(length=100), nullable=True),
    sa.Column('registration_pk', sa.Integer(), nullable=True),
    sa.Column('subject_ref', sa.String(length=64), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_pk'], ['registration.id'], name=op.f('fk_privacy_audit_registration_pk_registration'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_audit'))
    )
    with op.batch_alter_table('privacy_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_audit_subject_ref'), ['subject_ref'], unique=False)


def downgrade():
    with op.batch_alter_table('privacy_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_audit_subject_ref'))

    op.drop_table('privacy_audit')
