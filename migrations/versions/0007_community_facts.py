"""community listening: facts about community messages and polls, interactions recorded once

community_message keeps a thread root's topic and a question's asker (never a message's
text); community_poll the polls the bot sent in community chats; interaction.event is the key
under which an event Telegram may deliver twice (a comment, a reaction, a join) is recorded
once.

Revision ID: 0007_community
Revises: 0006_forget_reach
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = "0007_community"
down_revision: str | None = "0006_forget_reach"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_poll",
        sa.Column("poll_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("poll_id"),
    )
    op.create_table(
        "community_message",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("asker_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["asker_id"], ["supporter.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("chat_id", "message_id"),
    )
    with op.batch_alter_table("community_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_message_asker_id"), ["asker_id"], unique=False
        )

    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True)
        )
        batch_op.create_index("uq_interaction_event", ["event"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index("uq_interaction_event")
        batch_op.drop_column("event")

    with op.batch_alter_table("community_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_message_asker_id"))

    op.drop_table("community_message")
    op.drop_table("community_poll")
