"""Protocol tables: foreign keys end in _pk (registration_pk, user_pk, deployment_pk), and the
launch no longer stores a product role (the domain derives it from the LTI roles) but keeps
the locale the platform sent, and a registration remembers when its platform refused to create line items, when its key set
expires by its cache headers, and which unknown kids a fetch did not find.

Revision ID: 20261203_01
Revises: 20261122_07
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

revision = "20261203_01"
down_revision = "20261122_07"
branch_labels = None
depends_on = None

# (table, old column, new column, referred table, ondelete, unique partner columns, indexed)
RENAMES = [
    (
        "deployment",
        "registration_id",
        "registration_pk",
        "registration",
        "CASCADE",
        ["deployment_id"],
        False,
    ),
    ("lti_user", "registration_id", "registration_pk", "registration", "CASCADE", ["sub"], False),
    (
        "lti_context",
        "registration_id",
        "registration_pk",
        "registration",
        "CASCADE",
        ["context_id"],
        False,
    ),
    ("lti_context", "deployment_id", "deployment_pk", "deployment", "SET NULL", None, False),
    (
        "lti_resource_link",
        "registration_id",
        "registration_pk",
        "registration",
        "CASCADE",
        ["resource_link_id"],
        False,
    ),
    ("launch", "registration_id", "registration_pk", "registration", "CASCADE", None, False),
    ("launch", "user_id", "user_pk", "lti_user", "CASCADE", None, True),
    (
        "access_token",
        "registration_id",
        "registration_pk",
        "registration",
        "CASCADE",
        ["scopes"],
        False,
    ),
]


def _rename(table, old, new, referred, ondelete, unique_with, indexed):
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(f"fk_{table}_{old}_{referred}", type_="foreignkey")
        if unique_with:
            batch.drop_constraint(f"uq_{table}_{old}_{'_'.join(unique_with)}", type_="unique")
        if indexed:
            batch.drop_index(f"ix_{table}_{old}")
        batch.alter_column(
            old,
            new_column_name=new,
            existing_type=sa.Integer(),
            existing_nullable=ondelete == "SET NULL",
        )
    with op.batch_alter_table(table) as batch:
        batch.create_foreign_key(
            f"fk_{table}_{new}_{referred}", referred, [new], ["id"], ondelete=ondelete
        )
        if unique_with:
            batch.create_unique_constraint(
                f"uq_{table}_{new}_{'_'.join(unique_with)}", [new, *unique_with]
            )
        if indexed:
            batch.create_index(f"ix_{table}_{new}", [new])


def upgrade():
    for table, old, new, referred, ondelete, unique_with, indexed in RENAMES:
        _rename(table, old, new, referred, ondelete, unique_with, indexed)
    with op.batch_alter_table("launch") as batch:
        batch.drop_column("role")
        batch.add_column(sa.Column("locale", sa.String(35), nullable=True))
    with op.batch_alter_table("registration") as batch:
        batch.add_column(sa.Column("line_item_create_refused", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("key_set_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("key_set_misses", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("launch") as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("registration") as batch:
        batch.drop_column("key_set_misses")
        batch.drop_column("key_set_expires_at")
        batch.drop_column("line_item_create_refused")
    with op.batch_alter_table("launch") as batch:
        batch.add_column(
            sa.Column("role", sa.String(20), nullable=False, server_default="navigator")
        )
    with op.batch_alter_table("launch") as batch:
        batch.alter_column("role", server_default=None, existing_type=sa.String(20))
    for table, old, new, referred, ondelete, unique_with, indexed in reversed(RENAMES):
        _rename(table, new, old, referred, ondelete, unique_with, indexed)
