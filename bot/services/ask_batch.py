"""Prepare claimed asks: read what a batch needs at once, decide each, render those that go."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.ask_rules import (
    ask_buttons,
    ask_context,
    capped_asks,
    frequency_caps,
    render_ask,
    skip_reason,
    supporter_zone,
    tracked_link,
)
from bot.domain.campaign import frozen_spec
from bot.domain.campaign_state import RUNNING
from bot.domain.i18n import text as ui_text
from bot.domain.public_asks import (
    GROUP_REPLY,
    NO_MESSAGE,
    WrittenMessage,
    ask_payload,
    mention,
    over_hourly_cap,
    reply_target,
    start_url,
)
from bot.domain.schedule import is_open, next_open
from bot.domain.sending import Button
from bot.domain.spec import Campaign
from bot.domain.templating import TemplateProblem
from bot.services.outcome_recorder import OutcomeRecorder
from bot.storage import campaign_runs, community, outbox, recipients
from bot.storage.models import CANCELLED, FAILED, SKIPPED


@dataclass(frozen=True)
class ReadyAsk:
    """A claimed ask that is ready to go: where, what, with which buttons."""

    ask: outbox.ClaimedAsk
    chat_id: int
    text: str
    buttons: list[list[Button]]
    # A public ask replies to the member's own message in the community chat.
    reply_to: int | None = None


class FrozenSpecs:
    """The campaigns' specs as frozen at launch, parsed once per launch copy."""

    def __init__(self) -> None:
        self._parsed: dict[int, tuple[str, Campaign]] = {}

    def of(self, run: campaign_runs.CampaignRunState) -> Campaign:
        """Return the spec a campaign was launched with (raises ValueError if unreadable)."""
        cached = self._parsed.get(run.id)
        if cached is None or cached[0] != run.spec_hash:
            cached = (run.spec_hash, frozen_spec(run.spec_yaml))
            self._parsed[run.id] = cached
        return cached[1]


@dataclass(frozen=True)
class BatchFacts:
    """What deciding a claimed batch needs, read from the database in one go."""

    runs: dict[int, campaign_runs.CampaignRunState]
    people: dict[int, recipients.SupporterFacts]
    history: dict[int, list[tuple[str, str | None, datetime]]]
    specs: dict[int, Campaign]
    unreadable: dict[int, str]
    capped: set[int]
    not_now: set[tuple[int, int]]
    # For public asks: each supporter's recent community messages, and when each campaign's
    # public replies went to each chat in the last hour.
    written: dict[int, list[WrittenMessage]] = field(default_factory=dict)
    group_sent: dict[tuple[int, int], list[datetime]] = field(default_factory=dict)


def is_public(spec: Campaign, ask: outbox.ClaimedAsk) -> bool:
    """Tell whether an ask is a public reply (a first ask of a via: group_reply arm)."""
    arm = spec.arms.get(ask.arm)
    return ask.step == "ask" and arm is not None and arm.via == GROUP_REPLY


async def read_batch(
    sessions: async_sessionmaker[AsyncSession],
    claimed: list[outbox.ClaimedAsk],
    now: datetime,
    *,
    settings: Settings,
    frozen: FrozenSpecs,
) -> BatchFacts:
    """Load what the batch needs in one read: campaigns, supporters, history, caps, "not now"."""
    supporter_ids = {a.supporter_id for a in claimed if a.supporter_id is not None}
    campaign_ids = {a.campaign_id for a in claimed}
    async with sessions() as session:
        runs = await campaign_runs.campaign_run_states(session=session, ids=campaign_ids)
        people = await recipients.supporter_facts(session=session, ids=supporter_ids)
        history = await recipients.interaction_history(session=session, ids=supporter_ids)
        specs: dict[int, Campaign] = {}
        unreadable: dict[int, str] = {}
        for cid, state in runs.items():
            try:
                specs[cid] = frozen.of(state)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                unreadable[cid] = f"the campaign's launch copy cannot be read: {exc}"

        capped = await _capped(session, claimed, specs, now, settings)
        not_now: set[tuple[int, int]] = set()
        for cid, facts in runs.items():
            later = {a.supporter_id for a in claimed if a.campaign_id == cid and a.step != "ask"}
            ids = {s for s in later if s is not None}
            if ids:
                said = await recipients.said_not_now(
                    session=session, supporter_ids=ids, campaign_name=facts.name
                )
                not_now |= {(cid, s) for s in said}
        public = {
            a.supporter_id
            for a in claimed
            if a.supporter_id is not None
            and a.campaign_id in specs
            and is_public(specs[a.campaign_id], a)
        }
        written: dict[int, list[WrittenMessage]] = {}
        group_sent: dict[tuple[int, int], list[datetime]] = {}
        if public:
            recent = timedelta(days=settings.group_reply_recent_days)
            written = await community.written_since(
                session=session, supporter_ids=public, since=now - recent
            )
            group_sent = await community.group_reply_times(
                session=session, campaign_ids=list(specs), since=now - timedelta(hours=1)
            )
    return BatchFacts(
        runs, people, history, specs, unreadable, capped, not_now, written, group_sent
    )


def decide_batch(
    claimed: list[outbox.ClaimedAsk],
    facts: BatchFacts,
    now: datetime,
    *,
    settings: Settings,
    current: Callable[[], Mapping[str, Campaign]] | None,
    recorder: OutcomeRecorder,
    bot_username: str | None = None,
) -> list[ReadyAsk]:
    """Decide each claimed ask and render those that go; settle the others through `recorder`.

    `current` gives the campaign files in force now, whose message texts are used;
    `bot_username` makes the start links of public asks.
    """
    ready = []
    # Every ask of a batch is checked against the same moment: one answer per window and zone.
    opened: dict[tuple[int, str], bool] = {}
    for ask in claimed:
        run = facts.runs.get(ask.campaign_id)
        if run is None or run.state != RUNNING:
            recorder.settle_unsent(ask, run.state if run else CANCELLED)
            continue
        if ask.campaign_id in facts.unreadable:
            recorder.finish(ask, FAILED, facts.unreadable[ask.campaign_id])
            continue
        person = facts.people.get(ask.supporter_id) if ask.supporter_id is not None else None
        spec = facts.specs[ask.campaign_id]
        public = is_public(spec, ask)
        reason = skip_reason(
            person,
            capped=ask.id in facts.capped,
            said_not_now=person is not None and (ask.campaign_id, person.id) in facts.not_now,
            public=public,
        )
        if reason is not None:
            recorder.finish(ask, SKIPPED, reason)
            continue
        assert person is not None
        # A public reply is read by the whole community: it keeps the campaign's own hours.
        zone = (
            spec.zone(settings.timezone)
            if public
            else supporter_zone(person.timezone, spec, settings.timezone)
        )
        key = (ask.campaign_id, zone.key)
        if key not in opened:
            opened[key] = is_open(spec.send_window, zone, now)
        if not opened[key]:
            recorder.retry_at(ask, next_open(spec.send_window, zone, now), ask.attempts, None)
            continue
        if public:
            job = _public_ask(ask, person, spec, facts, now, zone, current, recorder, bot_username)
            if job is not None:
                ready.append(job)
            continue
        assert person.chat_id is not None
        link = tracked_link(settings.public_base_url, ask.token)
        live = current().get(run.name) if current else None
        text = _rendered(ask, person, spec, live, link, facts, zone, now, recorder)
        if text is None:
            continue
        buttons = ask_buttons(
            ask.token,
            link,
            person.language or ask.language,
            telegram_payments=bool(settings.payment_provider_token),
        )
        ready.append(ReadyAsk(ask, person.chat_id, text, buttons))
    return ready


def _rendered(
    ask: outbox.ClaimedAsk,
    person: recipients.SupporterFacts,
    spec: Campaign,
    live: Campaign | None,
    link: str,
    facts: BatchFacts,
    zone: ZoneInfo,
    now: datetime,
    recorder: OutcomeRecorder,
) -> str | None:
    """Render an ask's message for its supporter, or fail the ask and return None."""
    try:
        context = ask_context(
            person,
            language=person.language or ask.language,
            link=link,
            history=facts.history.get(person.id, []),
            zone=zone,
            now=now,
        )
        return render_ask(spec, live, ask, context)
    except (TemplateProblem, KeyError) as problem:
        recorder.finish(ask, FAILED, f"message could not be rendered: {problem}"[:300])
        return None


def _public_ask(
    ask: outbox.ClaimedAsk,
    person: recipients.SupporterFacts,
    spec: Campaign,
    facts: BatchFacts,
    now: datetime,
    zone: ZoneInfo,
    current: Callable[[], Mapping[str, Campaign]] | None,
    recorder: OutcomeRecorder,
    bot_username: str | None,
) -> ReadyAsk | None:
    """Make a public reply to the member's own message, or settle the ask and return None."""
    target = reply_target(facts.written.get(person.id, []))
    if target is None or person.telegram_user_id is None:
        recorder.finish(ask, FAILED, NO_MESSAGE)
        return None
    if not bot_username:
        recorder.finish(ask, FAILED, "the bot has no username for its start link")
        return None
    sent = facts.group_sent.setdefault((ask.campaign_id, target.chat_id), [])
    later = over_hourly_cap(sent, now, spec.group_replies_per_hour)
    if later is not None:
        recorder.retry_at(ask, later, ask.attempts, "group_replies_per_hour reached")
        return None
    link = start_url(bot_username, ask_payload(ask.token))
    live = current().get(spec.name) if current else None
    body = _rendered(ask, person, spec, live, link, facts, zone, now, recorder)
    if body is None:
        return None
    named = mention(
        telegram_user_id=person.telegram_user_id,
        first_name=person.first_name,
        last_name=person.last_name,
        username=person.username,
    )
    # Counted now, so the rest of this batch keeps the hourly cap too.
    sent.append(now)
    language = person.language or ask.language
    buttons = [[Button(ui_text("button_open_bot", language), url=link)]]
    return ReadyAsk(ask, target.chat_id, f"{named} {body}", buttons, reply_to=target.message_id)


async def _capped(
    session: AsyncSession,
    claimed: list[outbox.ClaimedAsk],
    specs: Mapping[int, Campaign],
    now: datetime,
    settings: Settings,
) -> set[int]:
    """Return the claimed ask ids that another campaign's recent ask rules out."""
    default = timedelta(days=settings.frequency_cap_days) if settings.frequency_cap_days else None
    caps = frequency_caps(specs, default)
    longest = max((c for c in caps.values() if c is not None), default=None)
    if longest is None:
        return set()
    ids = {a.supporter_id for a in claimed if a.supporter_id is not None}
    sent = await recipients.recent_sends(session=session, supporter_ids=ids, since=now - longest)
    return capped_asks(claimed, caps, sent, now)
