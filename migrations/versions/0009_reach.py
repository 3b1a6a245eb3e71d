"""reach: each member's community messages (author, time, sentiment; never text); referrals

A public reply (an arm with via: group_reply) answers the member's own message, so every
message a member writes in a community chat is kept as a fact: its chat, id, author, time
and sentiment. referral_code holds each supporter's own /share code, referral who brought
whom in (first touch); community_response the replies and reactions others gave to a
member's messages (for the influence score).

Revision ID: 0009_reach
Revises: 0008_flags
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op


revision: str = "0009_reach"
down_revision: str | None = "0008_flags"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_response",
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("responder_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["responder_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event"),
    )
    with op.batch_alter_table("community_response", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_response_author_id"), ["author_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_community_response_responder_id"), ["responder_id"], unique=False
        )
    op.create_table(
        "referral_code",
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["supporter_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("supporter_id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "referral",
        sa.Column("referred_id", sa.Integer(), nullable=False),
        sa.Column("referrer_id", sa.Integer(), nullable=True),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("new", sa.Boolean(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["referred_id"], ["supporter.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["referrer_id"], ["supporter.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("referred_id"),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_referrer_id"), ["referrer_id"], unique=False)
    with op.batch_alter_table("community_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sentiment", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_community_message_author_id_supporter",
            "supporter",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_community_message_author", ["author_id", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("community_message", schema=None) as batch_op:
        batch_op.drop_index("ix_community_message_author")
        batch_op.drop_constraint("fk_community_message_author_id_supporter", type_="foreignkey")
        batch_op.drop_column("sentiment")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("author_id")

    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_referrer_id"))
    op.drop_table("referral")
    op.drop_table("referral_code")
    with op.batch_alter_table("community_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_response_responder_id"))
        batch_op.drop_index(batch_op.f("ix_community_response_author_id"))
    op.drop_table("community_response")
