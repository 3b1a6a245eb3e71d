"""CSV import: good files land with their history scored; any bad row changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import scoring
from bot.services.importer import ImportResult, Kind, import_csv
from bot.storage.tables import DONATION, INTERACTION, SUPPORTER, TAG
from tests.factories import NOW, add_ask, add_campaign_row, add_supporter, write_csv

ZONE = "Europe/Amsterdam"
SUPPORTERS = ["external_id", "first_name", "last_name", "username", "language", "tags", "consent"]
INTERACTIONS = ["external_id", "kind", "detail", "sentiment", "occurred_at", "source"]
DONATIONS = ["external_id", "provider_event_id", "amount", "currency", "donated_at", "reference"]


async def _import(
    sessions: async_sessionmaker[AsyncSession], kind: Kind, path: Path, **kwargs: Any
) -> ImportResult:
    return await import_csv(sessions, kind, path, now=NOW, zone=ZONE, **kwargs)


async def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    """Everything an import could change, to show a failed one changed nothing."""
    async with sessions() as session:
        tables = []
        for table in (SUPPORTER, TAG, INTERACTION, DONATION):
            rows = (await session.execute(select(table).order_by(*table.primary_key))).all()
            tables.append([tuple(row) for row in rows])
        return tables


async def _seed(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "seed.csv",
        SUPPORTERS,
        [
            ["m-1", "Ann", "de Vries", "@Ann_V", "nl", "member; volunteer", "yes"],
            ["m-2", "Bob", "", "", "", "", ""],
        ],
    )
    result = await _import(sessions, "supporters", path)
    assert result.ok, result.errors


async def test_supporters_land_with_tags_consent_and_names_verbatim(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "supporters.csv",
        SUPPORTERS,
        [
            [
                "m-1",
                "<b>Ann</b> & co",
                "de Vries",
                "@Ann_V",
                "NL",
                "member;volunteer;member",
                "yes",
            ],
            ["m-2", "Bob", "", "", "", "", "no"],
        ],
        bom=True,
    )
    result = await _import(sessions, "supporters", path)
    assert (result.ok, result.rows, result.created) == (True, 2, 2)
    async with sessions() as session:
        ann = (
            await session.execute(select(SUPPORTER).where(SUPPORTER.c.external_id == "m-1"))
        ).one()
        tags = (await session.execute(select(TAG.c.tag).order_by(TAG.c.tag))).scalars().all()
        bob = (
            await session.execute(select(SUPPORTER).where(SUPPORTER.c.external_id == "m-2"))
        ).one()
    assert ann.first_name == "<b>Ann</b> & co"  # escaping is the templates' job
    assert (ann.username, ann.language, ann.consented_at) == ("Ann_V", "nl", NOW)
    assert tags == ["member", "volunteer"]
    assert (bob.language, bob.consented_at, bob.rfm_score) == ("en", None, 111)


async def test_reimport_updates_and_empty_cells_keep_what_is_stored(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _seed(sessions, tmp_path)
    path = write_csv(
        tmp_path / "again.csv",
        ["external_id", "first_name", "username", "tags"],
        [["m-1", "Anna", "", "press"], ["m-3", "Cas", "cas", ""]],
    )
    result = await _import(sessions, "supporters", path)
    assert (result.created, result.updated) == (1, 1)
    async with sessions() as session:
        ann = (
            await session.execute(select(SUPPORTER).where(SUPPORTER.c.external_id == "m-1"))
        ).one()
        tags = (
            await session.execute(select(TAG.c.tag).where(TAG.c.supporter_id == ann.id))
        ).scalars()
        assert (ann.first_name, ann.last_name, ann.username) == ("Anna", "de Vries", "Ann_V")
        assert list(tags) == ["press"]
        assert ann.consented_at == NOW


async def test_interactions_are_scored_after_import(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _seed(sessions, tmp_path)
    path = write_csv(
        tmp_path / "interactions.csv",
        INTERACTIONS,
        [
            ["m-1", "visited_exhibition", "Dutch Masters", "", "2026-11-20", "ticketing"],
            ["m-1", "comment", "Lovely!", "positive", "2026-06-01T14:30:00", "facebook"],
            ["m-2", "comment", "Too expensive", "negative", "2026-11-30T10:00:00+00:00", ""],
        ],
    )
    result = await _import(sessions, "interactions", path)
    assert (result.ok, result.created) == (True, 3)
    async with sessions() as session:
        rows = {r.external_id: r for r in (await session.execute(select(SUPPORTER))).all()}
        visit = await session.scalar(
            select(INTERACTION.c.occurred_at).where(INTERACTION.c.kind == "visited_exhibition")
        )
    # A naive date is midnight in the organisation's zone.
    assert visit == datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
    ann = rows["m-1"]
    assert ann.interaction_count == 2
    assert ann.last_interaction_at == visit
    expected = scoring.engagement_score(
        [("visited_exhibition", None, visit),
         ("comment", "positive", datetime(2026, 6, 1, 12, 30, tzinfo=UTC))],
        NOW,
    )  # fmt: skip
    assert ann.engagement_score == expected == (2 * 100 + 3 * 30) / 100
    assert rows["m-2"].engagement_score == 0.0
    assert ann.rfm_score == 5 * 100 + 2 * 10 + 1


@pytest.mark.parametrize(
    ("kind", "header", "rows", "expected"),
    [
        (
            "interactions",
            ["external_id", "kind", "detail"],
            [["m-1", "comment", "x"]],
            "interactions.csv:1: occurred_at: missing required column",
        ),
        (
            "interactions",
            INTERACTIONS,
            [
                ["m-1", "comment", "", "", "2026-01-01", ""],
                ["m-1", "comment", "", "", "2026-13-01", ""],
            ],
            "interactions.csv:3: occurred_at: not a date ('2026-13-01'); use ISO 8601 like"
            " 2026-03-01 or 2026-03-01T14:30",
        ),
        (
            "interactions",
            INTERACTIONS,
            [["m-1", "comment", "", "great", "2026-01-01", ""]],
            "interactions.csv:2: sentiment: must be one of positive, neutral, negative or empty"
            " (got 'great')",
        ),
        (
            "interactions",
            INTERACTIONS,
            [
                ["m-1", "comment", "", "", "2026-01-01", ""],
                ["m-9", "comment", "", "", "2026-01-01", ""],
            ],
            "interactions.csv:3: external_id: no supporter has external_id 'm-9'; import"
            " supporters first",
        ),
        (
            "supporters",
            SUPPORTERS,
            [["m-5", "Eva", "", "", "", "", ""], ["m-5", "Eve", "", "", "", "", ""]],
            "supporters.csv:3: external_id: 'm-5' appears twice in this file",
        ),
        (
            "supporters",
            ["external_id", "timezone"],
            [["m-5", "Europe/Amsterdm"]],
            "supporters.csv:2: timezone: unknown time zone 'Europe/Amsterdm'; use an IANA name"
            " like Europe/Amsterdam",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "25.005", "EUR", "2026-11-01", ""]],
            "donations.csv:2: amount: '25.005' has 3 decimals; EUR amounts have at most 2"
            " decimals; for thousands, leave out the separator",
        ),
        (
            "donations",
            DONATIONS,
            [
                ["m-1", "ev-1", "25", "JPY", "2026-11-01", ""],
                ["m-1", "ev-2", "25", "EURO", "2026-11-01", ""],
            ],
            "donations.csv:3: currency: is 4 characters long; at most 3 fit",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "25", "E1R", "2026-11-01", ""]],
            "donations.csv:2: currency: must be an ISO 4217 currency code like EUR (got 'E1R')",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "25", "ABC", "2026-11-01", ""]],
            "donations.csv:2: currency: must be an ISO 4217 currency code like EUR (got 'ABC')",
        ),
        (
            "donations",
            DONATIONS,
            [
                ["m-1", "ev-1", "10000000000.00", "EUR", "2026-11-01", ""],
                ["m-1", "ev-2", "10000000000.01", "EUR", "2026-11-01", ""],
            ],
            "donations.csv:3: amount: must be at most €10,000,000,000.00 (1000000000000 minor"
            " units) for one gift (got '10000000000.01')",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "92233720368547758.07", "EUR", "2026-11-01", ""]],
            "donations.csv:2: amount: must be at most €10,000,000,000.00 (1000000000000 minor"
            " units) for one gift (got '92233720368547758.07')",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "25", "EUR", "2026-12-02", ""]],
            "donations.csv:2: donated_at: is more than 15 minutes in the future"
            " (got '2026-12-02')",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "25", "EUR", "1899-12-31T12:00Z", ""]],
            "donations.csv:2: donated_at: is before 1900-01-01 (got '1899-12-31T12:00Z')",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "25", "EUR", "0001-01-01T00:00", ""]],
            "donations.csv:2: donated_at: '0001-01-01T00:00' is outside the calendar in UTC",
        ),
        (
            "interactions",
            INTERACTIONS,
            [["m-1", "visited", "", "", "9999-12-31T23:59-05:00", ""]],
            "interactions.csv:2: occurred_at: '9999-12-31T23:59-05:00' is outside the calendar"
            " in UTC",
        ),
        (
            "supporters",
            ["external_id", "telegram_user_id"],
            [["m-7", "99999999999999999999"]],
            "supporters.csv:2: telegram_user_id: must be a Telegram user id"
            " (got '99999999999999999999')",
        ),
        (
            "donations",
            DONATIONS,
            [["m-1", "ev-1", "-5", "EUR", "2026-11-01", ""]],
            "donations.csv:2: amount: '-5' is not an amount; write it like 25 or 25.50",
        ),
    ],
)
async def test_a_bad_row_is_reported_by_line_and_column_and_nothing_changes(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    kind: Kind,
    header: list[str],
    rows: list[list[str]],
    expected: str,
) -> None:
    await _seed(sessions, tmp_path)
    before = await _snapshot(sessions)
    path = write_csv(tmp_path / f"{kind}.csv", header, rows)
    result = await _import(sessions, kind, path)
    assert not result.ok
    assert [str(error) for error in result.errors] == [expected]
    assert await _snapshot(sessions) == before


async def test_every_bad_row_is_reported_even_after_batches_were_written(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _seed(sessions, tmp_path)
    before = await _snapshot(sessions)
    good = ["m-1", "event", "Gala", "", "2026-05-01", ""]
    rows = [good] * 5 + [["m-1", "Event!", "", "", "2026-05-01", ""]] + [good] * 3
    rows += [["m-2", "event", "", "", "yesterday", ""]]
    path = write_csv(tmp_path / "interactions.csv", INTERACTIONS, rows)
    result = await _import(sessions, "interactions", path, batch_size=2)
    assert [(e.line, e.column) for e in result.errors] == [(7, "kind"), (11, "occurred_at")]
    assert result.error_count == 2
    assert await _snapshot(sessions) == before


async def test_quoted_newlines_keep_line_numbers_true(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _seed(sessions, tmp_path)
    path = write_csv(
        tmp_path / "interactions.csv",
        INTERACTIONS,
        [
            ["m-1", "comment", "two\nlines", "", "2026-05-01", ""],
            ["m-1", "comment", "", "", "x", ""],
        ],
    )
    result = await _import(sessions, "interactions", path)
    assert [(e.line, e.column) for e in result.errors] == [(4, "occurred_at")]


async def test_unknown_columns_and_bad_encoding_are_refused(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "supporters.csv", ["external_id", "emial"], [["m-1", "a@b"]])
    result = await _import(sessions, "supporters", path)
    assert [str(e) for e in result.errors] == [
        "supporters.csv:1: emial: unknown column (known: external_id, first_name, last_name,"
        " username, telegram_user_id, language, timezone, tags, source, consent)"
    ]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"external_id,first_name\nm-1,Jos\xe9\n")
    result = await _import(sessions, "supporters", latin)
    assert [str(e) for e in result.errors] == [
        "latin.csv:2: is not valid UTF-8; save the file as CSV UTF-8"
    ]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SUPPORTER)) == 0


async def test_telegram_id_links_a_supporter_who_started_the_bot_first(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        started = await add_supporter(session, telegram_user_id=777, first_name="Tg")
        await add_supporter(session, telegram_user_id=888, external_id="m-8")
    path = write_csv(
        tmp_path / "supporters.csv",
        ["external_id", "telegram_user_id", "last_name"],
        [["m-7", "777", "Smit"], ["m-9", "888", ""]],
    )
    result = await _import(sessions, "supporters", path)
    assert [str(e) for e in result.errors] == [
        "supporters.csv:3: telegram_user_id: 888 already belongs to 'm-8'"
    ]
    path = write_csv(
        tmp_path / "supporters.csv",
        ["external_id", "telegram_user_id", "last_name"],
        [["m-7", "777", "Smit"]],
    )
    assert (await _import(sessions, "supporters", path)).updated == 1
    async with sessions() as session:
        row = (await session.execute(select(SUPPORTER).where(SUPPORTER.c.id == started.id))).one()
    assert (row.external_id, row.first_name, row.last_name) == ("m-7", "Tg", "Smit")


async def test_donation_reimport_is_idempotent_and_tokens_credit_the_ask(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _seed(sessions, tmp_path)
    async with sessions() as session, session.begin():
        ann = (
            await session.execute(select(SUPPORTER.c.id).where(SUPPORTER.c.external_id == "m-1"))
        ).scalar_one()
        campaign = await add_campaign_row(session, "winter")
        from bot.storage.models import Supporter

        person = await session.get(Supporter, ann)
        assert person is not None
        ask = await add_ask(
            session, campaign, person, state="sent", sent_at=NOW - timedelta(days=3)
        )
    path = write_csv(
        tmp_path / "donations.csv",
        DONATIONS,
        [
            ["m-1", "ev-1", "25.00", "EUR", "2026-11-29T12:00", ask.token],
            ["", "ev-2", "10", "eur", "2026-11-29", ""],
            ["m-2", "ev-3", "500", "JPY", "2026-10-01", ""],
        ],
    )
    first = await _import(sessions, "donations", path)
    assert (first.ok, first.created, first.skipped) == (True, 3, 0)
    again = await _import(sessions, "donations", path)
    assert (again.ok, again.created, again.skipped) == (True, 0, 3)
    async with sessions() as session:
        gifts = {r.provider_event_id: r for r in (await session.execute(select(DONATION))).all()}
        ann_row = (await session.execute(select(SUPPORTER).where(SUPPORTER.c.id == ann))).one()
    assert len(gifts) == 3
    assert (gifts["ev-1"].amount_minor, gifts["ev-1"].ask_id, gifts["ev-1"].attribution) == (
        2500,
        ask.id,
        "token",
    )
    assert (gifts["ev-2"].provider, gifts["ev-2"].currency, gifts["ev-2"].supporter_id) == (
        "import",
        "EUR",
        None,
    )
    assert gifts["ev-3"].amount_minor == 500
    assert (ann_row.gift_count, ann_row.gift_total_minor) == (1, 2500)
    assert ann_row.rfm_score % 10 == scoring.monetary_score(2500)
