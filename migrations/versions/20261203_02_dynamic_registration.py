"""One-time links for LTI Dynamic Registration (lti_tool/dynamic_registration.py)

Revision ID: 20261203_02
Revises: 20261203_01
Create Date: 2026-12-03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261203_02'
down_revision = '20261203_01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('registration_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('registration_pk', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['registration_pk'], ['registration.id'], name=op.f('fk_registration_link_registration_pk_registration'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_registration_link_token_hash'))
    )


def downgrade():
    op.drop_table('registration_link')
