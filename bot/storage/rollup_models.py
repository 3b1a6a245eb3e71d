"""The community roll-up tables: per member, per chat and member, per way in and member.

Derived from the interaction history (bot/storage/community_rollup.py keeps them current and
rebuilds them), so the community report counts small rows instead of scanning every
interaction. Nothing here is a fact of its own: deleting a supporter's rows and rebuilding
them from their interactions gives the same rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

# A way in counts as active after joining when its first activity is at most this late.
ACTIVE_AFTER_JOINING = timedelta(days=30)


class CommunityMember(SQLModel, table=True):
    """A supporter with any community interaction: how often they engaged, when they last left."""

    __tablename__ = "community_member"
    # The concentration histogram counts members per engagement from this index alone.
    __table_args__ = (Index("ix_community_member_engaged", "engaged"),)

    supporter_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    engaged: int = Field(default=0)
    last_left_at: datetime | None = None


class CommunityChatMember(SQLModel, table=True):
    """A member of one community chat (the interactions' source) and when they last engaged."""

    __tablename__ = "community_chat_member"
    __table_args__ = (
        # "Active in the last 30/90 days" is a range count per chat.
        Index("ix_community_chat_member_engaged", "chat", "last_engaged_at"),
        # Donors, gifts, the unreachable and erasure reach a member's rows by supporter; the
        # chat in the index answers the report's counts per chat without the rows.
        Index("ix_community_chat_member_supporter", "supporter_id", "chat"),
    )

    chat: str = Field(primary_key=True, max_length=120)
    supporter_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    last_engaged_at: datetime | None = None


class WayIn(SQLModel, table=True):
    """How a member came in (invite link, deep link, import source), since when, and after."""

    __tablename__ = "way_in"
    __table_args__ = (
        # By supporter with the way in itself: gifts and flags count per way in by index alone.
        Index("ix_way_in_supporter", "supporter_id", "kind", "name"),
        # The weekly summary counts the ways in taken in one week.
        Index("ix_way_in_since", "since"),
        # The report counts per way in from this index alone.
        Index("ix_way_in_counts", "kind", "name", "still_member", "active_30_days_after"),
        # Counting per way in reads the rows in key order (twice as fast on SQLite).
        {"sqlite_with_rowid": False},
    )

    kind: str = Field(primary_key=True, max_length=16)
    name: str = Field(primary_key=True, max_length=500)
    supporter_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    since: datetime
    # The member's latest leave from any chat: still a member unless it is at or after since.
    left_at: datetime | None = None
    # Their first activity (not a join, leave or start) at or after since.
    first_active_at: datetime | None = None
    # Stored so the report counts without a date test per row: left_at is unset or before
    # since; first_active_at is at most ACTIVE_AFTER_JOINING after since.
    still_member: bool = Field(default=True)
    active_30_days_after: bool = Field(default=False)
