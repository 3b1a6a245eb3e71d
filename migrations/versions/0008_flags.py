"""low-value and fake follower flags, and daily member-count snapshots of community chats

supporter_flag: one row per supporter and reason, cleared by /trust; member_count: a
community chat's getChatMemberCount once a day, so the community report shows growth.

Revision ID: 0008_flags
Revises: 0007_community
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008_flags"
down_revision: str | None = "0007_community"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supporter_flag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("flagged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("cleared_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("cleared_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supporter_id", "reason", name="uq_supporter_flag"),
    )
    op.create_table(
        "member_count",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("taken_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("member_count")
    op.drop_table("supporter_flag")
