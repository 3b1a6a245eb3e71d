"""What staff do in the demo: launch the campaigns, answer from the desk, ask for the report."""

from __future__ import annotations

from html import escape

from bot.demo.behaviour import REPLIES
from bot.demo.stage import (
    CAMPAIGN,
    COMMUNITY_CAMPAIGN,
    STAFF_CHAT_ID,
    STAFF_ID,
    Stage,
    buttons,
    plain,
)
from bot.demo.week import outbox_settled
from bot.storage import progress

# --- scenes -----------------------------------------------------------------------------------


async def _preview_and_launch(stage: Stage, name: str) -> list[str]:
    """Staff preview a campaign, launch it and confirm; return the preview's lines."""
    staff = stage.staff
    preview = await staff.command(f"/preview {name}", "Preview")
    question = await staff.command(f"/launch {name}", "Launch")
    await stage.sandbox.client.press(
        STAFF_ID, question["message_id"], f"launch:{name}", STAFF_CHAT_ID
    )
    answer = await staff.answer("queued", question["seq"])
    stage.say("staff: /launch confirmed -> " + plain(answer.get("text", "")).splitlines()[0])
    return plain(preview.get("text", "")).splitlines()


def _line(lines: list[str], start: str, otherwise: str) -> str:
    return next((line for line in lines if line.startswith(start)), otherwise)


async def launch_community_ask(stage: Stage) -> None:
    """Staff launch the group's experiment: a public reply against a private message."""
    lines = await _preview_and_launch(stage, COMMUNITY_CAMPAIGN)
    eligible = _line(lines, "Eligible each way", "Eligible each way: unknown")
    stage.say(
        f"{COMMUNITY_CAMPAIGN} compares the same personal ask as a public reply under the "
        "member's own kind words in the group (arm public, via group_reply) with a private "
        "message (arm private). It is randomised only among the supporters eligible both ways "
        "(started the bot, and wrote in the group within 90 days), so it holds for them, not "
        f"for every supporter; /preview: {eligible}"
    )


async def launch(stage: Stage) -> None:
    """Staff preview the winter appeal, launch it and confirm."""
    lines = await _preview_and_launch(stage, CAMPAIGN)
    flagged = _line(lines, "Left out as flagged", "Left out as flagged: nobody")
    stage.say(f"/preview {CAMPAIGN}: {flagged.split(';')[0]}")


async def answers_from_the_desk(stage: Stage) -> None:
    """A supporter outside the campaign asks a question; staff answer it from the desk.

    Someone who was never asked, so the campaign's report is the same with or without it.
    """
    async with stage.sessions() as session:
        asked = await progress.asked_telegram_ids(session=session)
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
    """Staff ask for the report in the chat, once the outbox has sent everything due.

    Follow-ups held over Sunday fall due on Monday morning, as the week ends: waiting for
    them keeps the report the same on every run.
    """
    await outbox_settled(stage)
    await stage.staff.command(f"/report {CAMPAIGN}")
    stage.say("staff: /report -> text and chart in the staff chat")
