"""Commands for supporters and specs: import, export, forget, preview and validate."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.clock import utcnow
from bot.commands.common import console, database_errors, err_console, fail, settings
from bot.config import Settings

# Top-level commands, and the `supporters` group that cli.py includes under its name.
app = typer.Typer()
supporters_app = typer.Typer(help="One supporter's data: export it or forget it (GDPR).")


class ImportKind(StrEnum):
    """What a CSV file holds."""

    supporters = "supporters"
    interactions = "interactions"
    donations = "donations"


def _show_errors(lines: list[str], total: int) -> None:
    for line in lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    if total > len(lines):
        err_console.print(f"... and {total - len(lines)} more problems", highlight=False)


@app.command("import")
def import_file(
    kind: ImportKind = typer.Argument(..., help="What the file holds."),
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A UTF-8 CSV file with a header."
    ),
) -> None:
    """Import supporters, interactions or donations from CSV; any bad row means nothing changes.

    Columns are listed in the README. Re-importing supporters updates them by external_id;
    re-importing donations skips the provider events already recorded.
    """
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.domain.campaign import load_campaigns
    from bot.services.importer import import_csv
    from bot.storage.db import open_database

    current = settings()
    specs = load_campaigns(current.campaigns_dir).campaigns

    async def run(progress: Progress | None) -> Any:
        task = progress.add_task(f"Importing {file.name}", total=None) if progress else None

        def tick(done: int, total: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, completed=done, total=total)

        async with open_database(current.database_url) as sessions:
            return await import_csv(
                sessions,
                kind.value,
                file,
                now=utcnow(),
                zone=current.timezone,
                specs=specs,
                main_currency=current.main_currency,
                progress=tick,
            )

    with database_errors():
        if console.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
            with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as bar:
                result = asyncio.run(run(bar))
        else:
            result = asyncio.run(run(None))
    if not result.ok:
        _show_errors([str(error) for error in result.errors], result.error_count)
        fail(f"Nothing was imported: {result.error_count} problem(s) in {file.name}.", code=1)
    parts = [f"{result.created} new"]
    if kind is ImportKind.supporters:
        parts.append(f"{result.updated} updated")
    if kind is ImportKind.donations:
        parts.append(f"{result.skipped} already recorded")
    console.print(
        f"Imported {result.rows} {kind.value} rows from {file.name}: {', '.join(parts)}."
    )


def _who(external_id: str | None, username: str | None, telegram_id: int | None) -> dict[str, Any]:
    return {"external_id": external_id, "username": username, "telegram_id": telegram_id}


async def _supporter_id(current: Settings, who: dict[str, Any]) -> int:
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.services.supporters import SupporterNotFound, find_supporter
    from bot.storage.db import open_database

    async with open_database(current.database_url) as sessions, sessions() as session:
        try:
            supporter = await find_supporter(session, **who)
        except SupporterNotFound as exc:
            fail(str(exc), code=1)
    assert supporter.id is not None
    return supporter.id


EXTERNAL_ID = typer.Option(None, "--external-id", help="The id in the organisation's CRM.")
USERNAME = typer.Option(None, "--username", help="Telegram username, with or without @.")
TELEGRAM_ID = typer.Option(None, "--telegram-id", help="Telegram user id (a number).")


@supporters_app.command("export")
def export(
    external_id: str | None = EXTERNAL_ID,
    username: str | None = USERNAME,
    telegram_id: int | None = TELEGRAM_ID,
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here, not to stdout."),
) -> None:
    """Print as JSON everything stored about one person: profile, tags, history, asks, gifts."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.services.supporters import export_supporter
    from bot.storage.db import open_database

    current = settings()

    async def run() -> dict[str, Any]:
        supporter_id = await _supporter_id(current, _who(external_id, username, telegram_id))
        async with open_database(current.database_url) as sessions:
            return await export_supporter(sessions, supporter_id)

    with database_errors():
        found = asyncio.run(run())
    text = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}.")


@supporters_app.command("forget")
def forget(
    external_id: str | None = EXTERNAL_ID,
    username: str | None = USERNAME,
    telegram_id: int | None = TELEGRAM_ID,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase one person's personal data; anonymous counts stay so reports still add up."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.services.supporters import forget_supporter
    from bot.storage.db import open_database

    current = settings()
    with database_errors():
        supporter_id = asyncio.run(
            _supporter_id(current, _who(external_id, username, telegram_id))
        )
    if not yes and not typer.confirm(
        f"Erase the names, ids, chat, history and reply texts of supporter #{supporter_id}?"
    ):
        fail("Nothing was erased.", code=1)

    async def run() -> Any:
        async with open_database(current.database_url) as sessions:
            if not current.telegram_bot_token:
                return await forget_supporter(sessions, supporter_id, now=utcnow())
            # With a token, the staff chat's relays about them are deleted too.
            from bot.telegram.deleter import BotMessageDeleter
            from bot.telegram.sender import TelegramSender

            bot = TelegramSender.from_settings(current, pool_size=2).bot
            deleter = BotMessageDeleter(bot, initialise=True)
            try:
                return await forget_supporter(
                    sessions,
                    supporter_id,
                    now=utcnow(),
                    deleter=deleter,
                    staff_chat_id=current.staff_chat_id,
                )
            finally:
                await deleter.close()

    with database_errors():
        done = asyncio.run(run())
    console.print(
        f"Forgot supporter #{supporter_id}. Kept anonymously: {done.asks_kept} asks, "
        f"{done.donations_kept} donations, {done.replies_blanked} replies (text erased)."
    )
    if done.staff_messages_deleted:
        console.print(f"Deleted {done.staff_messages_deleted} messages about them in Telegram.")
    for line in done.staff_messages_left:
        console.print(f"Not deleted, please delete it by hand: {line}.", markup=False)


@app.command("preview")
def preview(
    name: str = typer.Argument(..., help="The campaign's name (its `name:` in the YAML file)."),
    count: int = typer.Option(3, "--count", "-n", min=0, help="How many messages to render."),
) -> None:
    """Show who a campaign would reach now, the expected split per arm, and real messages."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.domain.campaign import load_campaigns
    from bot.services.preview import preview_campaign
    from bot.storage.db import open_database

    current = settings()
    loaded = load_campaigns(current.campaigns_dir)
    campaign = loaded.campaigns.get(name)
    if campaign is None:
        _show_errors([str(error) for error in loaded.errors], len(loaded.errors))
        known = ", ".join(sorted(loaded.campaigns)) or "none"
        fail(f"No valid campaign called {name!r} in {current.campaigns_dir} (known: {known}).")

    async def run() -> Any:
        async with open_database(current.database_url) as sessions:
            return await preview_campaign(
                sessions, campaign, now=utcnow(), settings=current, count=count
            )

    with database_errors():
        result = asyncio.run(run())
    console.print(f"[b]{escape(result.campaign)}[/b]: {escape(result.title)}")
    console.print(f"Audience now: [b]{result.audience_size}[/b] supporters")
    if result.flagged_out:
        why = ", ".join(f"{reason} {n}" for reason, n in result.flagged_reasons.items())
        console.print(f"Left out as flagged: {result.flagged_out} ({why})", highlight=False)
    ways = ", ".join(f"{way} {n}" for way, n in result.eligible_by_way.items())
    console.print(f"Eligible each way: {ways} (the audience: those every arm's way reaches)")
    segments = Table("Matched by", "Supporters", title="Segments", title_justify="left")
    for rule, n in result.segments.items():
        segments.add_row(escape(rule), str(n))
    console.print(segments)
    arms = Table("Arm", "Kind", "Expected", title="Arms", title_justify="left")
    for arm, expected in result.arms.items():
        arms.add_row(escape(arm), result.arm_kinds[arm], f"{expected:.1f}")
    console.print(arms)
    if result.power is not None:
        console.print(escape(result.power), highlight=False)
    for sample in result.samples:
        title = f"#{sample.supporter_id} {sample.name} ({sample.language}, arm {sample.arm})"
        body = sample.text or sample.problem or "holdout: no message is sent"
        console.print(
            Panel(escape(body), title=escape(title), subtitle=escape(sample.rule), expand=False)
        )
    console.print(f"Links point at {result.donate_link} in the preview.", highlight=False)


@app.command("validate")
def validate(
    paths: list[Path] = typer.Argument(
        None, help="Campaign files or directories (default: CAMPAIGNS_DIR)."
    ),
) -> None:
    """Check campaign files without sending anything; exit 1 if any has a problem."""
    # Imported here, not at the top: keeps `campaign-bot --help` and other commands fast.
    from bot.domain.campaign import CampaignInvalid, load_campaign, load_campaigns

    targets = list(paths or [settings().campaigns_dir])
    problems = 0
    for target in targets:
        if target.is_dir():
            loaded = load_campaigns(target)
            for campaign in loaded.campaigns.values():
                console.print(f"ok: {campaign.source_file}", highlight=False)
            _show_errors([str(error) for error in loaded.errors], len(loaded.errors))
            problems += len(loaded.errors)
            continue
        try:
            load_campaign(target)
        except CampaignInvalid as exc:
            _show_errors([str(error) for error in exc.errors], len(exc.errors))
            problems += len(exc.errors)
        else:
            console.print(f"ok: {target}", highlight=False)
    if problems:
        raise typer.Exit(1)
