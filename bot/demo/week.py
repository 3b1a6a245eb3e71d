"""The campaign's week in the demo: asks arrive, supporters reply, click and give, hour by hour."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from bot.demo.behaviour import holdout_gift, opens_public_ask, respond
from bot.demo.stage import (
    BROWSER,
    CHANNEL_MEMBERS,
    STAFF_CHAT_ID,
    STEP,
    WEBHOOK_SECRET,
    WEEK_END,
    Stage,
    wait_until,
)
from bot.domain.public_asks import GROUP_REPLY, ask_payload
from bot.storage import progress
from bot.storage.conversation import reply_by_relay
from bot.storage.models import Supporter


async def outbox_settled(stage: Stage) -> None:
    """Wait until the outbox has sent every ask due by the simulated now."""
    now = stage.clock()
    stage.bot.services.wake_outbox()

    async def check() -> bool:
        async with stage.sessions() as session:
            return await progress.count_due_unsent(session=session, now=now) == 0

    await wait_until(check, "the outbox to send every ask due")


class Week:
    """One simulated week of the campaign, driven an hour at a time."""

    def __init__(self, stage: Stage) -> None:
        self.stage = stage
        # Asks already acted on. Not "the highest id seen": the outbox sends in order of due
        # time, not of id, so a later ask can go out before an earlier one.
        self.seen: set[int] = set()
        self.questions_sent = 0

    async def run(self) -> None:
        """Advance the clock hour by hour to the weekly summary, acting as supporters would."""
        stage = self.stage
        delivery = stage.bot.delivery
        assert delivery is not None
        relayed_answered = False
        counts = stage.counts
        while stage.clock.now < WEEK_END:
            stage.clock.now += STEP
            await delivery.scheduler.follow_ups()
            await delivery.scheduler.posts()
            stage.bot.services.wake_outbox()
            await self._drained()
            await self._respond_to_new_asks()
            await self._channel_readers()
            if not relayed_answered and self.questions_sent:
                # Wait for the relay, so staff answer in the same simulated hour every run.
                relayed_answered = await wait_until(
                    self._staff_answers_a_reply, "a supporter's question in the staff chat"
                )
            if stage.clock.now.hour == 12:
                stage.say(
                    f"{stage.clock.now:%a %d %b}: {counts['asks_sent']} asks delivered, "
                    f"{counts['replies']} replies, {counts['clicks']} clicks, "
                    f"{counts['gifts']} gifts"
                )
        await self._holdout_gifts()
        stage.say(
            f"public replies: {counts['public_asks']} went to the group, under each member's "
            f"own message; {counts['public_opened']} of the members opened the button and got "
            "the ask privately"
        )
        stage.clock.now = WEEK_END + timedelta(minutes=31)
        seq = await stage.staff.last_seq()
        await delivery.scheduler.weekly()
        await stage.staff.answer("", seq)
        stage.say("Monday 09:00: the weekly summary arrives in the staff chat by itself")

    async def _drained(self) -> None:
        await outbox_settled(self.stage)

    async def _respond_to_new_asks(self) -> None:
        stage = self.stage
        async with stage.sessions() as session:
            rows = await progress.sent_asks_after(session=session)
        for ask in rows:
            if ask.id in self.seen:
                continue
            self.seen.add(ask.id)
            stage.counts["asks_sent"] += 1
            arm = stage.campaigns[ask.campaign].arms[ask.arm]
            private_chat, message_id = ask.chat_id, ask.telegram_message_id
            if arm.via == GROUP_REPLY and ask.step == "ask":
                stage.counts["public_asks"] += 1
                opened = await self._open_public_ask(ask.telegram_user_id, ask.token)
                if opened is None:
                    continue
                private_chat, message_id = opened
            language = stage.languages.get(private_chat)
            if language is None:
                continue  # not a simulated person
            response = respond(
                stage.model,
                seed=stage.seed,
                supporter_id=private_chat,
                arm_kind=arm.kind,
                step=ask.step,
                language=language,
            )
            if response.reply is not None:
                await stage.sandbox.client.send_text(
                    private_chat, response.reply, reply_to_message_id=message_id
                )
                key = "opt_outs" if response.opt_out else "replies"
                stage.counts[key] += 1
                self.questions_sent += "?" in response.reply
            if response.click:
                await self.click(ask.token)
            if response.gift_minor is not None:
                await self.give(ask.token, response.gift_minor, f"demo-{ask.id}")

    async def _open_public_ask(self, user: int | None, token: str) -> tuple[int, int] | None:
        """The member mentioned in a public reply may open its button, as Telegram would: /start
        with its payload. Return their private chat and the private ask's message, if opened."""
        stage, client = self.stage, self.stage.sandbox.client
        if user is None or user not in stage.languages:
            return None
        if not opens_public_ask(stage.model, seed=stage.seed, supporter_id=user):
            return None
        before = len(await client.sent(user, accepted_only=True))
        await client.start(user, ask_payload(token))
        link = f"/r/{token}"

        async def private_ask() -> dict[str, Any] | None:
            later = (await client.sent(user, accepted_only=True))[before:]
            return next((e for e in later if link in json.dumps(e)), None)

        entry = await wait_until(private_ask, "the bot to send an opened public ask privately")
        stage.counts["public_opened"] += 1
        return user, int(entry["message_id"])

    async def click(self, token: str, agent: str = BROWSER) -> None:
        """Open a tracked link as a supporter's browser would."""
        answer = await self.stage.web.get(f"/r/{token}", headers={"User-Agent": agent})
        if answer.status_code != 302:
            raise RuntimeError(f"tracked link /r/{token} answered {answer.status_code}")
        self.stage.counts["clicks"] += 1

    async def give(
        self,
        reference: str | None,
        amount: int,
        event: str,
        telegram_user_id: int | None = None,
    ) -> None:
        """Send a gift to the bot's signed donation webhook, as the payment provider would."""
        gift: dict[str, Any] = {
            "id": event,
            "amount": amount,
            "currency": "EUR",
            "donated_at": (self.stage.clock() + timedelta(minutes=5)).isoformat(),
        }
        if reference:
            gift["reference"] = reference
        if telegram_user_id is not None:
            gift["donor"] = {"telegram_user_id": telegram_user_id}
        body = json.dumps(gift).encode()
        signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = await self.stage.web.post(
            "/donations/webhook",
            content=body,
            headers={"Content-Type": "application/json", "X-Signature": f"sha256={signature}"},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"donation webhook answered {answer.status_code}: {answer.text}")
        self.stage.counts["gifts"] += 1

    async def _channel_readers(self) -> None:
        stage = self.stage
        async with stage.sessions() as session:
            posts = await progress.posted_broadcasts(session=session)
        post = posts[0] if posts else None
        if post is None or stage.counts["channel_clicks"]:
            return
        readers = round(CHANNEL_MEMBERS * stage.model.channel_clicks_per_member)
        for reader in range(readers):
            # Readers come one at a time over the afternoon, so none is merged with another.
            stage.clock.now += timedelta(minutes=2)
            await self.click(post.token, agent=f"{BROWSER} reader {reader}")
            stage.counts["channel_clicks"] += 1
            if stage.rng.random() < 0.2:
                amount = stage.rng.choice(stage.model.gift_amounts_minor)
                await self.give(post.token, amount, f"demo-post-{reader}")

    async def _holdout_gifts(self) -> None:
        stage = self.stage
        holdouts = [name for name, arm in stage.campaign.arms.items() if arm.kind == "holdout"]
        if not holdouts:
            return
        async with stage.sessions() as session:
            rows = await progress.holdout_members(session=session, arms=holdouts)
        for ask_id, telegram_user_id in rows:
            amount = holdout_gift(stage.model, seed=stage.seed, supporter_id=ask_id)
            if amount is not None:
                # A gift without a token: the report credits it to the holdout by supporter.
                await self.give(None, amount, f"demo-holdout-{ask_id}", telegram_user_id)

    async def _staff_answers_a_reply(self) -> bool:
        """Answer the first relayed question, once the bot knows whose it is; wait for delivery.

        Waiting both ways keeps the answer in the same simulated hour on every run.
        """
        client = self.stage.sandbox.client
        relays = [
            entry
            for entry in await client.sent(STAFF_CHAT_ID, accepted_only=True)
            if (entry.get("text") or "").startswith("💬") and "?" in entry["text"]
        ]
        if not relays:
            return False
        relay = int(relays[0]["message_id"])

        async def asker() -> int | None:
            async with self.stage.sessions() as session:
                reply = await reply_by_relay(session=session, relay_message_id=relay)
                if reply is None or reply.supporter_id is None:
                    return None
                supporter = await session.get(Supporter, reply.supporter_id)
                return supporter.telegram_user_id if supporter is not None else None

        user = await wait_until(asker, "the bot to store the relay of a question")
        before = len(await client.sent(user, accepted_only=True))
        answer = (
            "Great question! Every euro goes to heating and opening hours this winter. "
            "Thank you for asking."
        )
        await self.stage.staff.says(answer, reply_to=relay)

        async def delivered() -> bool:
            later = (await client.sent(user, accepted_only=True))[before:]
            # Not just any message: a thank-you for their gift may be on its way too.
            return any("Every euro goes" in (entry.get("text") or "") for entry in later)

        await wait_until(delivered, "the staff's answer to reach the supporter")
        return True


async def the_week(stage: Stage) -> None:
    """Run the campaign's week, from the first asks to Monday's summary."""
    await Week(stage).run()
