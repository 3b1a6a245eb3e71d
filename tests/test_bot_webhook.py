"""Webhook mode and `campaign-bot run`: a secret guards /telegram; bad settings fail clearly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.app import run_bot
from bot.cli import app
from bot.config import RunMode, SettingsError, load_settings
from bot.domain.i18n import text
from bot.net import free_port
from bot.sandbox.server import run_sandbox
from bot.storage.db import create_all, make_engine
from tests.botharness import STAFF_CHAT_ID, STAFF_ID, TOKEN, bot_harness
from tests.helpers import wait_for

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
USER = 4242


def _privacy_update(update_id: int) -> dict[str, object]:
    """Return a Telegram update in which a user sends /privacy."""
    user = {"id": USER, "is_bot": False, "first_name": "Wendy", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 900 + update_id,
            "date": 1_700_000_000,
            "chat": {"id": USER, "type": "private", "first_name": "Wendy"},
            "from": user,
            "text": "/privacy",
            "entities": [{"type": "bot_command", "offset": 0, "length": 8}],
        },
    }


async def test_webhook_rejects_a_missing_or_wrong_secret_and_accepts_the_right_one(
    tmp_path: Path,
) -> None:
    async with bot_harness(tmp_path, webhook=True) as bot:
        assert bot.runtime.web_url is not None
        url = bot.runtime.web_url + "/telegram"
        # The bot registered its webhook, with the secret, at PUBLIC_BASE_URL/telegram.
        hook = bot.sandbox.state.webhook
        assert hook is not None
        assert hook.url == url
        assert hook.secret_token == "test-webhook-secret"

        async with httpx.AsyncClient() as http:
            body = json.dumps(_privacy_update(10_001))
            missing = await http.post(url, content=body)
            wrong = await http.post(url, content=body, headers={SECRET_HEADER: "guess"})
            assert (missing.status_code, wrong.status_code) == (403, 403)

            await bot.client.add_user(USER, "Wendy", started=True)
            right = await http.post(
                url, content=body, headers={SECRET_HEADER: "test-webhook-secret"}
            )
            assert right.status_code == 200
            answer = await bot.next_message(USER, "What we keep about you")
            assert answer["parse_mode"] == "HTML"
            # Only the accepted post was handled: one answer, not three.
            assert len(await bot.sent(USER)) == 1

            garbage = await http.post(
                url, content=b"[1, 2]", headers={SECRET_HEADER: "test-webhook-secret"}
            )
            assert garbage.status_code == 400
            deep = b'{"update_id": 1, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
            nested = await http.post(
                url, content=deep, headers={SECRET_HEADER: "test-webhook-secret"}
            )
            assert nested.status_code == 400

        # Updates the sandbox delivers to the webhook (with the secret) are handled too.
        await bot.client.send_text(USER, "/help")
        await bot.next_message(USER, text("help", "en")[:40])
        await bot.staff_says("/help")
        await bot.next_message(STAFF_CHAT_ID, "Staff commands")


def test_webhook_mode_needs_a_well_formed_secret() -> None:
    base = {
        "telegram_bot_token": "123:abc",
        "staff_user_ids": frozenset({1}),
        "staff_chat_id": -5,
        "link_hash_secret": "a-long-random-key",
    }
    load_settings(base, env_file=None, mode=RunMode.POLLING)
    with pytest.raises(SettingsError) as missing:
        load_settings(base, env_file=None, mode=RunMode.WEBHOOK)
    assert [line.split(":")[0] for line in missing.value.lines] == ["WEBHOOK_SECRET"]
    with pytest.raises(SettingsError) as malformed:
        load_settings(
            {**base, "webhook_secret": "has spaces!"}, env_file=None, mode=RunMode.WEBHOOK
        )
    assert "A-Z a-z 0-9 _ -" in malformed.value.lines[0]


def test_run_without_settings_prints_one_line_per_problem_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    names = ("TELEGRAM_BOT_TOKEN", "STAFF_USER_IDS", "STAFF_CHAT_ID", "LINK_HASH_SECRET")
    for name in (*names, "WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STAFF_CHAT_ID", "not-a-number")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "STAFF_CHAT_ID: Input should be a valid integer, unable to parse string as an integer"
    ]

    monkeypatch.delenv("STAFF_CHAT_ID")
    result = CliRunner().invoke(app, ["run", "--webhook"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "TELEGRAM_BOT_TOKEN",
        "STAFF_USER_IDS",
        "STAFF_CHAT_ID",
        "LINK_HASH_SECRET",
        "WEBHOOK_SECRET",
    ]
    assert "Traceback" not in result.output


@pytest.mark.slow
async def test_run_serves_until_sigterm_then_stops_cleanly(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(database)
    await create_all(engine)
    await engine.dispose()
    (tmp_path / "campaigns").mkdir()
    port = free_port()
    async with run_sandbox(token=TOKEN, limits_enabled=False) as sandbox:
        await sandbox.client.add_chat(STAFF_CHAT_ID, "supergroup", "Museum staff")
        await sandbox.client.add_user(STAFF_ID, "Sam", started=True)
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": sandbox.bot_base_url,
            "STAFF_USER_IDS": str(STAFF_ID),
            "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
            "LINK_HASH_SECRET": "a-long-random-key",
            "DATABASE_URL": database,
            "CAMPAIGNS_DIR": str(tmp_path / "campaigns"),
            "WEB_PORT": str(port),
            "LOG_LEVEL": "INFO",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await sandbox.client.send_text(STAFF_ID, "/help", chat_id=STAFF_CHAT_ID)

            async def answered() -> list[dict[str, object]] | None:
                return await sandbox.client.sent(STAFF_CHAT_ID) or None

            await wait_for(answered, what="the running bot to answer /help", limit=30)
            async with httpx.AsyncClient() as http:
                health = await http.get(f"http://127.0.0.1:{port}/healthz")
            assert health.json() == {"status": "ok"}
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
        assert code == 0, log
        assert "stopping" in log and "Traceback" not in log


async def test_run_without_tables_says_to_upgrade_the_database(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "telegram_bot_token": TOKEN,
            "staff_user_ids": str(STAFF_ID),
            "staff_chat_id": STAFF_CHAT_ID,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        },
        env_file=None,
    )
    with pytest.raises(SettingsError) as caught:
        await run_bot(settings, webhook=False)
    (line,) = caught.value.lines
    assert line.startswith("DATABASE_URL: cannot be used (no such table: audit_log)")
    assert line.endswith("run `campaign-bot db upgrade` first")
