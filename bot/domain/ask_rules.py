"""The rules a claimed ask passes on its way out: skip, frequency cap, zone, message, buttons.

Pure: the outbox reads the facts from the database and the clock, and these decide.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.domain import callbacks
from bot.domain.i18n import text
from bot.domain.sending import Button
from bot.domain.spec import Campaign
from bot.domain.templating import MessageContext, render_message


class QueuedAsk(Protocol):
    """The fields of an ask these rules read."""

    @property
    def id(self) -> int: ...
    @property
    def campaign_id(self) -> int: ...
    @property
    def supporter_id(self) -> int | None: ...
    @property
    def arm(self) -> str: ...
    @property
    def step(self) -> str: ...


class Recipient(Protocol):
    """The fields of a supporter these rules read."""

    @property
    def id(self) -> int: ...
    @property
    def chat_id(self) -> int | None: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def language(self) -> str: ...
    @property
    def consented_at(self) -> datetime | None: ...
    @property
    def opted_out_at(self) -> datetime | None: ...
    @property
    def blocked_at(self) -> datetime | None: ...
    @property
    def forgotten_at(self) -> datetime | None: ...


def skip_reason(
    person: Recipient | None, *, capped: bool, said_not_now: bool, public: bool = False
) -> str | None:
    """Say why an ask must not go to this supporter, or None when it may.

    A public ask (a reply in a community chat) needs no private chat, but everything else.
    """
    if person is None:
        return "supporter deleted"
    if person.forgotten_at is not None:
        return "supporter asked to be forgotten"
    if person.opted_out_at is not None:
        return "opted out"
    if person.blocked_at is not None:
        return "blocked the bot"
    if not public and (person.chat_id is None or person.consented_at is None):
        return "not reachable: has not started the bot"
    if capped:
        return "frequency cap: asked in another campaign recently"
    if said_not_now:
        return 'said "not now" to this campaign'
    return None


def frequency_caps(
    specs: Mapping[int, Campaign], default: timedelta | None
) -> dict[int, timedelta | None]:
    """Give each campaign's frequency cap: its own, else the organisation's default."""
    return {
        cid: spec.frequency_cap if spec.frequency_cap is not None else default
        for cid, spec in specs.items()
    }


def capped_asks(
    asks: Iterable[QueuedAsk],
    caps: Mapping[int, timedelta | None],
    sends: Iterable[tuple[int, int, datetime]],
    now: datetime,
) -> set[int]:
    """Return the ids of the asks that another campaign's recent ask rules out.

    `sends` are (supporter_id, campaign_id, sent_at) of asks already sent.
    """
    by_person: dict[int, list[tuple[int, datetime]]] = {}
    for who, campaign, at in sends:
        by_person.setdefault(who, []).append((campaign, at))
    capped: set[int] = set()
    chosen: dict[int, int] = {}
    for ask in asks:
        sid, cap = ask.supporter_id, caps.get(ask.campaign_id)
        if sid is None or cap is None:
            continue
        asked_elsewhere = any(
            campaign != ask.campaign_id and at >= now - cap
            for campaign, at in by_person.get(sid, [])
        )
        # Two campaigns due for one person in the same batch: the first one wins.
        if asked_elsewhere or chosen.get(sid, ask.campaign_id) != ask.campaign_id:
            capped.add(ask.id)
        else:
            chosen[sid] = ask.campaign_id
    return capped


def supporter_zone(name: str | None, spec: Campaign, fallback: str) -> ZoneInfo:
    """Give the supporter's time zone when known and valid, else the campaign's or `fallback`."""
    if name:
        with contextlib.suppress(ValueError, KeyError):
            return ZoneInfo(name)
    return spec.zone(fallback)


def message_key(spec: Campaign, ask: QueuedAsk) -> str:
    """Name the message an ask sends: its arm's for the first ask, its step's for follow-ups."""
    if ask.step == "ask":
        key = spec.arm(ask.arm).message
        if key is None:
            raise KeyError(f"arm {ask.arm!r} sends no message")
        return key
    for step in spec.follow_ups:
        if step.name == ask.step:
            return step.message
    raise KeyError(f"campaign {spec.name!r} has no follow-up step {ask.step!r}")


def ask_context(
    person: Recipient,
    *,
    language: str,
    link: str,
    history: Sequence[tuple[str, str | None, datetime]],
    zone: ZoneInfo,
    now: datetime,
) -> MessageContext:
    """Gather what an ask may say about its supporter, dated in their zone."""
    return MessageContext(
        today=now.astimezone(zone).date(),
        first_name=person.first_name,
        last_name=person.last_name,
        username=person.username,
        language=language,
        donate_link=link,
        interactions=[(kind, detail, at.astimezone(zone)) for kind, detail, at in history],
    )


def render_ask(
    frozen: Campaign, current: Campaign | None, ask: QueuedAsk, context: MessageContext
) -> str:
    """Render with the message texts in force now, the arms and steps frozen at launch.

    `current` is the campaign file as loaded now (texts corrected with /reload), if any.
    """
    key = message_key(frozen, ask)
    source = current if current is not None and key in current.messages else frozen
    return render_message(source, key, context)


def tracked_link(base_url: str, token: str) -> str:
    """Give the tracked link of an ask or post token, served by the bot's web app."""
    return f"{base_url.rstrip('/')}/r/{token}"


@functools.lru_cache(maxsize=256)
def _button_labels(language: str | None) -> tuple[str, str, str, str]:
    # Looked up once per language, not three times per ask: the outbox builds these by the
    # thousand a second.
    return (
        text("button_donate", language),
        text("button_give", language),
        text("button_not_now", language),
        text("button_stop", language),
    )


def ask_buttons(
    token: str, link: str, language: str | None, *, telegram_payments: bool = False
) -> list[list[Button]]:
    """Build an ask's inline buttons: Donate (tracked link), Not now, Stop messages."""
    donate, give, not_now, stop = _button_labels(language)
    first = [Button(donate, url=link)]
    if telegram_payments:
        # "Give in Telegram" (Telegram payments), shown only when a provider is configured.
        first.append(Button(give, callback_data=callbacks.give(token)))
    return [
        first,
        [
            Button(not_now, callback_data=callbacks.not_now(token)),
            Button(stop, callback_data=callbacks.stop(token)),
        ],
    ]
