"""Gradebook outbox: one row per (course module, Navigator) with the newest AGS score to deliver

Revision ID: 20261122_06
Revises: 20261122_02
Create Date: 2026-11-22 13:41:21.020682

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261122_06'
down_revision = '20261122_02'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gradebook_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_module_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_module_pk'], ['course_module.id'], name=op.f('fk_gradebook_outbox_course_module_pk_course_module'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_gradebook_outbox_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gradebook_outbox')),
    sa.UniqueConstraint('course_module_pk', 'user_pk', name=op.f('uq_gradebook_outbox_course_module_pk_user_pk'))
    )
    with op.batch_alter_table('gradebook_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_gradebook_outbox_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gradebook_outbox_user_pk'), ['user_pk'], unique=False)



def downgrade():
    with op.batch_alter_table('gradebook_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gradebook_outbox_user_pk'))
        batch_op.drop_index('ix_gradebook_outbox_due')

    op.drop_table('gradebook_outbox')
