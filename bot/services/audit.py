"""The audit log: one row per staff action, allowed or refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import AuditEntry


async def read_audit_log(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Read from the audit log once; raises if the database is unreachable or has no tables."""
    async with sessions() as session:
        await session.get(AuditEntry, 0)


async def record_audit(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    actor_user_id: int | None,
    actor_name: str | None,
    action: str,
    campaign: str | None = None,
    allowed: bool = True,
    detail: str | None = None,
    supporter_id: int | None = None,
) -> None:
    """Write one audit entry in its own transaction, so a failed action is still logged."""
    async with sessions() as session, session.begin():
        session.add(
            AuditEntry(
                at=now,
                actor_user_id=actor_user_id,
                actor_name=(actor_name or "")[:200] or None,
                action=action[:64],
                campaign=campaign[:120] if campaign else None,
                allowed=allowed,
                detail=detail,
                supporter_id=supporter_id,
            )
        )
