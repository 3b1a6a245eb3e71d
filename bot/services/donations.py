"""Record a gift once, credit it to the ask or post that earned it, and say thank you."""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.ask_rules import tracked_link
from bot.domain.attribution import DEFAULT_WINDOW, TOKEN, WINDOW
from bot.domain.callbacks import SHARE
from bot.domain.i18n import text as ui_text
from bot.domain.money import format_amount, gift_amount_problem, is_currency, parse_amount
from bot.domain.names import shown_name
from bot.domain.sending import Button, Result, Sender, SendOutcome
from bot.domain.spec import Campaign
from bot.domain.templating import MessageContext, render_message
from bot.services.crediting import GiftCredit, attribute_gifts
from bot.services.supporters import remember_staff_messages
from bot.storage import donations, supporters

log = logging.getLogger(__name__)

STAFF_PROVIDER = "staff"


@dataclass
class IncomingGift:
    """A gift as a provider, the CSV import or a member of staff reports it."""

    provider: str
    provider_event_id: str
    amount_minor: int
    currency: str
    donated_at: datetime
    reference: str | None = None
    supporter_id: int | None = None
    telegram_user_id: int | None = None
    username: str | None = None
    external_id: str | None = None
    campaign_name: str | None = None


STAFF_GIFT_USAGE = (
    "Usage: /donation @username|user_id AMOUNT CURRENCY [CAMPAIGN], e.g. /donation @ann 25 EUR"
)


class StaffGiftInvalid(ValueError):
    """Raised with what is wrong with a /donation command, followed by its usage."""


def staff_gift(args: Sequence[str], *, now: datetime, campaigns: Container[str]) -> IncomingGift:
    """Read `/donation @user|id AMOUNT CURRENCY [CAMPAIGN]` as a gift dated now."""
    if len(args) not in (3, 4):
        raise StaffGiftInvalid(STAFF_GIFT_USAGE)
    who, amount_text, currency = args[0], args[1], args[2].upper()
    campaign_name = args[3] if len(args) == 4 else None
    problems = []
    amount: int | None = None
    if not is_currency(currency):
        problems.append(f"{currency[:16]!r} is not an ISO 4217 currency code such as EUR")
    else:
        try:
            amount = parse_amount(amount_text, currency)
        except ValueError as exc:
            problems.append(str(exc))
        if amount == 0:
            problems.append("the amount must be more than 0")
        elif amount is not None and (problem := gift_amount_problem(amount, currency)):
            problems.append(f"the amount {problem}")
    if campaign_name is not None and campaign_name not in campaigns:
        problems.append(f"no campaign called {campaign_name!r}")
    if problems or not amount:
        raise StaffGiftInvalid("; ".join(problems) + "\n" + STAFF_GIFT_USAGE)
    username = who.lstrip("@") if who.startswith("@") else None
    telegram_user_id = int(who) if who.isdigit() else None
    if username is None and telegram_user_id is None:
        raise StaffGiftInvalid("Name the giver as @username or a user id.\n" + STAFF_GIFT_USAGE)
    return IncomingGift(
        provider=STAFF_PROVIDER,
        provider_event_id=uuid.uuid4().hex,
        amount_minor=amount,
        currency=currency,
        donated_at=now,
        campaign_name=campaign_name,
        username=username,
        telegram_user_id=telegram_user_id,
    )


@dataclass(frozen=True)
class DonationOutcome:
    """What became of an incoming gift: its row, whether it was a replay, and its credit."""

    donation_id: int
    duplicate: bool
    attribution: str
    campaign_name: str | None
    ask_id: int | None
    post_id: int | None
    supporter_id: int | None
    chat_id: int | None
    amount_minor: int
    currency: str
    first_name: str | None
    language: str | None = None
    donated_at: datetime | None = None


async def record_donation(
    sessions: async_sessionmaker[AsyncSession],
    gift: IncomingGift,
    *,
    now: datetime,
    specs: Mapping[str, Campaign],
    default_window: timedelta = DEFAULT_WINDOW,
    main_currency: str = "EUR",
) -> DonationOutcome:
    """Record a gift in its own transaction; the same provider event twice is one donation."""
    # Attribution only reads, so it runs before the write transaction: on SQLite the write
    # transaction then starts with its insert and never has to upgrade a stale read snapshot.
    async with sessions() as session:
        credits = await attribute_gifts(
            session, [gift], specs=specs, default_window=default_window
        )
    async with sessions() as session, session.begin():
        stored = await _store(session, [gift], credits, now=now, main_currency=main_currency)
        return stored[0]


async def record_donations(
    sessions: async_sessionmaker[AsyncSession],
    gifts: Sequence[IncomingGift],
    *,
    now: datetime,
    specs: Mapping[str, Campaign],
    main_currency: str = "EUR",
) -> list[DonationOutcome]:
    """Record gifts in one transaction; the same provider event twice is one donation.

    One commit for a burst of webhooks: on the 2-core machine a transaction per gift held
    signed webhooks to about 170/s. The group costs a fixed handful of statements, whatever
    its size: the identifiers, tokens and delivered asks its gifts name are read together,
    and the gifts are inserted and counted on their givers in one statement each.
    """
    async with sessions() as session, session.begin():
        credits = await attribute_gifts(session, gifts, specs=specs)
        return await _store(session, gifts, credits, now=now, main_currency=main_currency)


async def record_donation_in(
    session: AsyncSession,
    gift: IncomingGift,
    *,
    now: datetime,
    specs: Mapping[str, Campaign],
    default_window: timedelta = DEFAULT_WINDOW,
    main_currency: str = "EUR",
) -> DonationOutcome:
    """Record a gift inside the caller's transaction (the CSV import); never commits."""
    credits = await attribute_gifts(session, [gift], specs=specs, default_window=default_window)
    return (await _store(session, [gift], credits, now=now, main_currency=main_currency))[0]


def _event_key(gift: IncomingGift) -> donations.EventKey:
    return gift.provider, gift.provider_event_id


async def _store(
    session: AsyncSession,
    gifts: Sequence[IncomingGift],
    credits: Sequence[GiftCredit],
    *,
    now: datetime,
    main_currency: str,
) -> list[DonationOutcome]:
    """Insert each provider event once and count new gifts on their givers; a replay, or a
    second copy in the same group, is answered with the donation stored first."""
    first: dict[donations.EventKey, int] = {}
    # In event order, so two groups holding the same replayed events never wait in a circle.
    for i in sorted(range(len(gifts)), key=lambda i: _event_key(gifts[i])):
        first.setdefault(_event_key(gifts[i]), i)
    rows = [_new_row(gifts[i], credits[i], now=now) for i in first.values()]
    inserted = await donations.insert_donations(session=session, rows=rows)
    outcomes: dict[int, DonationOutcome] = {}
    counted: list[supporters.GiftEvent] = []
    for key, i in first.items():
        if key in inserted:
            outcomes[i] = _new_outcome(gifts[i], credits[i], inserted[key])
            if (event := _gift_event(gifts[i], credits[i])) is not None:
                counted.append(event)
    # Counted on the supporters together: two statements for the group, not two per gift.
    await supporters.add_gifts(session=session, gifts=counted, main_currency=main_currency)
    stored_before = [_event_key(g) for i, g in enumerate(gifts) if i not in outcomes]
    existing = await donations.find_donations(session=session, events=stored_before)
    for i, gift in enumerate(gifts):
        if i not in outcomes:
            row = existing.get(_event_key(gift))
            if row is None:  # pragma: no cover - the conflict that led here guarantees a row
                raise RuntimeError(f"donation {gift.provider}/{gift.provider_event_id} vanished")
            outcomes[i] = _stored_outcome(row)
    return [outcomes[i] for i in range(len(gifts))]


def _new_row(gift: IncomingGift, credited: GiftCredit, *, now: datetime) -> donations.NewDonation:
    credit, donor = credited.credit, credited.donor
    return donations.NewDonation(
        provider=gift.provider,
        provider_event_id=gift.provider_event_id,
        amount_minor=gift.amount_minor,
        currency=gift.currency.upper(),
        donated_at=gift.donated_at,
        reference=gift.reference,
        recorded_at=now,
        attribution=credit.method,
        supporter_id=donor.id if donor else None,
        ask_id=credit.ask_id,
        post_id=credit.post_id,
        campaign_id=credit.campaign_id,
    )


def _gift_event(gift: IncomingGift, credited: GiftCredit) -> supporters.GiftEvent | None:
    donor = credited.donor
    if donor is None:
        return None
    return supporters.GiftEvent(
        donor.id,
        gift.amount_minor,
        gift.currency.upper(),
        gift.donated_at,
        credited.credit.campaign_name,
        gift.provider,
    )


def _new_outcome(gift: IncomingGift, credited: GiftCredit, donation_id: int) -> DonationOutcome:
    credit, donor = credited.credit, credited.donor
    return DonationOutcome(
        donation_id=donation_id,
        duplicate=False,
        attribution=credit.method,
        campaign_name=credit.campaign_name,
        ask_id=credit.ask_id,
        post_id=credit.post_id,
        supporter_id=donor.id if donor else None,
        chat_id=donor.chat_id if donor else None,
        amount_minor=gift.amount_minor,
        currency=gift.currency.upper(),
        first_name=donor.first_name if donor else None,
        language=donor.language if donor else None,
        donated_at=gift.donated_at,
    )


def _stored_outcome(row: donations.StoredDonation) -> DonationOutcome:
    donor = row.donor
    return DonationOutcome(
        donation_id=row.id,
        duplicate=True,
        attribution=row.attribution,
        campaign_name=row.campaign_name,
        ask_id=row.ask_id,
        post_id=row.post_id,
        supporter_id=donor.id if donor else None,
        chat_id=donor.chat_id if donor else None,
        amount_minor=row.amount_minor,
        currency=row.currency,
        first_name=donor.first_name if donor else None,
        language=donor.language if donor else None,
        donated_at=row.donated_at,
    )


def staff_line(outcome: DonationOutcome) -> str:
    """Describe a new gift for the staff chat in one HTML line with every name escaped."""
    amount = html.escape(format_amount(outcome.amount_minor, outcome.currency))
    who = (
        html.escape(shown_name(outcome.first_name))
        if outcome.first_name
        else "a giver we do not know yet"
    )
    if outcome.campaign_name is None:
        return f"🎁 <b>{amount}</b> from {who}, not credited to any campaign."
    campaign = html.escape(outcome.campaign_name)
    if outcome.attribution == TOKEN:
        how = "the broadcast post's link" if outcome.post_id is not None else "their tracked link"
    elif outcome.attribution == WINDOW:
        how = "an ask they received"
    else:
        return f"🎁 <b>{amount}</b> from {who} for <b>{campaign}</b>, not credited to an ask."
    return f"🎁 <b>{amount}</b> from {who} for <b>{campaign}</b>, credited via {how}."


def thank_you_text(
    outcome: DonationOutcome, spec: Campaign, context: MessageContext
) -> str | None:
    """Render the campaign's thank-you for this gift's giver, or None if it has none."""
    if spec.thank_you is None:
        return None
    return render_message(spec, spec.thank_you, context)


async def _thank_you_context(
    sessions: async_sessionmaker[AsyncSession],
    outcome: DonationOutcome,
    spec: Campaign,
    *,
    settings: Settings,
    now: datetime,
) -> MessageContext | None:
    """Gather what the thank-you may say, or None if the giver must not be messaged."""
    zone = spec.zone(settings.timezone)
    async with sessions() as session:
        about = await donations.thank_you_facts(
            session=session, supporter_id=outcome.supporter_id, ask_id=outcome.ask_id
        )
    if not about.reachable:  # opted out, blocked or forgotten: /stop means no thank-you either
        return None
    link = spec.donate_url
    if about.token is not None:
        link = tracked_link(settings.public_base_url, about.token)
    return MessageContext(
        today=now.astimezone(zone).date(),
        first_name=outcome.first_name,
        last_name=about.last_name,
        username=about.username,
        language=outcome.language,
        donate_link=link,
        interactions=[(kind, detail, at.astimezone(zone)) for kind, detail, at in about.history],
        gift_amount_minor=outcome.amount_minor,
        gift_currency=outcome.currency,
    )


async def announce_gift(
    sender: Sender,
    outcome: DonationOutcome,
    *,
    specs: Mapping[str, Campaign],
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
) -> None:
    """Thank the giver of a newly credited gift and tell the staff chat; never raises."""
    if outcome.duplicate:
        return
    spec = specs.get(outcome.campaign_name) if outcome.campaign_name else None
    if spec is not None and spec.thank_you and outcome.chat_id is not None:
        try:
            moment = now or outcome.donated_at
            if moment is None:
                raise ValueError("no time to date the thank-you by")
            context = await _thank_you_context(
                sessions, outcome, spec, settings=settings, now=moment
            )
            text = thank_you_text(outcome, spec, context) if context is not None else None
            if text is not None:
                assert context is not None
                share = Button(ui_text("button_share", context.language), callback_data=SHARE)
                sent = await sender.send_text(outcome.chat_id, text, buttons=[[share]])
                _warn_unless_sent(sent, "thank-you for", outcome.donation_id)
        except Exception as exc:  # a failed thank-you must never undo or fail the gift
            log.warning("thank-you for donation %s not sent: %s", outcome.donation_id, exc)
    if settings.staff_chat_id is not None:
        try:
            sent = await sender.send_text(settings.staff_chat_id, staff_line(outcome))
            _warn_unless_sent(sent, "staff note on", outcome.donation_id)
            moment = now or outcome.donated_at
            if sent.message_id is not None and outcome.supporter_id is not None and moment:
                # It names the giver: forget deletes it.
                await remember_staff_messages(
                    sessions,
                    supporter_id=outcome.supporter_id,
                    chat_id=settings.staff_chat_id,
                    message_ids=[sent.message_id],
                    now=moment,
                )
        except Exception as exc:  # the staff note is a courtesy; the gift is recorded
            log.warning("staff note on donation %s not sent: %s", outcome.donation_id, exc)


def _warn_unless_sent(sent: SendOutcome, what: str, donation_id: int) -> None:
    """Log a message about a gift that Telegram did not deliver; the gift stays recorded."""
    if sent.result is not Result.SENT:
        reason = sent.description or sent.result.value
        log.warning("%s donation %s not sent: %s", what, donation_id, reason)
