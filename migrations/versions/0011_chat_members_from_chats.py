"""community chat members only from community chats; derived afresh

The per-chat roll-up (community_chat_member) took any interaction's `source` for a chat, so
the community report listed imported CRM rows ("museum-crm") and the bot's private chat
("telegram") beside the real community chats. Now only what the community recorder wrote
(under an event key) makes a chat member; the upgrade derives the table afresh with the
application's own statements. The downgrade leaves the rows as they are: they are still right.

Revision ID: 0011_chat_members_from_chats
Revises: 0010_community_rollup
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from bot.storage.community_rollup import chat_member_statements

revision: str = "0011_chat_members_from_chats"
down_revision: str | None = "0010_community_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in chat_member_statements():
        op.execute(statement)


def downgrade() -> None:
    pass
