"""What staff read: campaign lists, launch results, progress and previews as Telegram HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.domain.durations import format_duration
from bot.domain.message_length import MESSAGE_MAX_UTF16, utf16_length
from bot.domain.money import format_amount
from bot.domain.schedule import SendOutlook
from bot.services.campaigns import CampaignStatus, CampaignSummary
from bot.services.launch import LaunchResult
from bot.services.preview import Preview


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "-"


def _amounts(amounts: Mapping[str, int]) -> str:
    return ", ".join(format_amount(v, c) for c, v in sorted(amounts.items()) if v)


def campaign_line(row: CampaignSummary) -> str:
    """Describe one campaign in one line of /campaigns."""
    gifts = f"{row.gifts} gifts" + (f" ({_amounts(row.amounts)})" if _amounts(row.amounts) else "")
    missing = " · <i>file missing, runs on its launch copy</i>" if not row.has_spec else ""
    return (
        f"• <b>{html.escape(row.name)}</b> [{html.escape(row.state)}]: audience "
        f"{row.audience_size}, {row.sent} sent, {row.replies} replies, {html.escape(gifts)}"
        f"{missing}"
    )


def about(duration: timedelta) -> str:
    """Say a duration in plain words: "under a minute", "about 4 minutes", "about 2 days"."""
    minutes = duration.total_seconds() / 60
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        n = round(minutes)
        return "about a minute" if n == 1 else f"about {n} minutes"
    if minutes < 36 * 60:
        return f"about {round(minutes / 60)} hours"
    return f"about {round(minutes / (24 * 60))} days"


def outlook_text(outlook: SendOutlook) -> str:
    """Say when a launch's asks go out and about how long that takes at the configured rate."""
    if outlook.asks == 0:
        return "Nobody would be asked now, so nothing would be sent."
    asks = f"{outlook.asks} ask{'s' if outlook.asks != 1 else ''}"
    when = (
        f"when the send window opens, {_when(outlook.starts)}" if outlook.waits else "right away"
    )
    rate = f"{outlook.rate:g} a second"
    took = about(outlook.sending)
    done = f" (the last around {_when(outlook.ends)})" if outlook.ends is not None else ""
    if outlook.spread is None:
        return f"Sending starts {when} and takes {took} for {asks} at {rate}{done}."
    spread = html.escape(format_duration(outlook.spread))
    return (
        f"Sending starts {when} and is spread over {spread} of open send window, as the "
        f"campaign's <code>spread</code> says{done}; unspread, {asks} would take {took} at "
        f"{rate}."
    )


def launch_question(name: str, title: str, outlook: SendOutlook) -> str:
    """Ask staff to confirm a launch, saying when its asks would go out."""
    return (
        f"Launch <b>{html.escape(name)}</b> ({html.escape(title)})? Its audience is selected "
        f"now and the asks are queued.\n{outlook_text(outlook)}"
    )


def launch_text(result: LaunchResult) -> str:
    """Describe what a launch queued, per arm, and when the asks go out."""
    name = html.escape(result.name)
    if result.already:
        return f"ℹ️ {html.escape(result.message)}."
    arms = ", ".join(f"{html.escape(arm)} {n}" for arm, n in sorted(result.per_arm.items()))
    lines = [
        f"🚀 <b>{name}</b> is {html.escape(result.state)}: {result.queued} asks queued"
        + (f" ({arms})" if arms else "")
        + (f", {result.holdout} held out (not sent)" if result.holdout else "")
        + "."
    ]
    if result.outlook is not None and result.queued:
        lines.append(outlook_text(result.outlook))
    first, last = result.first_due, result.last_due
    if first is not None and last is not None and last - first >= timedelta(minutes=1):
        # Spread, or supporters whose own time zone opens the window later.
        lines.append(f"First due {_when(first)}, last {_when(last)}.")
    if result.post_due is not None:
        lines.append(f"Broadcast post due {_when(result.post_due)}.")
    if result.queued == 0:
        lines.append("Nobody matched the audience rules; check them with /preview.")
    return "\n".join(lines)


def _reasons(label: str, reasons: Mapping[str, int]) -> list[str]:
    return [f"  {label}: {html.escape(reason)} × {n}" for reason, n in reasons.items()]


def status_text(status: CampaignStatus) -> str:
    """Describe a campaign's progress for /status."""
    lines = [
        f"<b>{html.escape(status.name)}</b> [{html.escape(status.state)}]",
        f"Audience {status.audience_size}; launched {_when(status.launched_at)}",
        f"Sent {status.sent} · queued {status.queued} · failed {status.failed} · "
        f"skipped {status.skipped} · unknown {status.unknown} · held out {status.holdout} · "
        f"cancelled {status.cancelled}",
    ]
    lines += _reasons("failed", status.failed_by_reason)
    lines += _reasons("skipped", status.skipped_by_reason)
    lines += _reasons("unknown", status.unknown_by_reason)
    for step, counts in sorted(status.by_step.items()):
        shown = ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
        lines.append(f"Step {html.escape(step)}: {html.escape(shown)}")
    lines.append(
        f"Next due {_when(status.next_due_at)}; {status.sent_last_hour} sent in the last hour "
        f"({status.rate_per_minute:.1f}/min over the last 5 minutes)"
    )
    return "\n".join(lines)


def flagged_out_line(people: int, reasons: dict[str, int]) -> str:
    """Say how many flagged supporters the audience leaves out, and why."""
    why = ", ".join(f"{html.escape(reason)} {n}" for reason, n in reasons.items())
    return (
        f"Left out as flagged: <b>{people}</b> ({why}); /trust clears a flag, "
        "include_flagged: true takes them in."
    )


def preview_messages(preview: Preview) -> list[str]:
    """Describe a preview as messages: the audience, then one message per sample ask."""
    name = html.escape(preview.campaign)
    lines = [
        f"👀 <b>Preview of {name}</b> ({html.escape(preview.title)})",
        f"Audience if launched now: <b>{preview.audience_size}</b> supporter(s)",
    ]
    lines += [f"  {html.escape(rule)}: {n}" for rule, n in preview.segments.items()]
    if preview.flagged_out:
        lines.append(flagged_out_line(preview.flagged_out, preview.flagged_reasons))
    if preview.eligible_by_way:
        lines.append(
            "Eligible each way: "
            + ", ".join(f"{way} {n}" for way, n in preview.eligible_by_way.items())
            + " (the audience is those every arm's way reaches)"
        )
    lines.append(
        "Expected per arm: "
        + ", ".join(
            f"{html.escape(arm)} ({html.escape(preview.arm_kinds.get(arm, '?'))}) ≈ {n:.0f}"
            for arm, n in preview.arms.items()
        )
    )
    if preview.power is not None:
        lines.append(html.escape(preview.power))
    if not preview.samples:
        lines.append("Nobody matches the audience rules now, so there is nothing to show.")
    else:
        lines.append(f"The first {len(preview.samples)} messages follow; nothing is sent.")
    messages = ["\n".join(lines)]
    for number, sample in enumerate(preview.samples, start=1):
        head = (
            f"<b>{number}. {html.escape(sample.name)}</b> · {html.escape(sample.language)} · "
            f"arm {html.escape(sample.arm)} · {html.escape(sample.rule)}"
        )
        if sample.problem is not None:
            body = f"⚠️ Cannot be rendered: {html.escape(sample.problem)}"
        elif sample.text is None:
            body = "<i>holdout: gets no message</i>"
        else:
            body = sample.text  # rendered Telegram HTML, exactly as it would be sent
        if utf16_length(f"{head}\n\n{body}") <= MESSAGE_MAX_UTF16:
            messages.append(f"{head}\n\n{body}")
        else:
            messages += [head, body]
    return messages
