"""Lotse: course roster, roster sync state, Lotse grants, municipalities, grading decisions

Revision ID: 20261122_05
Revises: 20261122_03 (grading_decision refers to submission)
Create Date: 2026-11-22 13:45:23.623492

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261122_05'
# grading_decision.submission_pk needs the submission table of 20261122_03.
down_revision = '20261122_03'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lotse_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_lotse_grant_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lotse_grant')),
    sa.UniqueConstraint('registration_id', 'sub', name=op.f('uq_lotse_grant_registration_id_sub'))
    )
    op.create_table('lotse_role_deployment',
    sa.Column('deployment_pk', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deployment_pk'], ['deployment.id'], name=op.f('fk_lotse_role_deployment_deployment_pk_deployment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deployment_pk', name=op.f('pk_lotse_role_deployment'))
    )
    op.create_table('navigator_municipality',
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('ags', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_pk', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_pk'], ['lti_user.id'], name=op.f('fk_navigator_municipality_updated_by_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_navigator_municipality_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_pk', name=op.f('pk_navigator_municipality'))
    )
    with op.batch_alter_table('navigator_municipality', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_navigator_municipality_ags'), ['ags'], unique=False)

    op.create_table('course_membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('lti_roles', sa.JSON(), nullable=False),
    sa.Column('first_launch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_launch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_course_membership_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_course_membership_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_membership')),
    sa.UniqueConstraint('context_pk', 'user_pk', name=op.f('uq_course_membership_context_pk_user_pk'))
    )
    with op.batch_alter_table('course_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_membership_context_pk'), ['context_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_membership_user_pk'), ['user_pk'], unique=False)

    op.create_table('roster_sync',
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('last_launch_id', sa.String(length=32), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('error_status', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_roster_sync_context_pk_lti_context'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_pk', name=op.f('pk_roster_sync'))
    )
    op.create_table('grading_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_pk', sa.Integer(), nullable=False),
    sa.Column('lotse_pk', sa.Integer(), nullable=True),
    sa.Column('unit_version_pk', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('points', sa.JSON(), nullable=False),
    sa.Column('total', sa.Float(), nullable=True),
    sa.Column('max_total', sa.Float(), nullable=False),
    sa.Column('feedback', sa.Text(), nullable=False),
    sa.Column('revision_notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lotse_pk'], ['lti_user.id'], name=op.f('fk_grading_decision_lotse_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submission_pk'], ['submission.id'], name=op.f('fk_grading_decision_submission_pk_submission'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_version_pk'], ['unit_version.id'], name=op.f('fk_grading_decision_unit_version_pk_unit_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grading_decision'))
    )
    with op.batch_alter_table('grading_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grading_decision_submission_pk'), ['submission_pk'], unique=False)



def downgrade():
    with op.batch_alter_table('grading_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grading_decision_submission_pk'))

    op.drop_table('grading_decision')
    op.drop_table('roster_sync')
    with op.batch_alter_table('course_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_membership_user_pk'))
        batch_op.drop_index(batch_op.f('ix_course_membership_context_pk'))

    op.drop_table('course_membership')
    with op.batch_alter_table('navigator_municipality', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_navigator_municipality_ags'))

    op.drop_table('navigator_municipality')
    op.drop_table('lotse_role_deployment')
    op.drop_table('lotse_grant')
