"""lighter ask indexes: a launch writes each ask row into fewer of them

ix_ask_campaign_state was a prefix of ix_ask_campaign_due; ix_ask_due (state, due_at) served
only recovery, which looks for the few asks in `sending`: a partial index does that.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENDING = sa.text("state = 'sending'")


def upgrade() -> None:
    with op.batch_alter_table("ask", schema=None) as batch_op:
        batch_op.drop_index("ix_ask_campaign_state")
        batch_op.drop_index("ix_ask_due")
        batch_op.create_index(
            "ix_ask_sending",
            ["claimed_at"],
            unique=False,
            postgresql_where=SENDING,
            sqlite_where=SENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("ask", schema=None) as batch_op:
        batch_op.drop_index("ix_ask_sending")
        batch_op.create_index("ix_ask_due", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_ask_campaign_state", ["campaign_id", "state"], unique=False)
