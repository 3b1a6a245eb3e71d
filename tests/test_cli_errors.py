"""Settings, Telegram and database problems end a command with one clear line, no traceback."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.sandbox import run_sandbox
from bot.storage.db import create_all, make_engine
from tests.botharness import STAFF_CHAT_ID, STAFF_ID, TOKEN

# Settings a test sets itself; everything else (PATH, HOME, ...) is inherited.
_OURS = ("DATABASE_URL", "TELEGRAM_BOT_TOKEN", "TELEGRAM_BASE_URL", "STAFF_USER_IDS")
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OURS and k != "STAFF_CHAT_ID"}
    env.update({k.upper(): v for k, v in settings.items()})
    return env


async def _cli(cwd: Path, *args: str, **settings: str) -> tuple[int, str, str]:
    """Run campaign-bot in a child process (no .env in cwd) and return code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        cwd=cwd,
        env=_env(**settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _one_line(code: int, out: str, err: str, starts: str) -> str:
    assert code != 0, (out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if " WARNING " not in line]
    assert len(lines) == 1 and lines[0].startswith(starts), err
    return lines[0]


async def _migrated(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url)
    await create_all(engine)
    await engine.dispose()
    return url


@pytest.mark.slow
async def test_a_refused_token_and_an_unreachable_bot_api_are_one_line(tmp_path: Path) -> None:
    database = await _migrated(tmp_path / "bot.db")
    staff = {
        "staff_user_ids": str(STAFF_ID),
        "staff_chat_id": str(STAFF_CHAT_ID),
        "link_hash_secret": "a-test-secret-of-enough-length-0123456789",
    }
    async with run_sandbox(token=TOKEN, limits_enabled=False) as sandbox:
        refused = await _cli(
            tmp_path,
            "run",
            database_url=database,
            telegram_bot_token="42:not-the-sandbox-token",
            telegram_base_url=sandbox.bot_base_url,
            **staff,
        )
    line = _one_line(*refused, "TELEGRAM_BOT_TOKEN: refused")
    assert "not-the-sandbox-token" not in line
    for command in ("run", "worker"):
        unreachable = await _cli(
            tmp_path,
            command,
            database_url=database,
            telegram_bot_token=TOKEN,
            telegram_base_url="http://127.0.0.1:9/bot",
            **staff,
        )
        _one_line(*unreachable, "TELEGRAM_BASE_URL: cannot reach the Bot API")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "starts"),
    [
        ("not a url", "DATABASE_URL: Value error, must be sqlite:///PATH"),
        ("mysql://user:secret@db/museum", "DATABASE_URL: Value error, must be sqlite:///PATH"),
        ("postgresql+psycopg2://u@h/db", "DATABASE_URL: Value error, must be sqlite:///PATH"),
        ("postgresql://u@h:port/db", "DATABASE_URL: Value error, has a port"),
        ("postgresql://postgres@127.0.0.1:9/museum", "DATABASE_URL: cannot be used"),
    ],
)
async def test_db_upgrade_with_a_bad_or_unreachable_database_is_one_line(
    tmp_path: Path, url: str, starts: str
) -> None:
    line = _one_line(*await _cli(tmp_path, "db", "upgrade", database_url=url), starts)
    assert "secret" not in line


@pytest.mark.slow
async def test_import_and_export_against_an_empty_database_are_one_line(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'empty.db'}"
    csv = tmp_path / "donations.csv"
    csv.write_text("provider_event_id,amount,currency,donated_at\nev-1,5,EUR,2026-01-01\n")
    imported = await _cli(tmp_path, "import", "donations", str(csv), database_url=database)
    assert "db upgrade" in _one_line(*imported, "DATABASE_URL: cannot be used (no such table")
    exported = await _cli(
        tmp_path, "supporters", "export", "--telegram-id", "5", database_url=database
    )
    _one_line(*exported, "DATABASE_URL: cannot be used (no such table")


@pytest.mark.slow
async def test_a_gift_over_the_maximum_in_a_csv_imports_nothing(tmp_path: Path) -> None:
    database = await _migrated(tmp_path / "bot.db")
    csv = tmp_path / "donations.csv"
    csv.write_text(
        "provider_event_id,amount,currency,donated_at\n"
        "ev-1,5,EUR,2026-01-01\n"
        "ev-2,92233720368547758.07,EUR,2026-01-01\n"
    )
    code, out, err = await _cli(tmp_path, "import", "donations", str(csv), database_url=database)
    assert code == 1 and "Traceback" not in out + err
    assert err.splitlines() == [
        "donations.csv:3: amount: must be at most €10,000,000,000.00 (1000000000000 minor units)"
        " for one gift (got '92233720368547758.07')",
        "Nothing was imported: 1 problem(s) in donations.csv.",
    ]
