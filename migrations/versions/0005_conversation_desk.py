"""the conversation desk: replies can be closed without an answer; claims on supporters

Inbound replies gain closed_at, closed_as and closed_by (Done and Stop), a partial index over
the messages still waiting, and desk_claim holds who is answering whom.

Revision ID: 0005_desk
Revises: 0004_named_source
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005_desk"
down_revision: str | None = "0004_named_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same condition as bot.storage.models.WAITING_SQL, frozen here as migrations must be.
WAITING_SQL = (
    "direction = 'in' AND answered_at IS NULL AND closed_at IS NULL"
    " AND (classification IS NULL OR classification <> 'opt_out')"
)


def upgrade() -> None:
    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_as", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_reply_waiting",
        "reply",
        ["received_at"],
        unique=False,
        postgresql_where=sa.text(WAITING_SQL),
        sqlite_where=sa.text(WAITING_SQL),
    )
    op.create_table(
        "desk_claim",
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("staff_user_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("prompt_message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["reply_id"], ["reply.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("supporter_id"),
    )


def downgrade() -> None:
    op.drop_table("desk_claim")
    op.drop_index("ix_reply_waiting", table_name="reply")
    with op.batch_alter_table("reply", schema=None) as batch_op:
        batch_op.drop_column("closed_by")
        batch_op.drop_column("closed_as")
        batch_op.drop_column("closed_at")
