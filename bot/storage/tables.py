"""The Core table handles behind the models, for set-based queries and bulk writes."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from bot.storage import models as _models  # noqa: F401  (registers the tables)


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


ASK = _table("ask")
AUDIT = _table("audit_log")
CAMPAIGN = _table("campaign")
CLICK = _table("click")
COMMUNITY_MESSAGE = _table("community_message")
COMMUNITY_POLL = _table("community_poll")
COMMUNITY_RESPONSE = _table("community_response")
COMMUNITY_MEMBER = _table("community_member")
COMMUNITY_CHAT_MEMBER = _table("community_chat_member")
DONATION = _table("donation")
INTERACTION = _table("interaction")
JOB_RUN = _table("job_run")
NAMED_SOURCE = _table("named_source")
POST = _table("broadcast_post")
REFERRAL = _table("referral")
REFERRAL_CODE = _table("referral_code")
REPLY = _table("reply")
STAFF_MESSAGE = _table("staff_message")
FLAG = _table("supporter_flag")
MEMBER_COUNT = _table("member_count")
SUPPORTER = _table("supporter")
TAG = _table("supporter_tag")
WAY_IN = _table("way_in")
