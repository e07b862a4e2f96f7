"""Quiz attempts, submissions and submission files

Revision ID: 20261122_03
Revises: 20261122_02
Create Date: 2026-11-22 13:43:05.620747

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261122_03'
down_revision = '20261122_02'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('quiz_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('unit_pk', sa.Integer(), nullable=False),
    sa.Column('unit_version_pk', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('correct_count', sa.Integer(), nullable=False),
    sa.Column('question_count', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_quiz_attempt_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_pk'], ['catalog_unit.id'], name=op.f('fk_quiz_attempt_unit_pk_catalog_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_version_pk'], ['unit_version.id'], name=op.f('fk_quiz_attempt_unit_version_pk_unit_version')),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_quiz_attempt_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiz_attempt'))
    )
    with op.batch_alter_table('quiz_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quiz_attempt_user_pk'), ['user_pk'], unique=False)

    op.create_table('submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('unit_pk', sa.Integer(), nullable=False),
    sa.Column('unit_version_pk', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_submission_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_pk'], ['catalog_unit.id'], name=op.f('fk_submission_unit_pk_catalog_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_version_pk'], ['unit_version.id'], name=op.f('fk_submission_unit_version_pk_unit_version')),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_submission_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission')),
    sa.UniqueConstraint('user_pk', 'context_pk', 'unit_pk', name=op.f('uq_submission_user_pk_context_pk_unit_pk'))
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_context_pk'), ['context_pk'], unique=False)

    op.create_table('submission_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_pk', sa.Integer(), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=255), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['submission_pk'], ['submission.id'], name=op.f('fk_submission_file_submission_pk_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_file')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_submission_file_stored_name'))
    )
    with op.batch_alter_table('submission_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_file_submission_pk'), ['submission_pk'], unique=False)


def downgrade():
    with op.batch_alter_table('submission_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_file_submission_pk'))

    op.drop_table('submission_file')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_context_pk'))

    op.drop_table('submission')
    with op.batch_alter_table('quiz_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quiz_attempt_user_pk'))

    op.drop_table('quiz_attempt')
