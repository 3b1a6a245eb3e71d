"""community roll-up: per member, per chat and member, per way in and member; backfilled

The community report counted the whole interaction history on every run (minutes at ten
million interactions). These tables hold what it needs, derived from the interactions and
kept current as they are recorded (bot/storage/community_rollup.py). The upgrade fills them
with the same INSERT ... SELECT statements the application uses to rebuild a supporter's
rows, so an existing database gets the report it had before, only faster.

Revision ID: 0010_community_rollup
Revises: 0009_reach
Create Date: 2026-12-10
"""

from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from bot.storage.community_rollup import rebuild_statements
from bot.storage.models import REACH_COLUMNS, unreachable

UNREACHABLE = unreachable(SimpleNamespace(**{n: sa.column(n) for n in REACH_COLUMNS}))

revision: str = "0010_community_rollup"
down_revision: str | None = "0009_reach"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_member",
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("engaged", sa.Integer(), nullable=False),
        sa.Column("last_left_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("supporter_id"),
    )
    op.create_index("ix_community_member_engaged", "community_member", ["engaged"])
    op.create_table(
        "community_chat_member",
        sa.Column("chat", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("last_engaged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chat", "supporter_id"),
    )
    op.create_index(
        "ix_community_chat_member_engaged", "community_chat_member", ["chat", "last_engaged_at"]
    )
    op.create_index(
        "ix_community_chat_member_supporter", "community_chat_member", ["supporter_id", "chat"]
    )
    op.create_table(
        "way_in",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("left_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("first_active_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("still_member", sa.Boolean(), nullable=False),
        sa.Column("active_30_days_after", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("kind", "name", "supporter_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_way_in_supporter", "way_in", ["supporter_id", "kind", "name"])
    op.create_index("ix_way_in_since", "way_in", ["since"])
    op.create_index(
        "ix_way_in_counts", "way_in", ["kind", "name", "still_member", "active_30_days_after"]
    )
    op.create_index(
        "ix_supporter_unreachable",
        "supporter",
        ["id"],
        sqlite_where=UNREACHABLE,
        postgresql_where=UNREACHABLE,
    )
    for statement in rebuild_statements():
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_supporter_unreachable", table_name="supporter")
    op.drop_table("way_in")
    op.drop_table("community_chat_member")
    op.drop_table("community_member")
