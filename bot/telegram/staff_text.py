"""What staff read: campaign lists, launch results, progress and previews as Telegram HTML."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime

from bot.domain.message_length import MESSAGE_MAX_UTF16, utf16_length
from bot.domain.money import format_amount
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


def launch_text(result: LaunchResult) -> str:
    """Describe what a launch queued, per arm."""
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
    if result.first_due is not None:
        lines.append(f"First due {_when(result.first_due)}, last {_when(result.last_due)}.")
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


def preview_messages(preview: Preview) -> list[str]:
    """Describe a preview as messages: the audience, then one message per sample ask."""
    name = html.escape(preview.campaign)
    lines = [
        f"👀 <b>Preview of {name}</b> ({html.escape(preview.title)})",
        f"Audience if launched now: <b>{preview.audience_size}</b> supporter(s)",
    ]
    lines += [f"  {html.escape(rule)}: {n}" for rule, n in preview.segments.items()]
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
