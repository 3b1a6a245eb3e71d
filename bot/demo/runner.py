"""Run the museum campaign end to end against the local sandbox, on an accelerated clock.

The run sets up the world (imported supporters, the staff chat, the channel and its
discussion group), starts the bot, and plays SCENES in order; each scene is an
`async def scene(stage)` in its own module, so a new part of the story is one more entry.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import running_bot
from bot.config import Settings
from bot.demo import staff
from bot.demo.behaviour import BehaviourModel
from bot.demo.community import Community
from bot.demo.followers import bought_followers, value_lines
from bot.demo.population import SimulatedSupporter, make_population, write_csv_files
from bot.demo.referrals import friends_share
from bot.demo.stage import (
    CAMPAIGN,
    CHANNEL_ID,
    CHANNEL_MEMBERS,
    COMMUNITY_CAMPAIGN,
    LIVE_STARTS,
    STAFF_CHAT_ID,
    STAFF_ID,
    STAFF_NAME,
    WEEK_START,
    Progress,
    Scene,
    SimClock,
    StaffChat,
    Stage,
    demo_settings,
)
from bot.demo.week import the_week
from bot.net import free_port
from bot.sandbox import DEFAULT_TOKEN, Sandbox, run_sandbox
from bot.sandbox.chats import User
from bot.services.importer import import_csv
from bot.services.registry import CampaignRegistry
from bot.services.supporters import upsert_started_supporter
from bot.storage import community_rollup
from bot.storage.db import open_database
from bot.storage.migrate import upgrade
from bot.storage.supporters import refresh_supporter_scores

__all__ = ["CAMPAIGN", "COMMUNITY_CAMPAIGN", "Demo", "DemoResult"]


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
    # Plain sentences the scenes found worth saying (also at the end of report.txt).
    findings: list[str] = field(default_factory=list)
    # What the community report's value by way in shows, in plain lines (also printed).
    community_report: list[str] = field(default_factory=list)
    # Every campaign's report as JSON, by name.
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)


async def live_starts(stage: Stage) -> None:
    """Some supporters start the bot live from the exhibition's QR code."""
    client = stage.sandbox.client
    for person in stage.people[:LIVE_STARTS]:
        await client.start(person.telegram_user_id, "expo-winter")
    for person in stage.people[:LIVE_STARTS]:
        await client.wait_sent(person.telegram_user_id, 1, within=10)
    stage.say(f"{LIVE_STARTS} supporters start the bot live from the exhibition QR code")


class Demo:
    """One run of the demo: the world, the bot, and the simulated people's behaviour."""

    def __init__(self, *, supporters: int, seed: int, out: Path, progress: Progress) -> None:
        self.count = supporters
        self.seed = seed
        self.out = out
        self.say = progress
        self.clock = SimClock()
        self.people: list[SimulatedSupporter] = []
        self.community = Community(seed)

    def scenes(self) -> list[Scene]:
        """Return the story's scenes in order."""
        return [
            live_starts,
            self.community.listen,
            bought_followers,
            staff.launch_community_ask,
            staff.launch,
            the_week,
            friends_share,
            staff.answers_from_the_desk,
            self.community.finding,
            staff.report,
        ]

    async def run(self, campaigns_dir: Path) -> DemoResult:
        """Run the whole story and write the outputs."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "demo.db").unlink(missing_ok=True)
        # Messages carry the simulated time, so what the bot records does not depend on when
        # the demo runs.
        async with run_sandbox(token=DEFAULT_TOKEN, wall_clock=self.clock.unix) as sandbox:
            web_port = free_port()
            database_url = f"sqlite+aiosqlite:///{self.out / 'demo.db'}"
            settings = demo_settings(database_url, sandbox, web_port)
            settings = settings.model_copy(update={"campaigns_dir": campaigns_dir})
            await asyncio.to_thread(upgrade, settings.database_url)
            # Staff chat and channel let a week of relays and the post fit into a minute of
            # real time; Telegram's per-message limits (30/s, 1/s per chat) still apply.
            await sandbox.client.set_limits(enabled=True, per_group_per_min=100_000)
            async with open_database(settings.database_url) as sessions:
                await self._load_people(sessions, settings)
                await self._setup_telegram(sandbox, sessions, settings)
                registry = CampaignRegistry(campaigns_dir)
                errors = registry.reload()
                campaign = registry.get(CAMPAIGN)
                missing = [n for n in (CAMPAIGN, COMMUNITY_CAMPAIGN) if registry.get(n) is None]
                if errors or missing or campaign is None:
                    raise RuntimeError(
                        "; ".join(str(e) for e in errors) or f"no {', '.join(missing)}"
                    )
                async with (
                    running_bot(settings, sessions, registry=registry, clock=self.clock) as bot,
                    httpx.AsyncClient(base_url=settings.public_base_url, timeout=30) as web,
                ):
                    stage = Stage(
                        seed=self.seed,
                        say=self.say,
                        clock=self.clock,
                        model=BehaviourModel(),
                        people=self.people,
                        sandbox=sandbox,
                        bot=bot,
                        sessions=sessions,
                        web=web,
                        settings=settings,
                        campaign=campaign,
                        staff=StaffChat(sandbox, self.clock),
                        campaigns=dict(registry.campaigns),
                    )
                    stage.rng.seed(self.seed)
                    for scene in self.scenes():
                        await scene(stage)
                return await self._write_outputs(stage, registry)

    async def _load_people(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        self.people = make_population(self.count, self.seed, WEEK_START.replace(tzinfo=None))
        paths = write_csv_files(self.people, self.out / "data")
        for kind in ("supporters", "interactions", "donations"):
            result = await import_csv(
                sessions, kind, paths[kind], now=self.clock(), zone=settings.timezone
            )
            if result.errors:
                raise RuntimeError(f"demo data did not import: {result.errors[0]}")
            self.say(f"imported {paths[kind].name}: {result.rows} rows")

    async def _setup_telegram(
        self, sandbox: Sandbox, sessions: async_sessionmaker[AsyncSession], settings: Settings
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
                        main_currency=settings.main_currency,
                        bulk=True,
                    )
                    started.append(supporter.id or 0)
            await community_rollup.rebuild(session=session, supporter_ids=started)
            await refresh_supporter_scores(
                session=session,
                now=self.clock(),
                supporter_ids=started,
                main_currency=settings.main_currency,
            )
        self.say(f"{len(self.people) - LIVE_STARTS} supporters had started the bot before")
        await self.community.set_up(sandbox, self.people)

    async def _write_outputs(self, stage: Stage, registry: CampaignRegistry) -> DemoResult:
        from bot.services.report_chat import report_chart
        from bot.services.report_format import format_text
        from bot.services.report_json import to_json
        from bot.services.report_page import format_html_page
        from bot.services.reporting import report_by_name

        reports = []
        for name in (CAMPAIGN, COMMUNITY_CAMPAIGN):
            found = await report_by_name(
                stage.sessions, name, now=self.clock(), specs=registry.campaigns
            )
            assert found is not None
            reports.append(found)
        report, community_ask = reports
        chart = report_chart(report)
        # The referrals section covers every campaign: shown once, after the second report.
        text = format_text(dataclasses.replace(report, referrals=()))
        text += "\n" + "=" * 78 + "\n\n" + format_text(community_ask)
        if stage.findings:
            text += "\nWhere the audience came from (demo)\n"
            text += "".join(f"  {line}\n" for line in stage.findings)
        files = {
            "report": self.out / "report.txt",
            "html": self.out / "report.html",
            "chart": self.out / "report.png",
            "community": self.out / "community-report.txt",
            "community_json": self.out / "community-report.json",
            "community_chart": self.out / "community-report.png",
            "transcript": self.out / "staff-chat.txt",
            "data": self.out / "data",
        }
        files["report"].write_text(text, encoding="utf-8")
        files["html"].write_text(format_html_page(report, chart), encoding="utf-8")
        files["chart"].write_bytes(chart)
        community_lines = await self._community_report(stage, files)
        files["transcript"].write_text(await stage.staff.transcript(), encoding="utf-8")
        return DemoResult(
            out=self.out,
            database_url=stage.settings.database_url,
            report_text=text,
            files=files,
            counts=dict(stage.counts),
            report=to_json(report),
            telegram_record=await stage.sandbox.client.sent(accepted_only=True),
            findings=list(stage.findings),
            community_report=community_lines,
            reports={
                name: to_json(r)
                for name, r in zip((CAMPAIGN, COMMUNITY_CAMPAIGN), reports, strict=True)
            },
        )

    async def _community_report(self, stage: Stage, files: dict[str, Path]) -> list[str]:
        """Write the community report as `campaign-bot community report` does; say what it shows.

        The files are what `community report --out --chart` and `--format json` write.
        """
        from bot.commands.community import Format, render_community_report

        currency = stage.settings.main_currency.upper()
        body, png, report = await render_community_report(
            stage.sessions, Format.text, now=self.clock(), currency=currency, chart=True
        )
        as_json, _, _ = await render_community_report(
            stage.sessions, Format.json, now=self.clock(), currency=currency, chart=False
        )
        files["community"].write_text(body, encoding="utf-8")
        files["community_json"].write_text(as_json, encoding="utf-8")
        assert png is not None
        files["community_chart"].write_bytes(png)
        lines = value_lines(report.sources)
        for line in lines:
            self.say(f"community report, value by way in: {line}")
        return lines
