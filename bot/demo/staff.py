"""The staff chat in the demo: what Marieke types, what the bot answers, and the transcript."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape, unescape
from typing import Any

from sqlalchemy import select

from bot.demo.behaviour import REPLIES
from bot.demo.stage import (
    CAMPAIGN,
    STAFF_CHAT_ID,
    STAFF_ID,
    STAFF_NAME,
    SimClock,
    Stage,
    wait_until,
)
from bot.sandbox import Sandbox
from bot.storage.models import Ask, Supporter


class StaffChat:
    """Marieke in the staff chat: she types, presses buttons, and waits for the bot's answers."""

    def __init__(self, sandbox: Sandbox, clock: SimClock) -> None:
        self.sandbox = sandbox
        self.clock = clock
        # What staff did, with the sandbox's record position at that moment, for the transcript.
        self.log: list[tuple[int, datetime, str]] = []

    async def last_seq(self) -> int:
        """Return the position of the bot's latest message in the staff chat."""
        sent = await self.sandbox.client.sent(STAFF_CHAT_ID)
        return int(sent[-1]["seq"]) if sent else 0

    async def note(self, action: str) -> None:
        """Put something staff did outside the chat into the transcript, in brackets."""
        self.log.append((await self.last_seq(), self.clock(), f"[{action}]"))

    async def says(self, text: str, reply_to: int | None = None) -> None:
        """Type a message (or command) in the staff chat."""
        self.log.append((await self.last_seq(), self.clock(), text))
        await self.sandbox.client.send_text(
            STAFF_ID, text, reply_to_message_id=reply_to, chat_id=STAFF_CHAT_ID
        )

    async def answer(self, contains: str, after: int) -> dict[str, Any]:
        """Wait for the bot's message in the staff chat after a position, holding some text."""

        async def check() -> dict[str, Any] | None:
            for entry in await self.sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
                text = entry.get("text") or entry.get("caption") or ""
                if entry["seq"] > after and contains in text:
                    return entry
            return None

        return await wait_until(check, f"the bot to say {contains!r} in the staff chat")

    async def command(self, text: str, contains: str = "") -> dict[str, Any]:
        """Type a command and return the bot's answer."""
        seq = await self.last_seq()
        await self.says(text)
        return await self.answer(contains, seq)

    async def press(self, entry: dict[str, Any], data: str, what: str) -> None:
        """Press a button under one of the bot's messages."""
        self.log.append((await self.last_seq(), self.clock(), f"[presses {what}]"))
        await self.sandbox.client.press(STAFF_ID, entry["message_id"], data, STAFF_CHAT_ID)

    async def transcript(self) -> str:
        """Return the staff chat as plain text, staff and bot in order."""
        # (position, 0 for the bot or 1 + the order staff acted in, text)
        events: list[tuple[int, int, str]] = []
        for entry in await self.sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
            body = plain(entry.get("text") or entry.get("caption") or "")
            if entry.get("method") == "sendPhoto":
                picture = "[QR code]" if "?start=" in body else "[chart]"
                body = f"{picture} {body}"
            labels = [label for label, _ in buttons(entry)]
            if not body:
                continue  # a keyboard changed under an earlier message
            if labels:
                body += "\n[" + " | ".join(labels) + "]"
            events.append((int(entry["seq"]), 0, f"bot:\n{body}"))
        for order, (seq, when, text) in enumerate(self.log, start=1):
            events.append((seq, order, f"{STAFF_NAME} ({when:%a %d %b %H:%M} UTC):\n{text}"))
        header = "Staff chat, simulated week (the bot's HTML shown as plain text)\n\n"
        return header + "\n\n".join(text for *_, text in sorted(events)) + "\n"


def buttons(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (label, callback data) of a sent message's inline buttons."""
    rows = (entry.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def plain(html: str) -> str:
    """Strip Telegram HTML tags for the transcript."""
    return unescape(re.sub(r"<[^>]+>", "", html))


# --- scenes -----------------------------------------------------------------------------------


async def launch(stage: Stage) -> None:
    """Staff preview the campaign, launch it and confirm."""
    staff = stage.staff
    await staff.command(f"/preview {CAMPAIGN}", "Preview")
    question = await staff.command(f"/launch {CAMPAIGN}", "Launch")
    await stage.sandbox.client.press(
        STAFF_ID, question["message_id"], f"launch:{CAMPAIGN}", STAFF_CHAT_ID
    )
    answer = await staff.answer("queued", question["seq"])
    stage.say("staff: /launch confirmed -> " + plain(answer.get("text", "")).splitlines()[0])


async def answers_from_the_desk(stage: Stage) -> None:
    """A supporter outside the campaign asks a question; staff answer it from the desk.

    Someone who was never asked, so the campaign's report is the same with or without it.
    """
    async with stage.sessions() as session:
        asked = set(
            (
                await session.execute(
                    select(Supporter.telegram_user_id).join(  # type: ignore[call-overload]
                        Ask, Ask.supporter_id == Supporter.id
                    )
                )
            ).scalars()
        )
    others = [p for p in stage.people if p.telegram_user_id not in asked]
    if not others:
        return
    person = next((p for p in others if p.language == "nl"), others[0])
    question = REPLIES.get(person.language, REPLIES["en"])[1]
    staff = stage.staff
    seq = await staff.last_seq()
    await stage.sandbox.client.send_text(person.telegram_user_id, question)
    relay = await staff.answer(escape(question, quote=False), seq)
    await staff.command("/inbox", "Inbox")
    saved = [(label, data) for label, data in buttons(relay) if data.startswith("desk:k:")]
    if not saved:
        return
    label, data = saved[0]
    who = person.first_name
    seq = await staff.last_seq()
    await staff.press(relay, data, f"{label} under {who}'s message")
    await staff.answer("✓ Sent to", seq)
    stage.say(f"staff: /inbox, then the saved answer {label} to {who} ({person.language})")


async def report(stage: Stage) -> None:
    """Staff ask for the report in the chat."""
    await stage.staff.command(f"/report {CAMPAIGN}")
    stage.say("staff: /report -> text and chart in the staff chat")
