"""Commands for named sources: add one (deep link, invite link, QR code) and list them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from bot.clock import utcnow
from bot.commands.common import console, fail, settings
from bot.config import RunMode

if TYPE_CHECKING:
    from bot.services.sources import SourceLinks, SourceTally

app = typer.Typer(
    help="Named sources: deep links and community invite links (with QR codes for posters)."
)


@app.command("add")
def add(
    name: str = typer.Argument(
        ..., help="The /start payload and invite link name: 1-64 of A-Z a-z 0-9 _ -."
    ),
    kind: str | None = typer.Option(
        None, "--kind", help="Interaction recorded for who comes through it (visited_exhibition)."
    ),
    detail: str | None = typer.Option(
        None, "--detail", help="That interaction's detail, e.g. the exhibition's title."
    ),
    chat: int | None = typer.Option(
        None, "--chat", help="Community chat id for the invite link (default: COMMUNITY_CHAT_IDS)."
    ),
    qr: Path | None = typer.Option(
        None, "--qr", dir_okay=False, help="Write the deep link's QR code here as a PNG."
    ),
) -> None:
    """Create a named source: its deep link, an invite link to the community chat, a QR code."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.services.sources import SourceRefused, check_request, create_source, qr_png
    from bot.storage.db import open_database
    from bot.telegram.sender import TelegramSender

    # The mode that needs the bot token and nothing else: Telegram says the bot's username
    # and makes the invite link.
    current = settings(RunMode.WORKER)
    try:
        request = check_request(name, kind, detail, chat)
    except SourceRefused as exc:
        fail(str(exc))

    async def run() -> SourceLinks:
        async with (
            open_database(current.database_url) as sessions,
            TelegramSender.from_settings(current) as sender,
        ):
            return await create_source(
                sessions,
                sender,
                request,
                community_chat_ids=current.community_chat_ids,
                now=utcnow(),
            )

    try:
        links = asyncio.run(run())
    except SourceRefused as exc:
        fail(str(exc), code=1)
    what = f"{links.kind}: {links.detail}" if links.detail else (links.kind or "joined only")
    state = "already existed" if links.existed else "created"
    console.print(f"{links.name} {state}; records {what}", markup=False, highlight=False)
    console.print(f"Start link: {links.deep_link}", markup=False, highlight=False)
    if links.invite_link is not None:
        console.print(
            f"Invite link to chat {links.chat_id}: {links.invite_link}",
            markup=False,
            highlight=False,
        )
    else:
        console.print("No invite link: give --chat ID or set COMMUNITY_CHAT_IDS to one chat.")
    if qr is not None:
        qr.write_bytes(qr_png(links.deep_link))
        console.print(f"Wrote the start link's QR code to {qr}.", markup=False, highlight=False)


@app.command("list")
def list_command() -> None:
    """Show each named source with how many supporters started or joined through it."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.services.sources import list_sources
    from bot.storage.db import open_database

    current = settings()

    async def run() -> list[SourceTally]:
        async with open_database(current.database_url) as sessions:
            return await list_sources(sessions)

    tallies = asyncio.run(run())
    if not tallies:
        console.print("No named sources yet: campaign-bot sources add NAME.")
        return
    table = Table(title="Named sources", title_justify="left")
    table.add_column("Name", no_wrap=True)
    table.add_column("Started", justify="right")
    table.add_column("Joined", justify="right")
    table.add_column("Records", overflow="fold")
    # Folded, not cut short: staff copy the link from here.
    table.add_column("Invite link (chat)", overflow="fold")
    for tally in tallies:
        records = f"{tally.kind}: {tally.detail}" if tally.detail else (tally.kind or "joined")
        invite = f"{tally.invite_link} ({tally.chat_id})" if tally.invite_link else "none"
        table.add_row(
            escape(tally.name),
            str(tally.starts),
            str(tally.joins),
            escape(records),
            escape(invite),
        )
    console.print(table)
