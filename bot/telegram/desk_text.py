"""What the desk writes in the staff chat: inbox entries, the supporter card, saved answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from bot.domain.answers import SavedAnswer
from bot.domain.message_length import fit_lines
from bot.domain.money import format_amount
from bot.domain.names import shown_name
from bot.services.desk import AskOutcome, DeskItem, SupporterCard
from bot.services.report_format import duration_text

# How much of a supporter's message an inbox entry quotes.
QUOTE_CHARS = 300


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "-"


def age_text(since: datetime, now: datetime) -> str:
    """Say how long ago something happened, in the report's duration words."""
    return duration_text(max(0.0, (now - since).total_seconds()))


def who_text(item: DeskItem) -> str:
    """Name the supporter of a message: name, @username and Telegram id, escaped."""
    row = item.row
    name = shown_name(" ".join(p for p in (row.first_name, row.last_name) if p) or "(no name)")
    handle = f"@{row.username}, " if row.username else ""
    return f"<b>{escape(name)}</b> ({escape(handle)}{row.telegram_user_id or '-'})"


def holder_text(item: DeskItem, now: datetime) -> str:
    """Say who is answering, or nothing when nobody holds a live claim."""
    if item.holder is None:
        return ""
    since = age_text(item.holder.claimed_at, now)
    return f"✋ {escape(item.holder.staff_name)} is answering (for {since})"


def inbox_entry(item: DeskItem, now: datetime) -> str:
    """Write one waiting message as the inbox shows it."""
    row = item.row
    where = (
        f"on <b>{escape(row.campaign)}</b> / {escape(row.arm or '?')}"
        if row.campaign
        else "(no campaign)"
    )
    quote = row.text if len(row.text) <= QUOTE_CHARS else row.text[:QUOTE_CHARS] + "…"
    lines = [
        f"{who_text(item)} {where} [{escape(row.classification or '?')}], "
        f"waiting {age_text(row.received_at, now)}:",
        escape(quote),
    ]
    claimed = holder_text(item, now)
    if claimed:
        lines.append(claimed)
    return "\n".join(lines)


def inbox_head(shown: int, total: int) -> str:
    """Write the line above the inbox entries."""
    if total == 0:
        return "📭 The inbox is empty: no supporter is waiting for an answer."
    more = f"; the oldest {shown} follow" if total > shown else ", oldest first"
    return f"📬 <b>Inbox</b>: {total} message(s) waiting for an answer{more}."


def answers_text(answers: Sequence[SavedAnswer]) -> str:
    """List the saved answers with their keywords and languages."""
    if not answers:
        return (
            "No saved answers. Write them in answers.yaml beside the campaign files "
            "and send /reload."
        )
    lines = [f"<b>Saved answers</b> ({len(answers)})"]
    for answer in answers:
        words = ", ".join(escape(w) for w in answer.keywords)
        languages = ", ".join(escape(lang) for lang in answer.texts)
        lines.append(f"<code>{escape(answer.key)}</code> [{languages}]: {words}")
    return fit_lines(lines, "…")


def _state(card: SupporterCard) -> str:
    s = card.supporter
    parts = [
        f"consented {_when(s.consented_at)}" if s.consented_at else "no recorded consent",
        f"opted out {_when(s.opted_out_at)}" if s.opted_out_at else "not opted out",
    ]
    if s.blocked_at:
        parts.append(f"blocked the bot {_when(s.blocked_at)}")
    if s.forgotten_at:
        parts.append(f"forgotten {_when(s.forgotten_at)}")
    if s.chat_id is None:
        parts.append("has not started the bot")
    return "; ".join(parts)


def _ask_line(ask: AskOutcome) -> str:
    outcomes = [
        word
        for word, happened in (
            ("clicked", ask.clicked),
            ("replied", ask.replied),
            ("gave", ask.gave),
        )
        if happened
    ]
    came = ", ".join(outcomes) or "no response"
    return (
        f"• {_when(ask.sent_at)} <b>{escape(ask.campaign)}</b> / {escape(ask.arm)} "
        f"({escape(ask.step)}, {escape(ask.state)}): {came}"
    )


def card_text(card: SupporterCard) -> str:
    """Write the supporter card in Telegram HTML, cut to one message."""
    s = card.supporter
    name = shown_name(" ".join(p for p in (s.first_name, s.last_name) if p) or "(no name)")
    ids = [
        f"@{s.username}" if s.username else None,
        f"Telegram {s.telegram_user_id}" if s.telegram_user_id else None,
        f"external {s.external_id}" if s.external_id else None,
    ]
    lines = [
        f"🪪 <b>{escape(name)}</b> ({escape(', '.join(i for i in ids if i) or 'no ids')})",
        f"Language {escape(s.language)}; source {escape(s.source or '-')}"
        + (f" (start {escape(s.start_payload)})" if s.start_payload else "")
        + f"; known since {_when(s.created_at)}",
        escape(_state(card)),
        f"Scores: engagement {s.engagement_score:.1f}, RFM {s.rfm_score}; "
        f"{s.interaction_count} interaction(s), {s.gift_count} gift(s)",
    ]
    if card.tags:
        lines.append("Tags: " + ", ".join(escape(t) for t in card.tags))
    if card.waiting:
        lines.append(f"Waiting for an answer: {card.waiting} message(s)")
    lines += [f"{escape(label)}: {escape(value)}" for label, value in card.more]
    lines.append(f"\n<b>Latest {len(card.interactions)} interaction(s)</b>")
    for kind, detail, sentiment, occurred_at in card.interactions:
        extra = f": {escape(detail)}" if detail else ""
        mood = f" ({escape(sentiment)})" if sentiment else ""
        lines.append(f"• {_when(occurred_at)} {escape(kind)}{extra}{mood}")
    lines.append(f"\n<b>Asks</b> ({len(card.asks)})" if card.asks else "\nNo asks yet.")
    lines += [_ask_line(ask) for ask in card.asks]
    lines.append(f"\n<b>Gifts</b> ({len(card.gifts)})" if card.gifts else "\nNo gifts yet.")
    for amount, currency, donated_at, campaign, provider in card.gifts:
        to = escape(campaign) if campaign else "no campaign"
        lines.append(
            f"• {_when(donated_at)} {escape(format_amount(amount, currency))} "
            f"({to}, {escape(provider)})"
        )
    return fit_lines(lines, "…")
