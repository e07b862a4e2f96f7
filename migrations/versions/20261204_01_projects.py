"""Praxisprojekte: projects, members, milestones, history, coaching notes, publication consents,
the per-course setting of their gradebook column, and that column in the gradebook outbox

Revision ID: 20261204_01
Revises: 20261203_05
Create Date: 2026-12-04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '20261204_01'
down_revision = '20261203_05'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('goal', sa.Text(), nullable=False),
    sa.Column('module_pk', sa.Integer(), nullable=True),
    sa.Column('services', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('lessons', sa.Text(), nullable=False),
    sa.Column('municipality_key', sa.String(length=8), nullable=False),
    sa.Column('municipality_name', sa.String(length=200), nullable=False),
    sa.Column('landkreis', sa.String(length=200), nullable=False),
    sa.Column('size_class', sa.String(length=20), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('source_submission_pk', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('idee', 'geplant', 'in_umsetzung', 'in_betrieb', 'pausiert')", name=op.f('ck_project_status')),
    sa.CheckConstraint("size_class IS NULL OR size_class IN ('unter_5000', '5000_20000', '20000_100000', 'ueber_100000')", name=op.f('ck_project_size_class')),
    sa.CheckConstraint('length(title) > 0', name=op.f('ck_project_title')),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_project_context_pk_lti_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['module_pk'], ['catalog_module.id'], name=op.f('fk_project_module_pk_catalog_module'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_submission_pk'], ['submission.id'], name=op.f('fk_project_source_submission_pk_submission'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project'))
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('ix_project_context_title', ['context_pk', 'title'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_module_pk'), ['module_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_municipality_key'), ['municipality_key'], unique=False)

    op.create_table('project_member',
    sa.Column('project_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_pk'], ['project.id'], name=op.f('fk_project_member_project_pk_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_project_member_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_pk', 'user_pk', name=op.f('pk_project_member'))
    )
    with op.batch_alter_table('project_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_member_user_pk'), ['user_pk'], unique=False)

    op.create_table('project_milestone',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_pk', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('discussed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('discussed_by_pk', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('offen', 'erledigt')", name=op.f('ck_project_milestone_state')),
    sa.CheckConstraint('discussed_by_pk IS NULL OR discussed_at IS NOT NULL', name=op.f('ck_project_milestone_discussed')),
    sa.ForeignKeyConstraint(['discussed_by_pk'], ['lti_user.id'], name=op.f('fk_project_milestone_discussed_by_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_pk'], ['project.id'], name=op.f('fk_project_milestone_project_pk_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_milestone'))
    )
    with op.batch_alter_table('project_milestone', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_milestone_project_pk'), ['project_pk'], unique=False)

    op.create_table('project_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_pk'], ['project.id'], name=op.f('fk_project_revision_project_pk_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_project_revision_user_pk_lti_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_revision'))
    )
    with op.batch_alter_table('project_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_revision_project_pk'), ['project_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_revision_user_pk'), ['user_pk'], unique=False)

    op.create_table('project_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_pk', sa.Integer(), nullable=False),
    sa.Column('lotse_pk', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(text) > 0', name=op.f('ck_project_note_text')),
    sa.ForeignKeyConstraint(['lotse_pk'], ['lti_user.id'], name=op.f('fk_project_note_lotse_pk_lti_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_pk'], ['project.id'], name=op.f('fk_project_note_project_pk_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_note'))
    )
    with op.batch_alter_table('project_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_note_lotse_pk'), ['lotse_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_note_project_pk'), ['project_pk'], unique=False)

    op.create_table('project_consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_pk', sa.Integer(), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('consent_version', sa.String(length=20), nullable=False),
    sa.Column('show_name', sa.Boolean(), nullable=False),
    sa.Column('contact_email', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_pk'], ['project.id'], name=op.f('fk_project_consent_project_pk_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_pk'], ['lti_user.id'], name=op.f('fk_project_consent_user_pk_lti_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_consent'))
    )
    with op.batch_alter_table('project_consent', schema=None) as batch_op:
        batch_op.create_index('ix_project_consent_active', ['project_pk', 'withdrawn_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_project_consent_user_pk'), ['user_pk'], unique=False)

    op.create_table('project_course_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_pk', sa.Integer(), nullable=False),
    sa.Column('gradebook_column', sa.Boolean(), nullable=False),
    sa.Column('lineitem_url', sa.String(length=1024), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_pk'], ['lti_context.id'], name=op.f('fk_project_course_setting_context_pk_lti_context'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_course_setting')),
    sa.UniqueConstraint('context_pk', name=op.f('uq_project_course_setting_context_pk'))
    )

    with op.batch_alter_table('gradebook_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_column_pk', sa.Integer(), nullable=True))
        batch_op.alter_column('course_module_pk', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_gradebook_outbox_project_column_pk_project_course_setting'), 'project_course_setting', ['project_column_pk'], ['id'], ondelete='CASCADE')
        batch_op.create_unique_constraint(batch_op.f('uq_gradebook_outbox_project_column_pk_user_pk'), ['project_column_pk', 'user_pk'])
        batch_op.create_check_constraint(batch_op.f('ck_gradebook_outbox_one_column'), '(course_module_pk IS NULL) <> (project_column_pk IS NULL)')


def downgrade():
    # The projects' column goes with its table; module rows are untouched.
    op.execute('DELETE FROM gradebook_outbox WHERE project_column_pk IS NOT NULL')
    with op.batch_alter_table('gradebook_outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_gradebook_outbox_one_column'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_gradebook_outbox_project_column_pk_user_pk'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_gradebook_outbox_project_column_pk_project_course_setting'), type_='foreignkey')
        batch_op.alter_column('course_module_pk', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('project_column_pk')

    op.drop_table('project_course_setting')
    with op.batch_alter_table('project_consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_consent_user_pk'))
        batch_op.drop_index('ix_project_consent_active')
    op.drop_table('project_consent')
    with op.batch_alter_table('project_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_note_project_pk'))
        batch_op.drop_index(batch_op.f('ix_project_note_lotse_pk'))
    op.drop_table('project_note')
    with op.batch_alter_table('project_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_revision_user_pk'))
        batch_op.drop_index(batch_op.f('ix_project_revision_project_pk'))
    op.drop_table('project_revision')
    with op.batch_alter_table('project_milestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_milestone_project_pk'))
    op.drop_table('project_milestone')
    with op.batch_alter_table('project_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_member_user_pk'))
    op.drop_table('project_member')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_municipality_key'))
        batch_op.drop_index(batch_op.f('ix_project_module_pk'))
        batch_op.drop_index('ix_project_context_title')
    op.drop_table('project')
