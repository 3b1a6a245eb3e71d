"""The community report: what the community is worth, where the valuable members came from.

Counts per community chat, how concentrated engagement is, value per way in (invite link,
deep link, import source), flags per reason and the chats' member counts over time; as
text, versioned JSON and HTML. Daily member-count snapshots are taken here too.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.concentration import TOP_FRACTION, gini_of_histogram, top_shares_of_histogram
from bot.domain.flags import MEANINGS
from bot.domain.money import format_amount
from bot.domain.public_asks import fold_deep_links
from bot.domain.sending import Sender
from bot.storage import community_report as store
from bot.storage import reports as reports_store

log = logging.getLogger(__name__)

# Bumped when a field changes meaning or goes away; new fields keep the version.
JSON_VERSION = 1


@dataclass(frozen=True)
class CommunityReport:
    """Everything the community report shows, as plain data."""

    generated_at: datetime
    currency: str
    chats: list[dict[str, Any]]
    member_counts: list[dict[str, Any]]
    concentration: dict[str, Any]
    sources: list[dict[str, Any]]
    flagged: dict[str, int]


async def take_member_counts(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    chat_ids: Collection[int],
    *,
    now: datetime,
) -> int:
    """Store today's member count of each chat Telegram answers for; return how many."""
    taken = 0
    for chat_id in sorted(chat_ids):
        members = await sender.member_count(chat_id)
        if members is None:
            log.warning("no member count for chat %s", chat_id)
            continue
        async with sessions() as session, session.begin():
            await store.save_member_count(
                session=session, chat_id=chat_id, title="", members=members, now=now
            )
        taken += 1
    return taken


def _counts(snapshots: list[tuple[int, str, str, int]]) -> list[dict[str, Any]]:
    by_chat: dict[int, list[tuple[str, int]]] = {}
    for chat_id, _, day, members in snapshots:
        by_chat.setdefault(chat_id, []).append((day, members))
    return [
        {
            "chat_id": chat_id,
            "members_now": days[-1][1],
            "counted_on": days[-1][0],
            "first_counted_on": days[0][0],
            "growth_since_first": days[-1][1] - days[0][1],
            "daily": [{"day": day, "members": n} for day, n in days],
        }
        for chat_id, days in sorted(by_chat.items())
    ]


async def build_community_report(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, currency: str
) -> CommunityReport:
    """Count the community as it stands at `now`; gifts' shares are in `currency`."""
    async with sessions() as session:
        # Large read-only aggregates: the reports' session settings (memory, index lookups).
        await reports_store.tune_for_report(session=session)
        chats = await store.chat_members(session=session, now=now)
        histogram = await store.engagement_histogram(session=session, currency=currency)
        sources = fold_deep_links(await store.value_by_source(session=session))
        flagged = await store.flagged_by_reason(session=session)
        snapshots = await store.member_counts(session=session)
    share_e, share_g = top_shares_of_histogram(histogram)
    for row in sources:
        joined = row["joined"]
        row["amount_per_member"] = {
            code: total // joined for code, total in sorted(row["amounts"].items())
        }
    return CommunityReport(
        generated_at=now,
        currency=currency,
        chats=chats,
        member_counts=_counts(snapshots),
        concentration={
            "members": sum(n for _, n, _ in histogram),
            "top_fraction": TOP_FRACTION,
            "top_share_of_interactions": round(share_e, 4),
            "top_share_of_gifts": round(share_g, 4),
            "gini_of_engagement": round(gini_of_histogram(histogram), 4),
        },
        sources=sources,
        flagged=flagged,
    )


def report_json(report: CommunityReport) -> dict[str, Any]:
    """Return the report as the versioned JSON documented in the README."""
    return {
        "version": JSON_VERSION,
        "generated_at": report.generated_at.isoformat(),
        "currency": report.currency,
        "chats": report.chats,
        "member_counts": report.member_counts,
        "concentration": report.concentration,
        "sources": report.sources,
        "flagged": report.flagged,
    }


def _money(amounts: dict[str, int]) -> str:
    return ", ".join(format_amount(n, code) for code, n in sorted(amounts.items())) or "none"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def report_lines(report: CommunityReport) -> list[str]:
    """Describe the report in plain lines (the CLI's text and the staff chat's message)."""
    lines = [f"Community report, {report.generated_at:%Y-%m-%d %H:%M} UTC"]
    for row in report.member_counts:
        lines.append(
            f"Chat {row['chat_id']}: {row['members_now']:,} members now "
            f"({row['growth_since_first']:+,} since {row['first_counted_on']})"
        )
    for chat in report.chats:
        lines.append(
            f"{chat['chat']}: {chat['seen']:,} members seen, {chat['active_30']:,} active in "
            f"30 days, {chat['active_90']:,} in 90; {chat['reachable']:,} reachable in "
            f"private; {chat['donors']:,} donors ({_money(chat['amounts'])})"
        )
    c = report.concentration
    lines.append(
        f"Concentration: the most engaged {_pct(c['top_fraction'])} of {c['members']:,} "
        f"members make {_pct(c['top_share_of_interactions'])} of interactions and "
        f"{_pct(c['top_share_of_gifts'])} of gifts ({report.currency}); Gini "
        f"{c['gini_of_engagement']:.2f}"
    )
    lines.append("Value by way in (joined, still member, active 30 d after, donors, flagged):")
    for row in report.sources:
        lines.append(
            f"  {row['kind']} {row['name']}: {row['joined']:,}, {row['still_member']:,}, "
            f"{row['active_30_days_after']:,}, {row['donors']:,}, {row['flagged']:,}; "
            f"per member {_money(row['amount_per_member'])}"
        )
    if report.flagged:
        lines.append(
            "Flagged: " + ", ".join(f"{reason} {n:,}" for reason, n in report.flagged.items())
        )
    else:
        lines.append("Flagged: none")
    return lines


def report_html(report: CommunityReport) -> str:
    """Return the report as one self-contained HTML page."""
    head = ("Way in", "Name", "Joined", "Still member", "Active 30 d after", "Donors")
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in (*head, "Flagged", "Per member"))
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(v))}</td>"
            for v in (
                row["kind"],
                row["name"],
                row["joined"],
                row["still_member"],
                row["active_30_days_after"],
                row["donors"],
                row["flagged"],
                _money(row["amount_per_member"]),
            )
        )
        + "</tr>"
        for row in report.sources
    )
    reasons = "".join(
        f"<li>{html.escape(reason)} ({html.escape(MEANINGS.get(reason, reason))}): {n}</li>"
        for reason, n in report.flagged.items()
    )
    summary = "".join(f"<p>{html.escape(line)}</p>" for line in report_lines(report)[:-1])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Community report</title>"
        "</head><body><h1>Community report</h1>"
        f"{summary}<h2>Value by way in</h2><table><tr>{cells}</tr>{rows}</table>"
        f"<h2>Flagged members by reason</h2><ul>{reasons or '<li>none</li>'}</ul>"
        "</body></html>"
    )


async def community_health_line(
    sessions: async_sessionmaker[AsyncSession], *, start: datetime, end: datetime
) -> str | None:
    """Write the weekly summary's line on the community's health; None if nobody came."""
    async with sessions() as session:
        rows = await store.newcomers(session=session, start=start, end=end)
    if not rows:
        return None
    total = sum(n for _, n, _, _ in rows)
    active = sum(a for _, _, a, _ in rows)
    flagged = sum(f for _, _, _, f in rows)
    ways = ", ".join(f"{name} {n:,}" for name, n, _, _ in rows[:6])
    if len(rows) > 6:
        ways += ", …"
    return (
        f"Community: {total:,} new members by way in ({ways}); {active:,} became active, "
        f"{flagged:,} flagged."
    )
