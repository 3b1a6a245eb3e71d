"""The database tables: supporters, their history, campaigns, asks and what came of them."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Index,
    Text,
    UniqueConstraint,
    column,
    or_,
    text,
)
from sqlmodel import Field, SQLModel

from bot.domain.campaign_state import CampaignState
from bot.storage import rollup_models as _rollup_models  # noqa: F401  (the derived tables)

# Ask states. "holdout" rows are assigned but never sent, so reports can compare against them.
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"
UNKNOWN = "unknown"
HOLDOUT = "holdout"
CANCELLED = "cancelled"
FINAL_ASK_STATES = frozenset({SENT, FAILED, SKIPPED, UNKNOWN, HOLDOUT, CANCELLED})
# A supporter's first ask of a campaign; every later step is a follow-up.
FIRST_STEP = "ask"
# What decides whether a supporter can be messaged in private.
REACH_COLUMNS = ("chat_id", "consented_at", "opted_out_at", "blocked_at", "forgotten_at")


def known_reached(step: str, state: str) -> bool:
    """Tell whether an ask is known to have reached its supporter.

    A follow-up only goes to members whose first ask was sent, so it always counts; a first
    ask counts once sent. Once true it stays true: a sent ask never changes state again.
    """
    return step != FIRST_STEP or state == SENT


def unreachable(c: Any) -> ColumnElement[bool]:
    """Tell, over supporter columns `c`, who cannot be messaged in private (the report's)."""
    return or_(
        c.chat_id.is_(None),
        c.consented_at.is_(None),
        c.opted_out_at.is_not(None),
        c.blocked_at.is_not(None),
        c.forgotten_at.is_not(None),
    )


_UNREACHABLE = unreachable(SimpleNamespace(**{n: column(n) for n in REACH_COLUMNS}))


class Supporter(SQLModel, table=True):
    """A person the organisation knows, reachable once they have started the bot."""

    __tablename__ = "supporter"
    __table_args__ = (
        # The community report counts the unreachable members (few) from this index.
        Index(
            "ix_supporter_unreachable",
            "id",
            sqlite_where=_UNREACHABLE,
            postgresql_where=_UNREACHABLE,
        ),
        Index("ix_supporter_reachable", "chat_id", "opted_out_at", "blocked_at"),
        # Reports count who opted out since a campaign launched without scanning everyone.
        Index("ix_supporter_opted_out", "opted_out_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, max_length=120, unique=True)
    telegram_user_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, unique=True, nullable=True)
    )
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    username: str | None = Field(default=None, max_length=64, index=True)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    source: str | None = Field(default=None, max_length=120)
    start_payload: str | None = Field(default=None, max_length=64)
    consented_at: datetime | None = None
    opted_out_at: datetime | None = None
    blocked_at: datetime | None = None
    forgotten_at: datetime | None = None
    created_at: datetime
    engagement_score: float = Field(default=0.0, index=True)
    rfm_score: int = Field(default=0)
    last_interaction_at: datetime | None = None
    interaction_count: int = Field(default=0)
    gift_count: int = Field(default=0)
    gift_total_minor: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, default=0)
    )
    last_gift_at: datetime | None = None
    last_asked_at: datetime | None = Field(default=None, index=True)


class SupporterTag(SQLModel, table=True):
    """A free-form label on a supporter (member, volunteer, press, ...)."""

    __tablename__ = "supporter_tag"
    __table_args__ = (Index("ix_supporter_tag_tag", "tag", "supporter_id"),)

    supporter_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    tag: str = Field(primary_key=True, max_length=64)


class Interaction(SQLModel, table=True):
    """One thing a supporter did with the organisation: a visit, a comment, a reply, a gift."""

    __tablename__ = "interaction"
    __table_args__ = (
        Index("ix_interaction_kind_supporter", "kind", "supporter_id", "occurred_at"),
        Index("ix_interaction_supporter_kind", "supporter_id", "kind", "occurred_at"),
        # What Telegram may deliver twice (a community message, a reaction, a join) is
        # recorded under its event's key, once; NULL for everything else.
        Index("uq_interaction_event", "event", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    supporter_id: int = Field(foreign_key="supporter.id", ondelete="CASCADE")
    kind: str = Field(max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    sentiment: str | None = Field(default=None, max_length=16)
    occurred_at: datetime
    source: str | None = Field(default=None, max_length=120)
    event: str | None = Field(default=None, max_length=160)


class CommunityMessage(SQLModel, table=True):
    """Facts about one message in a community chat, never its text: its topic, its asker.

    Kept for thread roots with a topic (so comments and reactions get it), for questions
    (so an answer is credited to the asker, once) and for every member's message (its author,
    time and sentiment: a public reply answers one of them).
    """

    __tablename__ = "community_message"
    __table_args__ = (Index("ix_community_message_author", "author_id", "sent_at"),)

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    topic: str = Field(default="", max_length=120)
    asker_id: int | None = Field(
        default=None, foreign_key="supporter.id", ondelete="SET NULL", index=True
    )
    answered_at: datetime | None = None
    author_id: int | None = Field(default=None, foreign_key="supporter.id", ondelete="SET NULL")
    sent_at: datetime | None = None
    sentiment: str | None = Field(default=None, max_length=16)


class CommunityResponse(SQLModel, table=True):
    """A reply or reaction someone gave to a member's community message: their influence.

    Keyed by the responder's interaction event, so an update delivered twice counts once.
    """

    __tablename__ = "community_response"

    event: str = Field(primary_key=True, max_length=160)
    author_id: int = Field(foreign_key="supporter.id", ondelete="CASCADE", index=True)
    responder_id: int = Field(foreign_key="supporter.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=16)
    at: datetime


class ReferralCode(SQLModel, table=True):
    """A supporter's own referral code: /share gives t.me/<bot>?start=r-<code>."""

    __tablename__ = "referral_code"

    supporter_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    code: str = Field(max_length=32, unique=True)
    created_at: datetime


class Referral(SQLModel, table=True):
    """Who brought a supporter in (first touch): through a /start link or a named invite link.

    `new` says whether the supporter was new to the bot then; one who already existed is
    counted apart, as re-engaged.
    """

    __tablename__ = "referral"

    referred_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    referrer_id: int | None = Field(
        default=None, foreign_key="supporter.id", ondelete="SET NULL", index=True
    )
    via: str = Field(max_length=8)
    new: bool
    at: datetime


class CommunityPoll(SQLModel, table=True):
    """A poll the bot sent in a community chat: where, and its options as staff wrote them."""

    __tablename__ = "community_poll"

    poll_id: str = Field(primary_key=True, max_length=64)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    source: str = Field(default="", max_length=120)
    # A JSON list of the option texts, in order: poll answers name options by index.
    options: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    question: str = Field(default="", max_length=300)
    sent_at: datetime


class Campaign(SQLModel, table=True):
    """The run-time state of a campaign whose spec lives in a YAML file."""

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    title: str = Field(default="", max_length=300)
    state: str = Field(default=CampaignState.DRAFT.value, max_length=16)
    spec_yaml: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    spec_hash: str = Field(default="", max_length=64)
    audience_size: int = 0
    created_at: datetime
    launched_at: datetime | None = None
    paused_at: datetime | None = None
    cancelled_at: datetime | None = None
    finished_at: datetime | None = None


class Ask(SQLModel, table=True):
    """One personal message to one supporter: the unit that is sent, tracked and credited."""

    __tablename__ = "ask"
    __table_args__ = (
        UniqueConstraint(
            "campaign_id", "supporter_id", "step", name="uq_ask_campaign_supporter_step"
        ),
        # The outbox claims due asks per running campaign, so a paused one is never scanned.
        # (It also serves every query by campaign and state: no separate index for those.)
        Index("ix_ask_campaign_due", "campaign_id", "state", "due_at"),
        # Recovery looks for asks left in `sending`: a handful, so a partial index that a
        # launch's million pending rows never touch.
        Index(
            "ix_ask_sending",
            "claimed_at",
            postgresql_where=text("state = 'sending'"),
            sqlite_where=text("state = 'sending'"),
        ),
        Index("ix_ask_supporter_sent", "supporter_id", "sent_at"),
        Index("ix_ask_message", "chat_id", "telegram_message_id"),
        # Reports count a campaign's asks by step, arm, state, segment and failure from this
        # index alone, already in GROUP BY order (SQLite would otherwise sort a million rows).
        Index(
            "ix_ask_report",
            *("campaign_id", "step", "arm", "state", "rule", "language", "source"),
            "failure_reason",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE")
    supporter_id: int | None = Field(default=None, foreign_key="supporter.id", ondelete="SET NULL")
    arm: str = Field(max_length=64)
    step: str = Field(default="ask", max_length=64)
    rule: str | None = Field(default=None, max_length=200)
    language: str = Field(default="en", max_length=8)
    # The supporter's source when asked, kept like rule and language so reports can segment
    # a million asks without reading every supporter row.
    source: str | None = Field(default=None, max_length=120)
    token: str = Field(max_length=32, unique=True)
    state: str = Field(default=PENDING, max_length=16)
    due_at: datetime
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    telegram_message_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    failure_reason: str | None = Field(default=None, max_length=300)
    worker: str | None = Field(default=None, max_length=64)


class BroadcastPost(SQLModel, table=True):
    """A campaign's one-to-many post to a channel or group, tracked like an ask."""

    __tablename__ = "broadcast_post"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", ondelete="CASCADE", index=True)
    chat: str = Field(max_length=120)
    token: str = Field(max_length=32, unique=True)
    state: str = Field(default=PENDING, max_length=16)
    due_at: datetime
    sent_at: datetime | None = None
    telegram_message_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    reach: int | None = None
    failure_reason: str | None = Field(default=None, max_length=300)


# Replies and clicks carry two columns copied from their ask when they are recorded, so that a
# report counts a campaign's events per arm without looking up each one's ask: `arm`, which
# never changes, and `reached`, known_reached() at that moment. A true `reached` never goes
# stale; a false or missing one is checked against the ask when reported (a reply can arrive
# while its ask is still `sending`).


# An inbound message waits until staff answer it, close it (done, stop), or it is an opt-out.
WAITING_SQL = (
    "direction = 'in' AND answered_at IS NULL AND closed_at IS NULL"
    " AND (classification IS NULL OR classification <> 'opt_out')"
)


class Reply(SQLModel, table=True):
    """One message in a supporter conversation: theirs, or a staff answer relayed back."""

    __tablename__ = "reply"
    __table_args__ = (
        Index("ix_reply_relay", "relay_message_id"),
        # The desk's inbox reads the messages still waiting: a few among all replies.
        Index(
            "ix_reply_waiting",
            "received_at",
            postgresql_where=text(WAITING_SQL),
            sqlite_where=text(WAITING_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    supporter_id: int | None = Field(
        default=None, foreign_key="supporter.id", ondelete="CASCADE", index=True
    )
    ask_id: int | None = Field(default=None, foreign_key="ask.id", ondelete="SET NULL", index=True)
    campaign_id: int | None = Field(
        default=None, foreign_key="campaign.id", ondelete="SET NULL", index=True
    )
    direction: str = Field(default="in", max_length=8)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    classification: str | None = Field(default=None, max_length=16)
    telegram_message_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )
    relay_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    staff_user_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    answered_at: datetime | None = None
    received_at: datetime
    # Copied from the ask (see the note above).
    arm: str | None = Field(default=None, max_length=64)
    reached: bool | None = None
    # Staff settled an inbound message without answering it: "done" or "stop" (see the desk).
    closed_at: datetime | None = None
    closed_as: str | None = Field(default=None, max_length=8)
    closed_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class DeskClaim(SQLModel, table=True):
    """A member of staff answering a supporter; it lapses when no answer follows in time."""

    __tablename__ = "desk_claim"

    supporter_id: int = Field(foreign_key="supporter.id", primary_key=True, ondelete="CASCADE")
    reply_id: int | None = Field(default=None, foreign_key="reply.id", ondelete="SET NULL")
    staff_user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    staff_name: str = Field(default="", max_length=200)
    claimed_at: datetime
    # The bot's forced-reply prompt: a staff reply to it is the answer.
    prompt_message_id: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True)
    )


class Click(SQLModel, table=True):
    """A tap on a tracked link, counted once per token per short interval."""

    __tablename__ = "click"
    __table_args__ = (Index("ix_click_token_time", "token", "clicked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=32)
    ask_id: int | None = Field(default=None, foreign_key="ask.id", ondelete="SET NULL", index=True)
    post_id: int | None = Field(default=None, foreign_key="broadcast_post.id", ondelete="SET NULL")
    campaign_id: int | None = Field(
        default=None, foreign_key="campaign.id", ondelete="SET NULL", index=True
    )
    supporter_id: int | None = Field(default=None, foreign_key="supporter.id", ondelete="SET NULL")
    clicked_at: datetime
    user_agent: str | None = Field(default=None, max_length=300)
    # A one-way hash of the reader's address and browser: a post's link is shared by many
    # readers, so repeat taps are merged per reader there, not per token.
    client: str | None = Field(default=None, max_length=32)
    # Copied from the ask (see the note above Reply).
    arm: str | None = Field(default=None, max_length=64)
    reached: bool | None = None


class Donation(SQLModel, table=True):
    """A gift from any source, credited to the ask or post that earned it where possible."""

    __tablename__ = "donation"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id", name="uq_donation_provider_event"),
        Index("ix_donation_campaign", "campaign_id", "donated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    provider_event_id: str = Field(max_length=200)
    supporter_id: int | None = Field(
        default=None, foreign_key="supporter.id", ondelete="SET NULL", index=True
    )
    amount_minor: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    donated_at: datetime
    reference: str | None = Field(default=None, max_length=64)
    ask_id: int | None = Field(default=None, foreign_key="ask.id", ondelete="SET NULL", index=True)
    post_id: int | None = Field(default=None, foreign_key="broadcast_post.id", ondelete="SET NULL")
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", ondelete="SET NULL")
    attribution: str = Field(default="unattributed", max_length=16)
    recorded_at: datetime


class AuditEntry(SQLModel, table=True):
    """A staff action, allowed or refused, for the record."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    actor_user_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    actor_name: str | None = Field(default=None, max_length=200)
    action: str = Field(max_length=64)
    campaign: str | None = Field(default=None, max_length=120)
    allowed: bool = True
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The supporter the entry is about (a gift staff recorded, an answer), so that forget can
    # pseudonymise it and export can show it; the actor is found by actor_user_id.
    supporter_id: int | None = Field(
        default=None, foreign_key="supporter.id", ondelete="SET NULL", index=True
    )


class StaffMessage(SQLModel, table=True):
    """A message in the staff chat about one supporter (a relay, an answer), deleted on forget."""

    __tablename__ = "staff_message"

    id: int | None = Field(default=None, primary_key=True)
    supporter_id: int | None = Field(
        default=None, foreign_key="supporter.id", ondelete="SET NULL", index=True
    )
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sent_at: datetime
    # Why Telegram would not delete it when its supporter was forgotten (it refuses messages
    # older than 48 hours in some chats); staff can still delete it by hand.
    delete_failed: str | None = Field(default=None, max_length=300)


class JobRun(SQLModel, table=True):
    """A periodic job's completed period, so it runs once per period across restarts."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job", "period", name="uq_job_run_period"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    period: str = Field(max_length=64)
    ran_at: datetime


class NamedSource(SQLModel, table=True):
    """A named way in (a poster's QR code, an invite link) and the fact it records for visitors."""

    __tablename__ = "named_source"

    id: int | None = Field(default=None, primary_key=True)
    # The /start payload and the invite link's name: Telegram allows 1-64 of A-Za-z0-9_-.
    name: str = Field(max_length=64, unique=True)
    kind: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    invite_link: str | None = Field(default=None, max_length=200)
    created_at: datetime


class SupporterFlag(SQLModel, table=True):
    """Why a supporter looks like a low-value or fake follower, since when; /trust clears it.

    One row per supporter and reason: a flag staff cleared stays cleared (it is not raised
    again for the same reason).
    """

    __tablename__ = "supporter_flag"
    __table_args__ = (UniqueConstraint("supporter_id", "reason", name="uq_supporter_flag"),)

    id: int | None = Field(default=None, primary_key=True)
    supporter_id: int = Field(foreign_key="supporter.id", ondelete="CASCADE")
    reason: str = Field(max_length=32)
    detail: str = Field(default="", max_length=200)
    flagged_at: datetime
    cleared_at: datetime | None = None
    cleared_by: str | None = Field(default=None, max_length=200)


class MemberCount(SQLModel, table=True):
    """A community chat's member count as Telegram gave it, once a day, so growth shows."""

    __tablename__ = "member_count"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD in UTC
    title: str = Field(default="", max_length=120)
    members: int
    taken_at: datetime
