"""Telegram payments ("Give in Telegram"): invoice payloads that carry the ask's token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.attribution import is_token
from bot.domain.money import currency_problem, format_amount, gift_amount_problem
from bot.domain.spec import Campaign
from bot.services.donations import IncomingGift
from bot.storage.clicks import find_link_target

PROVIDER = "telegram"
_PREFIX = "gift:"


def invoice_payload(token: str | None) -> str:
    """Return the invoice payload for a gift credited to a tracked-link token (or to none)."""
    return _PREFIX + (token or "")


def token_from_payload(payload: str) -> str | None:
    """Return the token an invoice payload carries; raise ValueError if it is not ours."""
    if not payload.startswith(_PREFIX):
        raise ValueError(f"not a gift invoice payload: {payload[:40]!r}")
    token = payload.removeprefix(_PREFIX)
    if token and not is_token(token):
        raise ValueError(f"gift invoice payload has a malformed token: {token[:40]!r}")
    return token or None


@dataclass(frozen=True)
class Invoice:
    """The arguments of `Bot.send_invoice` for one gift (prices as (label, minor units))."""

    title: str
    description: str
    payload: str
    currency: str
    prices: list[tuple[str, int]]


def gift_invoice(spec: Campaign, token: str | None, amount_minor: int, currency: str) -> Invoice:
    """Describe an invoice for a gift of a fixed amount to a campaign."""
    if amount_minor <= 0:
        raise ValueError("a gift must be more than zero")
    code = currency.upper()
    return Invoice(
        title=spec.title[:32],
        description=f"A gift of {format_amount(amount_minor, code)} to {spec.organisation}"[:255],
        payload=invoice_payload(token),
        currency=code,
        prices=[("Gift", amount_minor)],
    )


async def pre_checkout_problem(
    sessions: async_sessionmaker[AsyncSession],
    payload: str,
    total_amount: int,
    currency: str,
) -> str | None:
    """Say why a pre-checkout query must be refused, or None to accept it."""
    try:
        token = token_from_payload(payload)
    except ValueError:
        return "This payment is not one we know about."
    if (problem := currency_problem(currency)) is not None:
        return f"The currency {problem}."
    if (problem := gift_amount_problem(total_amount, currency)) is not None:
        return f"The amount {problem}."
    if token is not None:
        async with sessions() as session:
            if await find_link_target(session=session, token=token) is None:
                return "This gift link is not known any more."
    return None


def gift_from_payment(
    *,
    payload: str,
    currency: str,
    total_amount: int,
    telegram_payment_charge_id: str,
    telegram_user_id: int,
    paid_at: datetime,
) -> IncomingGift:
    """Turn a `successful_payment` into an incoming gift keyed by Telegram's charge id.

    Raise ValueError for an amount or currency no gift can have: pre-checkout refuses those, so
    such a payment never went through.
    """
    problem = currency_problem(currency) or gift_amount_problem(total_amount, currency)
    if problem is not None:
        raise ValueError(f"payment {telegram_payment_charge_id[:64]!r}: {problem}")
    try:
        token = token_from_payload(payload)
    except ValueError:
        token = None  # paid is paid: record it unattributed rather than lose it
    return IncomingGift(
        provider=PROVIDER,
        provider_event_id=telegram_payment_charge_id,
        amount_minor=total_amount,
        currency=currency.upper(),
        donated_at=paid_at,
        reference=token,
        telegram_user_id=telegram_user_id,
    )
