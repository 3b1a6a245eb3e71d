"""Settings from the environment and `.env`: the only module that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"

# Opt in to python-telegram-bot's coming default: durations such as RetryAfter.retry_after are
# timedeltas. Without it every 429 raises a deprecation warning, which our tests treat as an error.
os.environ.setdefault("PTB_TIMEDELTA", "true")


class SettingsError(Exception):
    """Raised with one plain line per bad or missing setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


class Settings(BaseSettings):
    """Everything the operator configures, read from the environment or `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    telegram_bot_token: str = ""
    telegram_base_url: str = TELEGRAM_API
    database_url: str = "sqlite+aiosqlite:///campaign-bot.db"
    staff_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    staff_chat_id: int | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    timezone: str = "Europe/Amsterdam"
    campaigns_dir: Path = Path("campaigns")
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    webhook_secret: str = ""
    stripe_webhook_secret: str = ""
    donation_webhook_secret: str = ""
    payment_provider_token: str = ""
    send_rate_per_second: float = Field(default=25.0, gt=0)
    paid_broadcast: bool = False
    paid_rate_per_second: float = Field(default=900.0, gt=0)
    frequency_cap_days: int = Field(default=14, ge=0)
    max_send_attempts: int = Field(default=5, ge=1)
    weekly_summary_cron: str = "mon 09:00"
    click_dedup_seconds: int = Field(default=30, ge=0)
    baseline_donation_rate: float | None = Field(default=None, gt=0, lt=1)
    main_currency: str = Field(default="EUR", pattern=r"^[A-Za-z]{3}$")
    log_level: str = "INFO"

    @field_validator("staff_user_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("must be comma-separated Telegram user ids (numbers)") from exc
        return value

    @field_validator("staff_chat_id", "baseline_donation_rate", mode="before")
    @classmethod
    def _empty_chat(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """Accept plain sqlite:/postgresql: URLs and give them their async driver."""
        if value.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value.removeprefix(prefix)
        return value

    @property
    def zone(self) -> ZoneInfo:
        """Return the organisation's time zone."""
        return ZoneInfo(self.timezone)

    def require_bot(self) -> None:
        """Refuse to run a bot without a token and staff."""
        lines = []
        if not self.telegram_bot_token:
            lines.append("TELEGRAM_BOT_TOKEN: missing (get one from @BotFather)")
        if not self.staff_user_ids:
            lines.append("STAFF_USER_IDS: missing (comma-separated Telegram user ids of staff)")
        if self.staff_chat_id is None:
            lines.append("STAFF_CHAT_ID: missing (the chat where replies and reports go)")
        if lines:
            raise SettingsError(lines)


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, env_file: str | None = ".env"
) -> Settings:
    """Read settings, turning validation errors into one clear line per setting."""
    try:
        return Settings(_env_file=env_file, **dict(overrides or {}))
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]).upper() or "SETTINGS"
            lines.append(f"{field}: {err['msg']}")
        raise SettingsError(lines) from None
