"""Import supporters, interactions and donations from CSV: every row checked, all or nothing.

The file is read as a stream (UTF-8, a byte-order mark tolerated) and written in batches of
Core executemany statements inside one transaction. Every bad row is reported as
``file:line: column: reason`` (the header is line 1); if there is any, the transaction is
rolled back and the database is left exactly as it was.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.csv_rows import (
    BadCell,
    Kind,
    header_problems,
    parse_donation,
    parse_interaction,
    parse_supporter,
)
from bot.domain.spec import Campaign
from bot.services.donations import IncomingGift, record_donation_in
from bot.storage import import_rows, supporters, tables
from bot.storage.community_rollup import note_interactions, rebuild

BATCH = 5000
KEPT_ERRORS = 1000
# Past this many touched supporters one pass over everyone beats id lists.
REFRESH_ALL_ABOVE = 100_000


@dataclass(frozen=True)
class RowError:
    """One problem in one row of a CSV file."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.column}: {self.message}"
            if self.column
            else f"{where}: {self.message}"
        )


@dataclass
class ImportResult:
    """What an import did, or every reason it did nothing."""

    kind: Kind
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        """Tell whether the import was written."""
        return self.error_count == 0


class _Rollback(Exception):
    """Raised inside the transaction to undo everything when any row was bad."""


# --- reading -------------------------------------------------------------------------------------


def _lines(handle: BinaryIO, progress: list[int]) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for raw in handle:
        progress[0] += len(raw)
        yield decoder.decode(raw)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


@dataclass
class _Run:
    """The state of one import while it streams through a file."""

    result: ImportResult
    session: AsyncSession
    now: datetime
    zone: ZoneInfo
    specs: Mapping[str, Campaign]
    main_currency: str
    touched: set[int] = field(default_factory=set)
    seen: set[Any] = field(default_factory=set)
    seen_telegram: set[int] = field(default_factory=set)

    def error(self, line: int, column: str, message: str) -> None:
        self.result.error_count += 1
        if len(self.result.errors) < KEPT_ERRORS:
            self.result.errors.append(RowError(self.result.file, line, column, message))

    @property
    def writing(self) -> bool:
        # After the first bad row nothing more is written; rows are still checked.
        return self.result.error_count == 0


def _check_header(header: list[str], kind: Kind, run: _Run) -> bool:
    for column, message in header_problems(header, kind):
        run.error(1, column, message)
    return run.writing


async def import_csv(
    sessions: async_sessionmaker[AsyncSession],
    kind: Kind,
    path: Path,
    *,
    now: datetime,
    zone: str,
    specs: Mapping[str, Campaign] | None = None,
    main_currency: str = "EUR",
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH,
) -> ImportResult:
    """Import one CSV file of `kind` in one transaction; nothing is written if a row is bad."""
    result = ImportResult(kind=kind, file=path.name)
    read = [0]
    try:
        async with sessions() as session, session.begin():
            run = _Run(result, session, now, ZoneInfo(zone), specs or {}, main_currency)

            def tick() -> None:
                if progress is not None:
                    progress(read[0], total)

            with path.open("rb") as handle:
                total = os.fstat(handle.fileno()).st_size
                await _stream(run, kind, _lines(handle, read), batch_size, tick)
            if not run.writing:
                raise _Rollback
            await _refresh(run)
    except _Rollback:
        pass
    return result


async def _stream(
    run: _Run, kind: Kind, lines: Iterator[str], batch_size: int, tick: Callable[[], None]
) -> None:
    reader = csv.reader(lines)
    line = 1
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if not header:
            run.error(1, "", "the file is empty; the first line must name the columns")
            return
        if not _check_header(header, kind, run):
            return
        batch: list[tuple[int, dict[str, Any]]] = []
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not cells or cells == [""]:
                continue
            run.result.rows += 1
            if len(cells) != len(header):
                run.error(start, "", f"has {len(cells)} fields; the header has {len(header)}")
                continue
            try:
                batch.append((start, _parse(kind, dict(zip(header, cells, strict=True)), run)))
            except BadCell as bad:
                run.error(start, bad.column, bad.message)
            if len(batch) >= batch_size:
                await _flush(run, kind, batch)
                batch = []
                tick()
        await _flush(run, kind, batch)
        tick()
    except UnicodeDecodeError:
        run.error(line + 1, "", "is not valid UTF-8; save the file as CSV UTF-8")
    except csv.Error as exc:
        run.error(line + 1, "", f"cannot be read as CSV: {exc}")


def _parse(kind: Kind, row: dict[str, str], run: _Run) -> dict[str, Any]:
    if kind == "supporters":
        values = parse_supporter(row)
        if values["external_id"] in run.seen:
            raise BadCell("external_id", f"{values['external_id']!r} appears twice in this file")
        run.seen.add(values["external_id"])
        user_id = values.get("telegram_user_id")
        if user_id is not None:
            if user_id in run.seen_telegram:
                raise BadCell("telegram_user_id", f"{user_id} appears twice in this file")
            run.seen_telegram.add(user_id)
        return values
    if kind == "interactions":
        return parse_interaction(row, run.zone)
    values = parse_donation(row, run.zone, now=run.now)
    event = (values["provider"], values["provider_event_id"])
    if event in run.seen:
        raise BadCell("provider_event_id", f"{event[1]!r} appears twice in this file")
    run.seen.add(event)
    return values


# --- writing -------------------------------------------------------------------------------------


async def _flush(run: _Run, kind: Kind, batch: list[tuple[int, dict[str, Any]]]) -> None:
    if not batch:
        return
    if kind == "supporters":
        await _write_supporters(run, batch)
    elif kind == "interactions":
        await _write_interactions(run, batch)
    else:
        await _write_donations(run, batch)


_PROFILE = ("first_name", "last_name", "username", "language", "timezone", "source")


async def _write_supporters(run: _Run, batch: list[tuple[int, dict[str, Any]]]) -> None:
    session = run.session
    existing = await import_rows.supporter_rows_by_external_id(
        session=session, external_ids=[values["external_id"] for _, values in batch]
    )
    by_telegram = await import_rows.supporter_rows_by_telegram_id(
        session=session,
        user_ids=[v["telegram_user_id"] for _, v in batch if v.get("telegram_user_id")],
    )
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    tags: dict[str, list[str]] = {}
    for line, values in batch:
        stored = existing.get(values["external_id"])
        user_id = values.get("telegram_user_id")
        holder = by_telegram.get(user_id) if user_id else None
        if holder is not None and (stored is None or holder["id"] != stored["id"]):
            if stored is None and holder["external_id"] is None:
                stored = holder  # someone who started the bot before the CRM knew them
            else:
                owner = holder["external_id"] or f"supporter #{holder['id']}"
                run.error(line, "telegram_user_id", f"{user_id} already belongs to {owner!r}")
                continue
        if values["tags"] is not None:
            tags[values["external_id"]] = values["tags"]
        if stored is None:
            new.append(_new_supporter(values, run.now))
        else:
            changed.append(_merged_supporter(stored, values, run.now))
    if not run.writing:
        return
    await import_rows.insert_rows(session=session, table=tables.SUPPORTER, rows=new)
    await import_rows.update_supporter_rows(session=session, rows=changed)
    run.result.created += len(new)
    run.result.updated += len(changed)
    ids = await import_rows.supporter_ids_by_external_id(
        session=session, external_ids=[values["external_id"] for _, values in batch]
    )
    run.touched.update(ids.values())
    # A source is a way in: new and re-imported supporters' ways in follow their profile.
    await rebuild(session=session, supporter_ids=ids.values())
    await import_rows.replace_tags(
        session=session, tags={ids[ext]: names for ext, names in tags.items()}
    )


def _new_supporter(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {name: values[name] for name in _PROFILE}
    row.update(
        external_id=values["external_id"],
        telegram_user_id=values.get("telegram_user_id"),
        first_name=values["first_name"] or "",
        last_name=values["last_name"] or "",
        language=values["language"] or "en",
        consented_at=now if values["consent"] else None,
        created_at=now,
    )
    return row


def _merged_supporter(
    stored: dict[str, Any], values: dict[str, Any], now: datetime
) -> dict[str, Any]:
    row = dict(stored)
    # An empty cell keeps what is stored, so a partial export never wipes data.
    row.update({name: values[name] for name in _PROFILE if values[name] is not None})
    row["external_id"] = values["external_id"]
    if values.get("telegram_user_id"):
        row["telegram_user_id"] = values["telegram_user_id"]
    if values["consent"] is True:
        row["consented_at"] = stored["consented_at"] or now
    elif values["consent"] is False:
        row["consented_at"] = None
    return row


async def _known_supporters(run: _Run, batch: list[tuple[int, dict[str, Any]]]) -> dict[str, int]:
    wanted = {values["external_id"] for _, values in batch if values["external_id"]}
    ids = await import_rows.supporter_ids_by_external_id(session=run.session, external_ids=wanted)
    for line, values in batch:
        external_id = values["external_id"]
        if external_id and external_id not in ids:
            run.error(
                line,
                "external_id",
                f"no supporter has external_id {external_id!r}; import supporters first",
            )
    return ids


async def _write_interactions(run: _Run, batch: list[tuple[int, dict[str, Any]]]) -> None:
    ids = await _known_supporters(run, batch)
    if not run.writing:
        return
    rows = []
    for _, values in batch:
        row = dict(values)
        row["supporter_id"] = ids[row.pop("external_id")]
        rows.append(row)
    await import_rows.insert_rows(session=run.session, table=tables.INTERACTION, rows=rows)
    await note_interactions(session=run.session, rows=rows)
    run.touched.update(ids.values())
    run.result.created += len(rows)


async def _write_donations(run: _Run, batch: list[tuple[int, dict[str, Any]]]) -> None:
    ids = await _known_supporters(run, batch)
    if not run.writing:
        return
    for _, values in batch:
        gift = IncomingGift(
            provider=values["provider"],
            provider_event_id=values["provider_event_id"],
            amount_minor=values["amount_minor"],
            currency=values["currency"],
            donated_at=values["donated_at"],
            reference=values["reference"],
            supporter_id=ids.get(values["external_id"] or ""),
        )
        outcome = await record_donation_in(
            run.session, gift, now=run.now, specs=run.specs, main_currency=run.main_currency
        )
        if outcome.duplicate:
            run.result.skipped += 1
        else:
            run.result.created += 1
        if outcome.supporter_id is not None:
            run.touched.add(outcome.supporter_id)


async def _refresh(run: _Run) -> None:
    touched = None if len(run.touched) > REFRESH_ALL_ABOVE else sorted(run.touched)
    if touched == []:
        return
    await supporters.refresh_supporter_scores(
        session=run.session, now=run.now, supporter_ids=touched, main_currency=run.main_currency
    )
