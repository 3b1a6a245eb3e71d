"""Public personal asks through python-telegram-bot and the sandbox: a reply in the community
to the member's own message, its start link, and what it is credited with."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from bot.domain.attribution import sign_body
from bot.storage.influence import influence_scores
from bot.storage.models import Ask, Click, Donation, Supporter
from bot.storage.referrals import referrer_of_code, referrer_rows
from tests.botharness import BotHarness
from tests.test_bot_community import (
    ANN,
    BEN,
    CHANNEL,
    DORA,
    GROUP,
    listening_bot,
    museum,
    settled,
)

HOOK_SECRET = "reach-hook-secret"
PUBLIC_APPEAL = """\
name: public-appeal
title: Thank our commenters in public
organisation: Harbour Museum
donate_url: https://donate.example.org/harbour
arms:
  public: {kind: specific, weight: 1, message: personal, via: group_reply}
messages:
  personal:
    en: 'thank you for your kind words, {{ name }}. <a href="{{ donate_link }}">Help us</a>'
"""


async def museum_with_dora(client: Any) -> None:
    """The museum's community, with Dora a member of the discussion group too."""
    await museum(client)
    await client.set_member(GROUP, DORA)


def start_payload(entry: dict[str, Any]) -> str:
    """Return the /start payload of the button a public reply carries."""
    [[button]] = entry["reply_markup"]["inline_keyboard"]
    url = button["url"]
    assert url.startswith("https://t.me/")
    return parse_qs(urlsplit(url).query)["start"][0]


async def public_reply_to(bot: BotHarness, contains: str) -> dict[str, Any]:
    """Wait for the bot's reply in the community group that contains a text."""
    return await bot.next_message(GROUP, contains)


async def test_a_public_ask_replies_to_the_members_own_comment_and_opens_privately(
    tmp_path: Path,
) -> None:
    async with listening_bot(
        tmp_path,
        campaigns={"public.yaml": PUBLIC_APPEAL},
        serve_web=True,
        settings={"donation_webhook_secret": HOOK_SECRET},
        before_start=museum_with_dora,
    ) as bot:
        post = await bot.client.channel_post(CHANNEL, "Ships in Bottles opens today")
        post_id = post["channel_post"]["message_id"]
        said = await bot.client.comment(BEN, CHANNEL, post_id, "Wonderful, I loved it!")
        ben_comment = said["message"]["message_id"]
        await bot.client.comment(BEN, CHANNEL, post_id, "See you")  # later, not positive
        await bot.client.comment(DORA, CHANNEL, post_id, "Lovely exhibition!")
        await settled(bot)
        # Dora starts the bot and opts out: she is never mentioned in public.
        await bot.client.start(DORA)
        await bot.next_message(DORA)
        await bot.client.send_text(DORA, "/stop")
        await bot.next_message(DORA, "")
        await bot.launch("public-appeal")
        bot.advance(timedelta(minutes=1))

        reply = await public_reply_to(bot, "thank you for your kind words")
        # Ben has no username: he is mentioned by a link to his user id, under his name.
        assert reply["text"].startswith(f'<a href="tg://user?id={BEN}">Ben</a> ')
        assert reply["reply_to_message_id"] == ben_comment
        payload = start_payload(reply)
        assert len(payload) <= 64 and payload.startswith("a-")
        (ben,) = await bot.rows(Supporter, Supporter.telegram_user_id == BEN)
        (dora,) = await bot.rows(Supporter, Supporter.telegram_user_id == DORA)
        [sent] = await bot.wait_rows(Ask, Ask.supporter_id == ben.id, Ask.state == "sent")
        assert not await bot.rows(Ask, Ask.supporter_id == dora.id)
        assert (sent.chat_id, sent.telegram_message_id) == (GROUP, reply["message_id"])
        assert payload == f"a-{sent.token}"
        everything = json.dumps(await bot.sent(GROUP))
        assert "dora" not in everything.lower()

        # Ben opens the button: consent, then the arm's message privately, with its link.
        await bot.client.start(BEN, payload)
        await bot.next_message(BEN)
        private = await bot.next_message(BEN, "/r/")
        assert f"/r/{sent.token}" in json.dumps(private)
        (ben,) = await bot.rows(Supporter, Supporter.telegram_user_id == BEN)
        assert ben.consented_at is not None and ben.chat_id == BEN

        # A click on it and a signed gift with its token are credited to the public ask.
        base = bot.settings.public_base_url
        async with httpx.AsyncClient(base_url=base) as web:
            clicked = await web.get(f"/r/{sent.token}", follow_redirects=False)
            assert clicked.status_code in (302, 303, 307)
            gift = {
                "id": "g-public-1",
                "amount": 1500,
                "currency": "EUR",
                "reference": sent.token,
                "donated_at": "2026-12-02T10:05Z",
            }
            body = json.dumps(gift).encode()
            answer = await web.post(
                "/donations/webhook",
                content=body,
                headers={
                    "X-Signature": sign_body(body, HOOK_SECRET),
                    "Content-Type": "application/json",
                },
            )
            assert answer.status_code == 200, answer.text
        [click] = await bot.wait_rows(Click, Click.token == sent.token)
        assert click.ask_id == sent.id
        [donation] = await bot.wait_rows(Donation, Donation.provider_event_id == "g-public-1")
        assert (donation.ask_id, donation.supporter_id) == (sent.id, ben.id)


async def test_someone_else_opening_a_public_asks_button_gets_no_private_ask(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path, campaigns={"public.yaml": PUBLIC_APPEAL}) as bot:
        post = await bot.client.channel_post(CHANNEL, "Ships in Bottles opens today")
        post_id = post["channel_post"]["message_id"]
        await bot.client.comment(BEN, CHANNEL, post_id, "Wonderful, I loved it!")
        await settled(bot)
        await bot.launch("public-appeal")
        bot.advance(timedelta(minutes=1))
        reply = await public_reply_to(bot, "thank you for your kind words")
        await bot.client.start(ANN, start_payload(reply))
        await bot.next_message(ANN)
        await settled(bot)
        assert not [e for e in await bot.quiet(ANN) if "/r/" in json.dumps(e)]


# --- referrals ----------------------------------------------------------------------------


async def test_a_referral_chain_credits_the_referrer_apart_from_the_givers_own_gift(
    tmp_path: Path,
) -> None:
    async with listening_bot(
        tmp_path, serve_web=True, settings={"donation_webhook_secret": HOOK_SECRET}
    ) as bot:
        anna = await bot.supporter_starts(4001, "Anna", visited=None)
        await bot.client.send_text(4001, "/share")
        shared = await bot.next_message(4001, "t.me/")
        link = shared["text"].split("Share this link with a friend: ")[1].split()[0]
        payload = parse_qs(urlsplit(link).query)["start"][0]
        assert payload.startswith("r-")
        # A named invite link to the community chat comes with it.
        assert "invite them to our community chat" in shared["text"]

        bob = await bot.supporter_starts(4002, "Bob", payload=payload, visited=None)
        # Ben is known from the community chat already: brought in, he counts as re-engaged.
        await bot.client.post(GROUP, BEN, "Hello all")
        await settled(bot)
        await bot.client.start(BEN, payload)
        await bot.next_message(BEN)
        # Anna's own link brings nobody new when she opens it herself.
        await bot.client.start(4001, payload)
        await bot.next_message(4001, "")

        gift = {
            "id": "g-bob-1",
            "amount": 4000,
            "currency": "EUR",
            "donor": {"telegram_user_id": 4002},
            "donated_at": "2026-12-02T10:05Z",
        }
        body = json.dumps(gift).encode()
        async with httpx.AsyncClient(base_url=bot.settings.public_base_url) as web:
            answer = await web.post(
                "/donations/webhook",
                content=body,
                headers={
                    "X-Signature": sign_body(body, HOOK_SECRET),
                    "Content-Type": "application/json",
                },
            )
            assert answer.status_code == 200, answer.text
        [donation] = await bot.wait_rows(Donation, Donation.provider_event_id == "g-bob-1")
        assert donation.supporter_id == bob.id

        async with bot.sessions() as session:
            [row] = await referrer_rows(session=session)
        assert (row.referrer_id, row.starts, row.re_engaged) == (anna.id, 1, 1)
        assert row.donors == {bob.id} and row.amounts == {"EUR": 4000}
        # Peer credit is never Anna's own giving.
        (anna_now,) = await bot.rows(Supporter, Supporter.id == anna.id)
        assert (anna_now.gift_count, anna_now.gift_total_minor) == (0, 0)
        (bob_now,) = await bot.rows(Supporter, Supporter.id == bob.id)
        assert (bob_now.gift_count, bob_now.gift_total_minor) == (1, 4000)


THANKED_APPEAL = """\
name: thanked-appeal
title: Keep the lights on
organisation: Harbour Museum
donate_url: https://donate.example.org/harbour
audience:
  any:
    - {interaction: visited_exhibition}
arms:
  specific: {kind: specific, weight: 1, message: personal}
messages:
  personal:
    en: 'Dear {{ name }}, <a href="{{ donate_link }}">help us</a>'
  thanks:
    en: 'Thank you, {{ name }}!'
thank_you: thanks
"""


async def test_a_thank_you_carries_a_share_button_that_gives_the_supporters_link(
    tmp_path: Path,
) -> None:
    async with listening_bot(
        tmp_path,
        campaigns={"thanked.yaml": THANKED_APPEAL},
        serve_web=True,
        settings={"donation_webhook_secret": HOOK_SECRET},
    ) as bot:
        anna = await bot.supporter_starts(4001, "Anna")
        await bot.launch("thanked-appeal", deliver_to=[4001])
        [token] = set(re.findall(r"/r/([A-Za-z0-9_-]+)", json.dumps(bot.asks[4001])))
        gift = {
            "id": "g-anna-1",
            "amount": 2500,
            "currency": "EUR",
            "reference": token,
            "donated_at": bot.clock.now.isoformat(),
        }
        body = json.dumps(gift).encode()
        async with httpx.AsyncClient(base_url=bot.settings.public_base_url) as web:
            answer = await web.post(
                "/donations/webhook",
                content=body,
                headers={
                    "X-Signature": sign_body(body, HOOK_SECRET),
                    "Content-Type": "application/json",
                },
            )
            assert answer.status_code == 200, answer.text
        thanks = await bot.next_message(4001, "Thank you, Anna!")
        [[button]] = thanks["reply_markup"]["inline_keyboard"]
        assert button["text"] == "Share with a friend"

        await bot.client.press(4001, thanks["message_id"], button["callback_data"], 4001)
        shared = await bot.next_message(4001, "Share this link with a friend")
        link = shared["text"].split("Share this link with a friend: ")[1].split()[0]
        assert link.startswith("https://t.me/")
        code = parse_qs(urlsplit(link).query)["start"][0].removeprefix("r-")
        async with bot.sessions() as session:
            assert await referrer_of_code(session=session, code=code) == anna.id


# --- influence ----------------------------------------------------------------------------


async def test_replies_and_reactions_from_others_raise_a_members_influence_once(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path) as bot:
        said = await bot.client.post(GROUP, ANN, "Wat een mooie tentoonstelling")
        ann_message = said["message"]["message_id"]
        await bot.client.post(GROUP, BEN, "Agreed!", reply_to_message_id=ann_message)
        await bot.client.react(BEN, GROUP, ann_message, "👍")
        await bot.client.react(ANN, GROUP, ann_message, "❤")  # her own: no influence
        await bot.client.post(GROUP, ANN, "Thanks", reply_to_message_id=ann_message)
        await settled(bot)
        (ann,) = await bot.rows(Supporter, Supporter.telegram_user_id == ANN)
        assert ann.id is not None
        async with bot.sessions() as session:
            assert await influence_scores(session=session, ids=[ann.id]) == {ann.id: 2}


async def test_a_join_through_a_supporters_invite_link_is_credited_to_them(
    tmp_path: Path,
) -> None:
    async with listening_bot(tmp_path) as bot:
        anna = await bot.supporter_starts(4001, "Anna", visited=None)
        await bot.client.send_text(4001, "/share")
        shared = await bot.next_message(4001, "community chat")
        invite = shared["text"].split("invite them to our community chat: ")[1].split()[0]
        await bot.client.add_user(4003, "Carl")
        await bot.client.join(GROUP, 4003, invite_link=invite)
        await settled(bot)
        async with bot.sessions() as session:
            [row] = await referrer_rows(session=session)
        assert (row.referrer_id, row.starts, row.re_engaged) == (anna.id, 1, 0)
