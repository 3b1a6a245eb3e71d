"""Named sources: the names allowed, /source and /sources, the CLI, and what a visit records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings, SettingsError, load_settings
from bot.sandbox import Sandbox
from bot.sandbox.chats import BOT_USERNAME
from bot.services.sources import (
    SourceRefused,
    check_request,
    create_source,
    list_sources,
    parse_source_args,
    record_source_visit,
)
from bot.services.supporters import upsert_started_supporter
from bot.storage.db import create_all, make_engine, session_maker
from bot.storage.models import AuditEntry, Interaction, NamedSource, Supporter
from bot.telegram.sender import TelegramSender
from tests.botharness import STAFF_CHAT_ID, BotHarness, bot_harness
from tests.factories import add_interaction, add_supporter

GROUP = -1001000000042
IN_GROUP = {"community_chat_ids": str(GROUP)}
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
EXPO_LINK = f"https://t.me/{BOT_USERNAME}?start=expo-ships"


def _qr_size(link: str) -> tuple[int, int]:
    """Return the pixel size of the poster QR code the bot draws for a link."""
    return segno.make_qr(link, error="m").symbol_size(scale=10, border=4)


async def _history(bot: BotHarness, user_id: int) -> list[tuple[str, str | None, str | None]]:
    (supporter,) = await bot.rows(Supporter, Supporter.telegram_user_id == user_id)
    rows = await bot.rows(Interaction, Interaction.supporter_id == supporter.id)
    return sorted((row.kind, row.detail, row.source) for row in rows)


# --- names, kinds and details ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["expo-ships"],
        ["Expo_2026-winter", "visited_exhibition"],
        ["x" * 64, "visited_exhibition", "Ships", "in", "Bottles"],
    ],
)
def test_a_deep_link_safe_name_with_a_kind_and_detail_is_accepted(args: list[str]) -> None:
    request = parse_source_args(args)
    assert request.name == args[0]
    assert request.kind == (args[1] if len(args) > 1 else None)
    assert request.detail == (" ".join(args[2:]) or None)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ([], "Usage: /source NAME"),
        (["expo/ships"], "cannot be a source name: use 1-64 of A-Z a-z 0-9 _ -"),
        (["expo ships"], "cannot be a source name"),
        (["tentoonstelling-één"], "cannot be a source name"),
        (["x" * 65], "cannot be a source name"),
        (["expo", "Visited Exhibition"], "cannot be an interaction kind"),
        (["expo", "joined"], "every visit records 'joined' already"),
        (["expo", "start"], "every visit records 'start' already"),
        (["expo", "visited", "x" * 501], "at most 500"),
    ],
)
def test_a_bad_name_kind_or_detail_is_refused_saying_why(args: list[str], problem: str) -> None:
    with pytest.raises(SourceRefused) as refused:
        parse_source_args(args)
    assert problem in str(refused.value)


def test_a_detail_without_a_kind_is_refused() -> None:
    with pytest.raises(SourceRefused, match="a detail needs a kind"):
        check_request("expo", None, "Ships in Bottles")


# --- staff in chat ----------------------------------------------------------------------------


async def test_staff_make_a_source_and_get_its_qr_code_and_invite_link(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, settings=IN_GROUP) as bot:
        await bot.client.add_chat(GROUP, "supergroup", "Friends of the Harbour Museum")
        await bot.staff_says("/source expo-ships visited_exhibition Ships in Bottles")
        photo = await bot.next_message(STAFF_CHAT_ID, EXPO_LINK, method="sendPhoto")
        drawn = photo["photo"]
        assert (drawn["width"], drawn["height"]) == _qr_size(EXPO_LINK)
        assert "records visited_exhibition: Ships in Bottles" in photo["caption"]
        (link,) = await bot.client.invite_links()
        assert link["name"] == "expo-ships" and link["chat_id"] == GROUP
        assert f"Invite link to chat {GROUP}: {link['invite_link']}" in photo["caption"]
        (row,) = await bot.rows(NamedSource)
        assert (row.name, row.kind, row.detail, row.chat_id, row.invite_link) == (
            "expo-ships",
            "visited_exhibition",
            "Ships in Bottles",
            GROUP,
            link["invite_link"],
        )

        # Asking again shows the same source; no second invite link is made.
        await bot.staff_says("/source expo-ships visited_exhibition Ships in Bottles")
        again = await bot.next_message(STAFF_CHAT_ID, "already existed", method="sendPhoto")
        assert link["invite_link"] in again["caption"]
        assert len(await bot.client.invite_links()) == 1
        taken = await bot.staff_command(
            "/source expo-ships visited_exhibition Trains", "No source"
        )
        assert "already exists (visited_exhibition 'Ships in Bottles'" in taken["text"]
        assert len(await bot.rows(NamedSource)) == 1


async def test_staff_are_told_why_a_source_is_not_made(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        bad = await bot.staff_command("/source expo/ships", "No source made")
        assert "cannot be a source name: use 1-64 of A-Z a-z 0-9 _ -" in bad["text"]
        usage = await bot.staff_command("/source", "No source made")
        assert "Usage: /source NAME [KIND [DETAIL...]]" in usage["text"]
        # Without a community chat there is no invite link, and a long name is fine.
        name = "winter-expo-poster-at-the-entrance-hall-2026"
        await bot.staff_says(f"/source {name}")
        photo = await bot.next_message(STAFF_CHAT_ID, "No invite link", method="sendPhoto")
        assert f"https://t.me/{BOT_USERNAME}?start={name}" in photo["caption"]
        assert await bot.client.invite_links() == []
        assert [row.name for row in await bot.rows(NamedSource)] == [name]


async def test_only_staff_make_sources(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, settings=IN_GROUP) as bot:
        await bot.client.add_chat(GROUP, "supergroup", "Friends of the Harbour Museum")
        await bot.client.add_user(6666, "Mallory", username="mallory", started=True)
        await bot.client.send_text(6666, "/source expo-ships")
        refused = await bot.next_message(6666)
        assert "staff" in refused["text"]
        (entry,) = await bot.wait_rows(AuditEntry, AuditEntry.action == "source")
        assert (entry.actor_user_id, entry.allowed) == (6666, False)
        assert await bot.rows(NamedSource) == []
        assert await bot.client.invite_links() == []


def test_community_chat_ids_are_comma_separated_chat_ids() -> None:
    chats = load_settings({"community_chat_ids": "-1001, -1002,"}, env_file=None)
    assert chats.community_chat_ids == frozenset({-1001, -1002})
    with pytest.raises(SettingsError, match=r"COMMUNITY_CHAT_IDS: .*chat ids"):
        load_settings({"community_chat_ids": "-1001,museum"}, env_file=None)


async def test_a_chat_the_bot_cannot_invite_to_is_explained(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, settings=IN_GROUP) as bot:
        await bot.client.add_chat(GROUP, "supergroup", "Friends", bot_status="member")
        refused = await bot.staff_command("/source expo-ships", "No source made")
        assert "Telegram refused an invite link" in refused["text"]
        assert "administrator" in refused["text"]
        assert await bot.rows(NamedSource) == []
        long_name = await bot.staff_command(f"/source {'x' * 33}", "No source made")
        assert "at most 32" in long_name["text"]


async def test_starting_through_a_source_records_joined_and_its_kind_once(tmp_path: Path) -> None:
    async with bot_harness(tmp_path, settings=IN_GROUP) as bot:
        await bot.client.add_chat(GROUP, "supergroup", "Friends of the Harbour Museum")
        await bot.staff_says("/source expo-ships visited_exhibition Ships in Bottles")
        await bot.next_message(STAFF_CHAT_ID, EXPO_LINK, method="sendPhoto")

        await bot.supporter_starts(201, "Ann", payload="expo-ships", visited=None)
        await bot.client.start(201, "expo-ships")  # the poster again, a week later
        await bot.next_message(201, "Hello Ann")
        await bot.wait_rows(Interaction, Interaction.kind == "start", count=2)
        assert await _history(bot, 201) == [
            ("joined", "expo-ships", "telegram"),
            ("start", "expo-ships", "telegram"),
            ("start", "expo-ships", "telegram"),
            ("visited_exhibition", "Ships in Bottles", "source:expo-ships"),
        ]
        (ann,) = await bot.rows(Supporter, Supporter.telegram_user_id == 201)
        assert ann.consented_at is not None and ann.interaction_count == 4

        # A payload that names no source is recorded as before, and nothing more.
        await bot.supporter_starts(202, "Bram", payload="expo-jan", visited=None)
        assert await _history(bot, 202) == [("start", "expo-jan", "telegram")]
        (bram,) = await bot.rows(Supporter, Supporter.telegram_user_id == 202)
        assert bram.start_payload == "expo-jan" and bram.consented_at is not None

        listing = await bot.staff_command("/sources", "Named sources")
        assert "<code>expo-ships</code>: 1 started, 0 joined" in listing["text"]
        assert "expo-jan" not in listing["text"]


async def test_a_member_joining_through_the_posters_invite_link_gets_its_kind_once(
    tmp_path: Path,
) -> None:
    group = "Friends of the Harbour Museum"

    async def with_group(client: Any) -> None:
        await client.add_chat(GROUP, "supergroup", group)

    async with bot_harness(tmp_path, settings=IN_GROUP, before_start=with_group) as bot:
        await bot.staff_says("/source expo-ships visited_exhibition Ships in Bottles")
        await bot.next_message(STAFF_CHAT_ID, EXPO_LINK, method="sendPhoto")
        (link,) = await bot.client.invite_links()
        await bot.client.add_user(301, "Ann", username="ann")
        await bot.client.join(GROUP, 301, invite_link=link["invite_link"])
        await bot.wait_rows(Interaction, Interaction.kind == "visited_exhibition")
        assert await _history(bot, 301) == [
            ("joined", "expo-ships", group),
            ("visited_exhibition", "Ships in Bottles", "source:expo-ships"),
        ]
        listing = await bot.staff_command("/sources", "Named sources")
        assert "<code>expo-ships</code>: 0 started, 1 joined" in listing["text"]

        # Starting the bot from the poster later records the start, not the kind again.
        await bot.client.start(301, "expo-ships")
        await bot.next_message(301, "Hello Ann")
        await bot.wait_rows(Interaction, Interaction.kind == "start")
        assert await _history(bot, 301) == [
            ("joined", "expo-ships", group),
            ("joined", "expo-ships", "telegram"),
            ("start", "expo-ships", "telegram"),
            ("visited_exhibition", "Ships in Bottles", "source:expo-ships"),
        ]
        listing = await bot.staff_command("/sources", "Named sources")
        assert "<code>expo-ships</code>: 1 started, 1 joined" in listing["text"]


async def test_sources_says_when_there_are_none(tmp_path: Path) -> None:
    async with bot_harness(tmp_path) as bot:
        await bot.staff_command("/sources", "No named sources yet")


# --- the service contract (joins to the chat, as the community handler calls it) --------------


class _User:
    """The fields of a Telegram user that /start keeps."""

    def __init__(self, user_id: int) -> None:
        self.id, self.username, self.first_name = user_id, None, f"User {user_id}"
        self.last_name, self.language_code = None, "en"


@pytest.fixture
async def community_bot(sandbox: Sandbox, settings: Settings) -> AsyncIterator[TelegramSender]:
    """A bot that administers the community group, as the CLI builds it."""
    await sandbox.client.add_chat(GROUP, "supergroup", "Friends of the Harbour Museum")
    async with TelegramSender.from_settings(settings) as sender:
        yield sender


async def test_a_join_through_the_invite_link_adds_the_kind_once_per_supporter(
    sessions: async_sessionmaker[AsyncSession], community_bot: TelegramSender
) -> None:
    request = check_request("expo-ships", "visited_exhibition", "Ships in Bottles")
    made = await create_source(
        sessions, community_bot, request, community_chat_ids={GROUP}, now=NOW
    )
    assert (made.chat_id, made.deep_link) == (GROUP, EXPO_LINK)
    assert made.invite_link is not None and not made.existed
    async with sessions() as session, session.begin():
        # A member the community listener met in the group: known, not started, no consent.
        ann = (await add_supporter(session, reachable=False, telegram_user_id=301)).id
        assert ann is not None
        # What the community handler does on chat_member: record joined, then call us.
        await add_interaction(
            session, ann, "joined", NOW, detail="expo-ships", source=f"chat:{GROUP}"
        )
        first = await record_source_visit(
            session, ann, "expo-ships", NOW, chat_id=GROUP, main_currency="EUR"
        )
        again = await record_source_visit(
            session, ann, "expo-ships", NOW, chat_id=GROUP, main_currency="EUR"
        )
        elsewhere = await record_source_visit(
            session, ann, "expo-ships", NOW, chat_id=-100999, main_currency="EUR"
        )
        unknown = await record_source_visit(
            session, ann, "expo-trains", NOW, chat_id=GROUP, main_currency="EUR"
        )
        # She starts the bot from the poster later: joined through /start, not the kind again.
        later = NOW + timedelta(days=1)
        await upsert_started_supporter(
            session, telegram_user=_User(301), payload="expo-ships", now=later, main_currency="EUR"
        )
        started = await record_source_visit(
            session, ann, "expo-ships", later, started=True, main_currency="EUR"
        )
    assert (first, again, elsewhere, unknown, started) == (
        ["visited_exhibition"],
        [],
        [],
        [],
        ["joined"],
    )
    (tally,) = await list_sources(sessions)
    assert (tally.name, tally.starts, tally.joins) == ("expo-ships", 1, 1)
    async with sessions() as session:
        kinds = await _kinds(session, ann)
    assert kinds.count("visited_exhibition") == 1 and kinds.count("joined") == 2


async def _kinds(session: AsyncSession, supporter_id: int) -> list[str]:
    rows = await session.execute(
        select(Interaction.kind).where(Interaction.supporter_id == supporter_id)
    )
    return list(rows.scalars())


# --- the command line -------------------------------------------------------------------------


def _drawn_modules(png: Path, size: int, *, scale: int = 10, border: int = 4) -> list[list[int]]:
    """Read back which modules of a QR code PNG are dark, from each module's centre pixel."""
    image = Image.open(png).convert("L")
    assert image.size == ((size + 2 * border) * scale,) * 2
    middle = scale // 2
    return [
        [
            int(
                image.getpixel(((border + x) * scale + middle, (border + y) * scale + middle))
                < 128
            )
            for x in range(size)
        ]
        for y in range(size)
    ]


async def _cli(*args: str, env: dict[str, str]) -> Any:
    # The command runs its own event loop; the sandbox keeps answering on this one meanwhile.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def test_the_cli_adds_a_source_writes_its_qr_code_and_lists_it(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    await sandbox.client.add_chat(GROUP, "supergroup", "Friends of the Harbour Museum")
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(database)
    await create_all(engine)
    env = {
        "TELEGRAM_BOT_TOKEN": sandbox.token,
        "TELEGRAM_BASE_URL": sandbox.bot_base_url,
        "DATABASE_URL": database,
        "COMMUNITY_CHAT_IDS": str(GROUP),
    }
    poster = tmp_path / "poster.png"
    added = await _cli(
        "sources", "add", "expo-ships", "--kind", "visited_exhibition",
        "--detail", "Ships in Bottles", "--qr", str(poster), env=env,
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert f"Start link: {EXPO_LINK}" in added.output
    (link,) = await sandbox.client.invite_links()
    assert f"Invite link to chat {GROUP}: {link['invite_link']}" in added.output
    assert link["name"] == "expo-ships"
    expected = segno.make_qr(EXPO_LINK, error="m")
    assert poster.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    drawn = _drawn_modules(poster, len(expected.matrix))
    assert drawn == [[int(bool(module)) for module in row] for row in expected.matrix]

    bad = await _cli("sources", "add", "expo/ships", env=env)
    assert bad.exit_code == 2 and "cannot be a source name" in bad.output
    orphan = await _cli("sources", "add", "expo-x", "--detail", "Ships", env=env)
    assert orphan.exit_code == 2 and "a detail needs a kind" in orphan.output
    # With two community chats the invite link needs --chat; a negative id reads as a value.
    other = -1001000000043
    await sandbox.client.add_chat(other, "supergroup", "Harbour Museum volunteers")
    two_chats = {**env, "COMMUNITY_CHAT_IDS": f"{GROUP},{other}"}
    unsure = await _cli("sources", "add", "flyer", env=two_chats)
    assert unsure.exit_code == 0 and "No invite link: give --chat ID" in unsure.output
    chosen = await _cli("sources", "add", "volunteers", "--chat", str(other), env=two_chats)
    assert chosen.exit_code == 0, chosen.output
    links = {link["name"]: link["chat_id"] for link in await sandbox.client.invite_links()}
    assert links == {"expo-ships": GROUP, "volunteers": other}

    sessions = session_maker(engine)
    async with sessions() as session, session.begin():
        for user_id in (401, 402):
            supporter = await upsert_started_supporter(
                session,
                telegram_user=_User(user_id),
                payload="expo-ships",
                now=NOW,
                main_currency="EUR",
            )
            assert supporter.id is not None
            await record_source_visit(
                session, supporter.id, "expo-ships", NOW, started=True, main_currency="EUR"
            )
    await engine.dispose()
    listed = await _cli("sources", "list", env=env)
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.output.splitlines() if "expo-ships" in line]
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[1:4] == ["expo-ships", "2", "0"]
