"""Credit gifts to the ask or post that earned them: the attribution rule, for many at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.attribution import DEFAULT_WINDOW, TOKEN, UNATTRIBUTED, Credit, credit_by_window
from bot.domain.spec import Campaign
from bot.storage import clicks, donations


class Gift(Protocol):
    """What attribution reads of an incoming gift."""

    @property
    def donated_at(self) -> datetime: ...
    @property
    def reference(self) -> str | None: ...
    @property
    def supporter_id(self) -> int | None: ...
    @property
    def telegram_user_id(self) -> int | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def campaign_name(self) -> str | None: ...


@dataclass(frozen=True)
class GiftCredit:
    """Where a gift is credited, and the supporter it is counted on."""

    credit: Credit
    donor: donations.Donor | None


async def _find_donors(
    session: AsyncSession, gifts: Sequence[Gift]
) -> list[donations.Donor | None]:
    """Find each gift's giver: by Telegram id for all of them in one query, else one by one."""
    by_telegram = await donations.donors_by_telegram(
        session=session,
        telegram_user_ids=[
            g.telegram_user_id
            for g in gifts
            if g.supporter_id is None and g.telegram_user_id is not None
        ],
    )
    found: list[donations.Donor | None] = []
    for gift in gifts:
        telegram_user_id = gift.telegram_user_id
        if gift.supporter_id is None and telegram_user_id is not None:
            # The Telegram id is the first identifier find_donor would try for such a gift.
            donor = by_telegram.get(telegram_user_id)
            if donor is not None:
                found.append(donor)
                continue
            telegram_user_id = None  # looked up above, and no one has it
        found.append(
            await donations.find_donor(
                session=session,
                supporter_id=gift.supporter_id,
                telegram_user_id=telegram_user_id,
                username=gift.username,
                external_id=gift.external_id,
            )
        )
    return found


async def attribute_gifts(
    session: AsyncSession,
    gifts: Sequence[Gift],
    *,
    specs: Mapping[str, Campaign],
    default_window: timedelta = DEFAULT_WINDOW,
) -> list[GiftCredit]:
    """Apply the attribution rule to each gift: the token's ask or post, else the window,
    else none. A few queries for all the gifts together, not a few per gift."""
    donors = await _find_donors(session, gifts)
    targets = await clicks.find_link_targets(
        session=session, tokens=[g.reference for g in gifts if g.reference]
    )
    credited: list[GiftCredit | None] = [None] * len(gifts)
    by_window: list[int] = []
    for i, (gift, donor) in enumerate(zip(gifts, donors, strict=True)):
        target = targets.get(gift.reference) if gift.reference else None
        if target is not None:
            credit = Credit(
                TOKEN, target.ask_id, target.post_id, target.campaign_name, target.campaign_id
            )
            # A forwarded link: the identified giver wins over the person the ask went to.
            credited[i] = GiftCredit(credit, donor or target.supporter)
        elif donor is None:
            credited[i] = GiftCredit(Credit(UNATTRIBUTED, campaign_name=gift.campaign_name), None)
        else:
            by_window.append(i)
    if by_window:

        def window_for(name: str) -> timedelta:
            spec = specs.get(name)
            return spec.attribution_window if spec is not None else default_window

        widest = max([default_window, *(spec.attribution_window for spec in specs.values())])
        moments = [gifts[i].donated_at for i in by_window]
        # One range for the group, a superset of each gift's: credit_by_window keeps the
        # asks inside the gift's own campaign and window.
        delivered = await donations.delivered_asks(
            session=session,
            supporter_ids=[donor.id for i in by_window if (donor := donors[i]) is not None],
            since=min(moments) - widest,
            until=max(moments),
        )
        for i in by_window:
            donor = donors[i]
            assert donor is not None
            credit = credit_by_window(
                delivered.get(donor.id, []),
                donated_at=gifts[i].donated_at,
                window_for=window_for,
                campaign_name=gifts[i].campaign_name,
            )
            credited[i] = GiftCredit(credit, donor)
    done = [c for c in credited if c is not None]
    # A campaign a gift names, unattributed, has no row id yet (a token's or ask's has one).
    names = {c.credit.campaign_name for c in done if c.credit.campaign_id is None}
    ids = await donations.campaign_ids_named(session=session, names=[n for n in names if n])
    return [_with_campaign_id(c, ids) for c in done]


def _with_campaign_id(credited: GiftCredit, ids: Mapping[str, int]) -> GiftCredit:
    credit, name = credited.credit, credited.credit.campaign_name
    if credit.campaign_id is not None or name is None or name not in ids:
        return credited
    return GiftCredit(dataclasses.replace(credit, campaign_id=ids[name]), credited.donor)
