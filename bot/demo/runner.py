"""Run the museum campaign end to end against the local sandbox, on an accelerated clock."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import BotRuntime, running_bot
from bot.config import Settings, load_settings
from bot.demo.behaviour import REPLIES, BehaviourModel, holdout_gift, respond
from bot.demo.population import SimulatedSupporter, make_population, write_csv_files
from bot.domain.spec import Campaign
from bot.net import free_port
from bot.sandbox import DEFAULT_TOKEN, Sandbox, run_sandbox
from bot.sandbox.chats import User
from bot.services.importer import import_csv
from bot.services.registry import CampaignRegistry
from bot.services.supporters import upsert_started_supporter
from bot.storage import progress
from bot.storage.db import open_database
from bot.storage.migrate import upgrade
from bot.storage.models import Ask, Supporter
from bot.storage.supporters import refresh_supporter_scores

T = TypeVar("T")
CAMPAIGN = "museum-winter-appeal"
STAFF_ID = 900_001
STAFF_NAME = "Marieke"
STAFF_CHAT_ID = -100_900_001
CHANNEL_ID = -100_900_002
CHANNEL_MEMBERS = 1_200
LIVE_STARTS = 20
# The simulated week: Monday 30 November 2026, 09:00 in Amsterdam, to the next Monday's summary.
WEEK_START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
WEEK_END = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
STEP = timedelta(hours=1)
WEBHOOK_SECRET = "demo-webhook-secret"
BROWSER = "Mozilla/5.0 (demo supporter)"


@dataclass
class SimClock:
    """The demo's clock: a simulated week that advances only when the demo says so."""

    now: datetime = WEEK_START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class DemoResult:
    """Where the demo wrote its outputs and what it counted along the way."""

    out: Path
    database_url: str
    report_text: str
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    # The report as JSON, and every message the sandbox accepted from the bot, for checking.
    report: dict[str, Any] = field(default_factory=dict)
    telegram_record: list[dict[str, Any]] = field(default_factory=list)


Progress = Callable[[str], None]


async def wait_until(check: Callable[[], Awaitable[T | None]], what: str, limit: float = 30) -> T:
    """Wait for the running bot to reach a state, failing loudly if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise RuntimeError(f"the demo waited {limit:.0f}s for {what}; something is stuck")
        await asyncio.sleep(0.02)


def demo_settings(out: Path, sandbox: Sandbox, web_port: int) -> Settings:
    """Return the demo's settings: sandbox, fresh SQLite, paid-broadcast pace, signed webhook."""
    return load_settings(
        {
            "telegram_bot_token": sandbox.token,
            "telegram_base_url": sandbox.bot_base_url,
            "database_url": f"sqlite+aiosqlite:///{out / 'demo.db'}",
            "staff_user_ids": str(STAFF_ID),
            "staff_chat_id": STAFF_CHAT_ID,
            "web_port": web_port,
            "public_base_url": f"http://127.0.0.1:{web_port}",
            "donation_webhook_secret": WEBHOOK_SECRET,
            "paid_broadcast": True,
            "timezone": "Europe/Amsterdam",
            "weekly_summary_cron": "mon 09:00",
            "log_level": "WARNING",
        },
        env_file=None,
    )


class Demo:
    """One run of the demo: the world, the bot, and the simulated supporters' behaviour."""

    def __init__(self, *, supporters: int, seed: int, out: Path, progress: Progress) -> None:
        self.count = supporters
        self.seed = seed
        self.out = out
        self.say = progress
        self.model = BehaviourModel()
        self.clock = SimClock()
        self.rng = random.Random(seed)
        self.people: list[SimulatedSupporter] = []
        self.by_telegram: dict[int, SimulatedSupporter] = {}
        self.counts: dict[str, int] = dict.fromkeys(
            ("asks_sent", "replies", "opt_outs", "clicks", "gifts", "channel_clicks"), 0
        )
        self.last_ask_id = 0
        # What staff typed, with the sandbox's record position at that moment, for the transcript.
        self.staff_log: list[tuple[int, datetime, str]] = []
        self.campaign: Campaign | None = None

    async def run(self, campaigns_dir: Path) -> DemoResult:
        """Run the whole week and write the outputs."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "demo.db").unlink(missing_ok=True)
        async with run_sandbox(token=DEFAULT_TOKEN) as sandbox:
            web_port = free_port()
            settings = demo_settings(self.out, sandbox, web_port)
            settings = settings.model_copy(update={"campaigns_dir": campaigns_dir})
            await asyncio.to_thread(upgrade, settings.database_url)
            # Staff chat and channel let a week of relays and the post fit into a minute of
            # real time; Telegram's per-message limits (30/s, 1/s per chat) still apply.
            await sandbox.client.set_limits(enabled=True, per_group_per_min=100_000)
            async with open_database(settings.database_url) as sessions:
                await self._load_people(sessions, settings)
                await self._setup_telegram(sandbox, sessions)
                registry = CampaignRegistry(campaigns_dir)
                errors = registry.reload()
                self.campaign = registry.get(CAMPAIGN)
                if errors or self.campaign is None:
                    raise RuntimeError("; ".join(str(e) for e in errors) or f"no {CAMPAIGN}")
                async with (
                    running_bot(settings, sessions, registry=registry, clock=self.clock) as bot,
                    httpx.AsyncClient(base_url=settings.public_base_url, timeout=30) as web,
                ):
                    await self._live_starts(sandbox)
                    await self._staff_launch(sandbox)
                    await self._week(sandbox, bot, sessions, web)
                    await self._staff_uses_the_desk(sandbox, sessions)
                    await self._staff_report(sandbox)
                return await self._write_outputs(sandbox, sessions, settings, registry)

    async def _load_people(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        self.people = make_population(self.count, self.seed, WEEK_START.replace(tzinfo=None))
        self.by_telegram = {p.telegram_user_id: p for p in self.people}
        paths = write_csv_files(self.people, self.out / "data")
        for kind in ("supporters", "interactions", "donations"):
            result = await import_csv(
                sessions, kind, paths[kind], now=self.clock(), zone=settings.timezone
            )
            if result.errors:
                raise RuntimeError(f"demo data did not import: {result.errors[0]}")
            self.say(f"imported {paths[kind].name}: {result.rows} rows")

    async def _setup_telegram(
        self, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        state = sandbox.state
        state.add_user(User(STAFF_ID, STAFF_NAME, "Staff", "marieke_staff", "en", started=True))
        await sandbox.client.add_chat(STAFF_CHAT_ID, "supergroup", "Harbour Museum staff")
        await sandbox.client.add_chat(
            CHANNEL_ID, "channel", "Harbour Museum", "harbourmuseum", CHANNEL_MEMBERS
        )
        live = {p.telegram_user_id for p in self.people[:LIVE_STARTS]}
        # Everyone else started the bot before the demo begins (at the museum, from a QR code):
        # the sandbox knows them as started, and the database records their /start the way the
        # bot's own /start handler does.
        started: list[int] = []
        async with sessions() as session, session.begin():
            for person in self.people:
                state.add_user(
                    User(
                        person.telegram_user_id,
                        person.first_name,
                        person.last_name,
                        person.username,
                        person.language,
                        started=person.telegram_user_id not in live,
                    )
                )
                if person.telegram_user_id not in live:
                    supporter = await upsert_started_supporter(
                        session,
                        telegram_user=state.user(person.telegram_user_id),
                        payload=person.source,
                        now=self.clock() - timedelta(days=7),
                        refresh_scores=False,
                    )
                    started.append(supporter.id or 0)
            await refresh_supporter_scores(
                session=session, now=self.clock(), supporter_ids=started
            )
        self.say(f"{len(self.people) - LIVE_STARTS} supporters had started the bot before")

    async def _live_starts(self, sandbox: Sandbox) -> None:
        for person in self.people[:LIVE_STARTS]:
            await sandbox.client.start(person.telegram_user_id, "expo-winter")
        for person in self.people[:LIVE_STARTS]:
            await sandbox.client.wait_sent(person.telegram_user_id, 1, within=10)
        self.say(f"{LIVE_STARTS} supporters start the bot live from the exhibition QR code")

    async def _staff_says(self, sandbox: Sandbox, text: str, reply_to: int | None = None) -> None:
        self.staff_log.append((await self._last_seq(sandbox), self.clock(), text))
        await sandbox.client.send_text(
            STAFF_ID, text, reply_to_message_id=reply_to, chat_id=STAFF_CHAT_ID
        )

    async def _bot_answer(self, sandbox: Sandbox, contains: str, after: int) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            for entry in await sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
                text = entry.get("text") or entry.get("caption") or ""
                if entry["seq"] > after and contains in text:
                    return entry
            return None

        return await wait_until(check, f"the bot to say {contains!r} in the staff chat")

    async def _last_seq(self, sandbox: Sandbox) -> int:
        sent = await sandbox.client.sent(STAFF_CHAT_ID)
        return int(sent[-1]["seq"]) if sent else 0

    async def _staff_launch(self, sandbox: Sandbox) -> None:
        seq = await self._last_seq(sandbox)
        await self._staff_says(sandbox, f"/preview {CAMPAIGN}")
        await self._bot_answer(sandbox, "Preview", seq)
        seq = await self._last_seq(sandbox)
        await self._staff_says(sandbox, f"/launch {CAMPAIGN}")
        question = await self._bot_answer(sandbox, "Launch", seq)
        await sandbox.client.press(
            STAFF_ID, question["message_id"], f"launch:{CAMPAIGN}", STAFF_CHAT_ID
        )
        answer = await self._bot_answer(sandbox, "queued", question["seq"])
        self.say("staff: /launch confirmed -> " + _plain(answer.get("text", "")).splitlines()[0])

    async def _week(
        self,
        sandbox: Sandbox,
        bot: BotRuntime,
        sessions: async_sessionmaker[AsyncSession],
        web: httpx.AsyncClient,
    ) -> None:
        delivery = bot.delivery
        assert delivery is not None
        relayed_answered = False
        while self.clock.now < WEEK_END:
            self.clock.now += STEP
            await delivery.scheduler.follow_ups()
            await delivery.scheduler.posts()
            bot.services.wake_outbox()
            await self._drained(sessions)
            await self._respond_to_new_asks(sandbox, sessions, web)
            await self._channel_readers(sessions, web)
            if not relayed_answered:
                relayed_answered = await self._staff_answers_a_reply(sandbox)
            if self.clock.now.hour == 12:
                self.say(
                    f"{self.clock.now:%a %d %b}: {self.counts['asks_sent']} asks delivered, "
                    f"{self.counts['replies']} replies, {self.counts['clicks']} clicks, "
                    f"{self.counts['gifts']} gifts"
                )
        await self._holdout_gifts(sessions, web)
        self.clock.now = WEEK_END + timedelta(minutes=31)
        seq = await self._last_seq(sandbox)
        await delivery.scheduler.weekly()
        await self._bot_answer(sandbox, "", seq)
        self.say("Monday 09:00: the weekly summary arrives in the staff chat by itself")

    async def _drained(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        now = self.clock()

        async def check() -> bool:
            async with sessions() as session:
                return await progress.count_due_unsent(session=session, now=now) == 0

        await wait_until(check, "the outbox to send every ask due")

    async def _respond_to_new_asks(
        self,
        sandbox: Sandbox,
        sessions: async_sessionmaker[AsyncSession],
        web: httpx.AsyncClient,
    ) -> None:
        async with sessions() as session:
            rows = await progress.sent_asks_after(session=session, after_id=self.last_ask_id)
        spec = self.campaign
        for ask_id, token, arm, step, chat_id, message_id in rows:
            self.last_ask_id = max(self.last_ask_id, ask_id)
            self.counts["asks_sent"] += 1
            person = self.by_telegram.get(chat_id)
            if person is None or spec is None:
                continue
            kind = spec.arms[arm].kind
            response = respond(
                self.model,
                seed=self.seed,
                supporter_id=person.telegram_user_id,
                arm_kind=kind,
                step=step,
                language=person.language,
            )
            if response.reply is not None:
                await sandbox.client.send_text(
                    person.telegram_user_id, response.reply, reply_to_message_id=message_id
                )
                key = "opt_outs" if response.opt_out else "replies"
                self.counts[key] += 1
            if response.click:
                await self._click(web, token)
            if response.gift_minor is not None:
                await self._give(web, token, response.gift_minor, f"demo-{ask_id}")

    async def _click(self, web: httpx.AsyncClient, token: str, agent: str = BROWSER) -> None:
        answer = await web.get(f"/r/{token}", headers={"User-Agent": agent})
        if answer.status_code != 302:
            raise RuntimeError(f"tracked link /r/{token} answered {answer.status_code}")
        self.counts["clicks"] += 1

    async def _give(
        self,
        web: httpx.AsyncClient,
        reference: str | None,
        amount: int,
        event: str,
        telegram_user_id: int | None = None,
    ) -> None:
        gift: dict[str, Any] = {
            "id": event,
            "amount": amount,
            "currency": "EUR",
            "donated_at": (self.clock() + timedelta(minutes=5)).isoformat(),
        }
        if reference:
            gift["reference"] = reference
        if telegram_user_id is not None:
            gift["donor"] = {"telegram_user_id": telegram_user_id}
        body = json.dumps(gift).encode()
        signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        answer = await web.post(
            "/donations/webhook",
            content=body,
            headers={"Content-Type": "application/json", "X-Signature": f"sha256={signature}"},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"donation webhook answered {answer.status_code}: {answer.text}")
        self.counts["gifts"] += 1

    async def _channel_readers(
        self, sessions: async_sessionmaker[AsyncSession], web: httpx.AsyncClient
    ) -> None:
        async with sessions() as session:
            posts = await progress.posted_broadcasts(session=session)
        post = posts[0] if posts else None
        if post is None or self.counts["channel_clicks"]:
            return
        readers = round(CHANNEL_MEMBERS * self.model.channel_clicks_per_member)
        for reader in range(readers):
            # Readers come one at a time over the afternoon, so none is merged with another.
            self.clock.now += timedelta(minutes=2)
            await self._click(web, post.token, agent=f"{BROWSER} reader {reader}")
            self.counts["channel_clicks"] += 1
            if self.rng.random() < 0.2:
                amount = self.rng.choice(self.model.gift_amounts_minor)
                await self._give(web, post.token, amount, f"demo-post-{reader}")

    async def _holdout_gifts(
        self, sessions: async_sessionmaker[AsyncSession], web: httpx.AsyncClient
    ) -> None:
        spec = self.campaign
        if spec is None:
            return
        holdouts = [name for name, arm in spec.arms.items() if arm.kind == "holdout"]
        if not holdouts:
            return
        async with sessions() as session:
            rows = await progress.holdout_members(session=session, arms=holdouts)
        for ask_id, telegram_user_id in rows:
            amount = holdout_gift(self.model, seed=self.seed, supporter_id=ask_id)
            if amount is not None:
                # A gift without a token: the report credits it to the holdout by supporter.
                await self._give(web, None, amount, f"demo-holdout-{ask_id}", telegram_user_id)

    async def _staff_answers_a_reply(self, sandbox: Sandbox) -> bool:
        for entry in await sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
            text = entry.get("text") or ""
            if text.startswith("💬") and "?" in text:
                answer = (
                    "Great question! Every euro goes to heating and opening hours this winter. "
                    "Thank you for asking."
                )
                await self._staff_says(sandbox, answer, reply_to=entry["message_id"])
                return True
        return False

    async def _staff_uses_the_desk(
        self, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        """A supporter outside the campaign asks a question; staff answer it from the desk.

        Someone who was never asked, so the campaign's report is the same with or without it.
        """
        async with sessions() as session:
            asked = set(
                (
                    await session.execute(
                        select(Supporter.telegram_user_id).join(  # type: ignore[call-overload]
                            Ask, Ask.supporter_id == Supporter.id
                        )
                    )
                ).scalars()
            )
        others = [p for p in self.people if p.telegram_user_id not in asked]
        if not others:
            return
        person = next((p for p in others if p.language == "nl"), others[0])
        question = REPLIES.get(person.language, REPLIES["en"])[1]
        seq = await self._last_seq(sandbox)
        await sandbox.client.send_text(person.telegram_user_id, question)
        relay = await self._bot_answer(sandbox, escape(question, quote=False), seq)
        seq = await self._last_seq(sandbox)
        await self._staff_says(sandbox, "/inbox")
        await self._bot_answer(sandbox, "Inbox", seq)
        saved = [(label, data) for label, data in _buttons(relay) if data.startswith("desk:k:")]
        if not saved:
            return
        label, data = saved[0]
        seq = await self._last_seq(sandbox)
        who = person.first_name
        self.staff_log.append((seq, self.clock(), f"[presses {label} under {who}'s message]"))
        await sandbox.client.press(STAFF_ID, relay["message_id"], data, STAFF_CHAT_ID)
        await self._bot_answer(sandbox, "✓ Sent to", seq)
        self.say(f"staff: /inbox, then the saved answer {label} to {who} ({person.language})")

    async def _staff_report(self, sandbox: Sandbox) -> None:
        seq = await self._last_seq(sandbox)
        await self._staff_says(sandbox, f"/report {CAMPAIGN}")
        await self._bot_answer(sandbox, "", seq)
        self.say("staff: /report -> text and chart in the staff chat")

    async def _write_outputs(
        self,
        sandbox: Sandbox,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        registry: CampaignRegistry,
    ) -> DemoResult:
        from bot.services.report_chat import report_chart
        from bot.services.report_format import format_text
        from bot.services.report_json import to_json
        from bot.services.report_page import format_html_page
        from bot.services.reporting import report_by_name

        report = await report_by_name(
            sessions, CAMPAIGN, now=self.clock(), specs=registry.campaigns
        )
        assert report is not None
        chart = report_chart(report)
        text = format_text(report)
        files = {
            "report": self.out / "report.txt",
            "html": self.out / "report.html",
            "chart": self.out / "report.png",
            "transcript": self.out / "staff-chat.txt",
            "data": self.out / "data",
        }
        files["report"].write_text(text, encoding="utf-8")
        files["html"].write_text(format_html_page(report, chart), encoding="utf-8")
        files["chart"].write_bytes(chart)
        files["transcript"].write_text(await self._transcript(sandbox), encoding="utf-8")
        return DemoResult(
            out=self.out,
            database_url=settings.database_url,
            report_text=text,
            files=files,
            counts=dict(self.counts),
            report=to_json(report),
            telegram_record=await sandbox.client.sent(accepted_only=True),
        )

    async def _transcript(self, sandbox: Sandbox) -> str:
        events: list[tuple[float, str]] = []
        for entry in await sandbox.client.sent(STAFF_CHAT_ID, accepted_only=True):
            body = _plain(entry.get("text") or entry.get("caption") or "")
            if entry.get("method") == "sendPhoto":
                body = "[chart] " + body
            labels = [label for label, _ in _buttons(entry)]
            if not body:
                continue  # a keyboard changed under an earlier message
            if labels:
                body += "\n[" + " | ".join(labels) + "]"
            events.append((float(entry["seq"]), f"bot:\n{body}"))
        for seq, when, text in self.staff_log:
            events.append((seq + 0.5, f"{STAFF_NAME} ({when:%a %d %b %H:%M} UTC):\n{text}"))
        header = "Staff chat, simulated week (the bot's HTML shown as plain text)\n\n"
        return header + "\n\n".join(text for _, text in sorted(events)) + "\n"


def _buttons(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (label, callback data) of a sent message's inline buttons."""
    rows = (entry.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def _plain(html: str) -> str:
    """Strip Telegram HTML tags for the transcript."""
    import re
    from html import unescape

    return unescape(re.sub(r"<[^>]+>", "", html))
