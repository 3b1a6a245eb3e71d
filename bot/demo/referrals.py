"""The demo's referrals: a few donors share their own link, friends start through it, one gives.

Each sharer asks the bot for their link as a real supporter would: the first through the
thank-you's "Share with a friend" button, the next with /share, and so on. Their friends are
new to the museum; they open the r- link (a /start with its payload) and one of them gives
through the signed donation webhook, so the report's referrals section has rows.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bot.demo.behaviour import community_rng
from bot.demo.population import FIRST_NAMES, LAST_NAMES
from bot.demo.stage import Stage, buttons, wait_until
from bot.demo.week import Week
from bot.domain.callbacks import SHARE
from bot.domain.money import format_amount
from bot.sandbox.chats import User

# How many friends each sharer brings, in the order the sharers are taken.
FRIENDS = (2, 2, 1)
FRIEND_IDS = 730_000_000
FRIENDS_GIFT_MINOR = 2500
# Seconds apart, not hours: the week's report is due, and a later clock would let follow-ups
# due in the meantime race it.
BEAT = timedelta(seconds=5)
REFERRAL_LINK = re.compile(r"https://t\.me/\S+\?start=(r-[A-Za-z0-9_-]+)")


async def _thanked(stage: Stage) -> list[tuple[int, int]]:
    """Return (supporter's chat, thank-you message) of donors whose thank-you can be shared."""
    found: dict[int, int] = {}
    for entry in await stage.sandbox.client.sent(accepted_only=True):
        chat = int(entry["chat_id"])
        if chat in stage.languages and any(data == SHARE for _, data in buttons(entry)):
            found.setdefault(chat, int(entry["message_id"]))
    return sorted(found.items())


async def _share_link(stage: Stage, chat: int, thank_you: int, by_button: bool) -> str:
    """Ask the bot for a supporter's own link, by the thank-you's button or by /share."""
    client = stage.sandbox.client
    before = len(await client.sent(chat, accepted_only=True))
    stage.clock.now += BEAT
    if by_button:
        await client.press(chat, thank_you, SHARE, chat)
    else:
        await client.send_text(chat, "/share")

    async def link() -> str | None:
        for entry in (await client.sent(chat, accepted_only=True))[before:]:
            found = REFERRAL_LINK.search(entry.get("text") or "")
            if found:
                return found.group(1)
        return None

    return await wait_until(link, "the bot to give a supporter their own link")


async def friends_share(stage: Stage) -> None:
    """Some donors share their link; their friends start the bot through it; one gives."""
    client = stage.sandbox.client
    sharers = (await _thanked(stage))[: len(FRIENDS)]
    rng = community_rng(stage.seed, "friends")
    friends: list[int] = []
    buttons_pressed = 0
    for order, ((chat, thank_you), count) in enumerate(zip(sharers, FRIENDS, strict=False)):
        by_button = order % 2 == 0
        buttons_pressed += by_button
        payload = await _share_link(stage, chat, thank_you, by_button)
        language = stage.languages[chat]
        for _ in range(count):
            friend = FRIEND_IDS + len(friends)
            first, last = rng.choice(FIRST_NAMES[language]), rng.choice(LAST_NAMES[language])
            stage.sandbox.state.add_user(User(friend, first, last, None, language, started=False))
            stage.clock.now += BEAT
            await client.start(friend, payload)
            friends.append(friend)
    for friend in friends:
        await client.wait_sent(friend, 1, within=10)
    if not friends:
        stage.say("referrals: no donor had a thank-you to share from")
        return
    # One friend gives by the payment page, without a tracked link (dated five minutes on).
    await Week(stage).give(
        None, FRIENDS_GIFT_MINOR, f"demo-friend-{friends[0]}", telegram_user_id=friends[0]
    )
    stage.say(
        f"referrals: {len(sharers)} donors share their own link ({buttons_pressed} with the "
        f"thank-you's Share with a friend button, {len(sharers) - buttons_pressed} with "
        f"/share); {len(friends)} friends start the bot through those links and one of them "
        f"gives {format_amount(FRIENDS_GIFT_MINOR, 'EUR')}"
    )
