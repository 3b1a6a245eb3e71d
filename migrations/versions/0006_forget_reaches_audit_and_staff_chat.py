"""audit entries name the supporter they are about; staff-chat messages about a supporter

Forget pseudonymises the audit entries about a person and deletes the staff chat's relays of
their messages, so both must be findable by supporter.

Revision ID: 0006_forget_reach
Revises: 0005_desk
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_forget_reach"
down_revision: str | None = "0005_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "delete_failed", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
        ),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staff_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_message_supporter_id"), ["supporter_id"], unique=False
        )
    # Relays made before this revision have no row here (the staff chat's id is a setting):
    # forget finds those by their reply's relay_message_id.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supporter_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_audit_log_supporter_id"), ["supporter_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_audit_log_supporter_id", "supporter", ["supporter_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_log_supporter_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_audit_log_supporter_id"))
        batch_op.drop_column("supporter_id")
    with op.batch_alter_table("staff_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_message_supporter_id"))
    op.drop_table("staff_message")
