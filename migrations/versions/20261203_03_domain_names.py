"""Domain names: navigator_municipality.ags -> municipality_key, lotse_grant.registration_id ->
registration_pk (one naming rule for the domain's keys: foreign keys end in _pk)

Revision ID: 20261203_03
Revises: 20261203_02
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "20261203_03"
down_revision = "20261203_02"
branch_labels = None
depends_on = None


def _rename_grant_key(old: str, new: str) -> None:
    # Constraint names follow the naming convention, so they carry the column name.
    with op.batch_alter_table("lotse_grant", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f"uq_lotse_grant_{old}_sub"), type_="unique")
        batch_op.drop_constraint(op.f(f"fk_lotse_grant_{old}_registration"), type_="foreignkey")
        batch_op.alter_column(old, new_column_name=new, existing_type=sa.Integer(), existing_nullable=False)
    with op.batch_alter_table("lotse_grant", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f(f"fk_lotse_grant_{new}_registration"), "registration", [new], ["id"], ondelete="CASCADE"
        )
        batch_op.create_unique_constraint(op.f(f"uq_lotse_grant_{new}_sub"), [new, "sub"])


def _rename_municipality_key(old: str, new: str) -> None:
    with op.batch_alter_table("navigator_municipality", schema=None) as batch_op:
        batch_op.drop_index(op.f(f"ix_navigator_municipality_{old}"))
        batch_op.alter_column(old, new_column_name=new, existing_type=sa.String(length=8), existing_nullable=False)
    with op.batch_alter_table("navigator_municipality", schema=None) as batch_op:
        batch_op.create_index(op.f(f"ix_navigator_municipality_{new}"), [new], unique=False)


def upgrade():
    _rename_grant_key("registration_id", "registration_pk")
    _rename_municipality_key("ags", "municipality_key")


def downgrade():
    _rename_municipality_key("municipality_key", "ags")
    _rename_grant_key("registration_pk", "registration_id")
