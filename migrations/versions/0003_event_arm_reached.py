"""replies and clicks carry their ask's arm and whether it had reached the supporter

A report then counts a campaign's replies and clicks per arm without looking up each one's
ask. Existing rows are filled in from their asks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("reply", "click")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("arm", sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column("reached", sa.Boolean(), nullable=True))
        # Portable correlated subqueries; the rule is bot.storage.models.known_reached.
        op.execute(
            f"""UPDATE {table} SET
                arm = (SELECT ask.arm FROM ask WHERE ask.id = {table}.ask_id),
                reached = (SELECT ask.step <> 'ask' OR ask.state = 'sent'
                           FROM ask WHERE ask.id = {table}.ask_id)
            WHERE ask_id IS NOT NULL"""
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("reached")
            batch_op.drop_column("arm")
