"""An async client for the sandbox's control API: play users and read what the bot did."""

from __future__ import annotations

import functools
import ssl
from types import TracebackType
from typing import Any

import httpx

from bot.sandbox.community_client import CommunityCalls

JsonDict = dict[str, Any]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Return one TLS context for all sandbox HTTP clients; building one costs ~0.1 s."""
    return ssl.create_default_context()


class SandboxClientError(RuntimeError):
    """The sandbox refused a control request; `status` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class SandboxClient(CommunityCalls):
    """Drive a running sandbox over HTTP: `async with SandboxClient(url, token) as sandbox:`."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/sandbox", timeout=timeout, verify=tls_context()
        )

    @property
    def bot_base_url(self) -> str:
        """Return the base_url to give telegram.Bot."""
        return f"{self.base_url}/bot"

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def _call(self, verb: str, path: str, body: JsonDict | None = None) -> Any:
        """Send one control request and return its result."""
        if body is not None:
            body = {key: value for key, value in body.items() if value is not None}
        response = await self._http.request(verb, path, json=body)
        data = response.json()
        if response.status_code != 200:
            raise SandboxClientError(response.status_code, data.get("error", response.text))
        return data["result"]

    # -- the world ---------------------------------------------------------------------

    async def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        *,
        started: bool = False,
        is_bot: bool = False,
    ) -> JsonDict:
        """Add a user or, with `is_bot`, another bot (not started unless `started`); return it."""
        return dict(
            await self._call(
                "POST",
                "/users",
                {
                    "user_id": user_id,
                    "first_name": first_name,
                    "last_name": last_name,
                    "username": username,
                    "language_code": language_code,
                    "started": started,
                    "is_bot": is_bot,
                },
            )
        )

    async def user(self, user_id: int) -> JsonDict:
        """Return a user with their `started` and `blocked` flags."""
        return dict(await self._call("GET", f"/users/{user_id}"))

    async def add_chat(
        self,
        chat_id: int,
        type: str,
        title: str,
        username: str | None = None,
        member_count: int = 0,
        *,
        owner_id: int | None = None,
        bot_status: str = "administrator",
        bot_rights: dict[str, bool] | None = None,
    ) -> JsonDict:
        """Add a group, supergroup or channel (negative id); the bot is an admin unless told."""
        body = {
            "chat_id": chat_id,
            "type": type,
            "title": title,
            "username": username,
            "member_count": member_count,
            "owner_id": owner_id,
            "bot_status": bot_status,
            "bot_rights": bot_rights,
        }
        return dict(await self._call("POST", "/chats", body))

    # -- what users do -----------------------------------------------------------------

    async def start(self, user_id: int, payload: str | None = None) -> JsonDict:
        """Have the user send /start [payload] (which also unblocks); return the update."""
        return dict(await self._call("POST", "/start", {"user_id": user_id, "payload": payload}))

    async def send_text(
        self,
        user_id: int,
        text: str,
        reply_to_message_id: int | None = None,
        chat_id: int | None = None,
    ) -> JsonDict:
        """Have the user write `text` (privately, or in the group `chat_id`); return the update."""
        body = {
            "user_id": user_id,
            "text": text,
            "reply_to_message_id": reply_to_message_id,
            "chat_id": chat_id,
        }
        return dict(await self._call("POST", "/text", body))

    async def edit_text(
        self, user_id: int, message_id: int, text: str, chat_id: int | None = None
    ) -> JsonDict:
        """Have the user edit a message they wrote; return the edited_message update."""
        body = {"user_id": user_id, "message_id": message_id, "text": text, "chat_id": chat_id}
        return dict(await self._call("POST", "/edit", body))

    async def press(
        self, user_id: int, message_id: int, callback_data: str, chat_id: int | None = None
    ) -> JsonDict:
        """Have the user press an inline button of a bot message; return the update."""
        body = {
            "user_id": user_id,
            "message_id": message_id,
            "callback_data": callback_data,
            "chat_id": chat_id,
        }
        return dict(await self._call("POST", "/press", body))

    async def block(self, user_id: int) -> JsonDict | None:
        """Have the user block the bot; return the my_chat_member update (None if no change)."""
        result = await self._call("POST", "/block", {"user_id": user_id})
        return dict(result) if result is not None else None

    async def deactivate(self, user_id: int) -> JsonDict:
        """Delete a user's account: the bot's messages to them get 403 "user is deactivated"."""
        return dict(await self._call("POST", "/deactivate", {"user_id": user_id}))

    async def unblock(self, user_id: int) -> JsonDict | None:
        """Have the user unblock the bot; return the my_chat_member update (None if no change)."""
        result = await self._call("POST", "/unblock", {"user_id": user_id})
        return dict(result) if result is not None else None

    async def pre_checkout(
        self, user_id: int, invoice_payload: str, currency: str, total_amount: int
    ) -> JsonDict:
        """Have the user confirm payment of an invoice; return the pre_checkout_query update."""
        body = {
            "user_id": user_id,
            "invoice_payload": invoice_payload,
            "currency": currency,
            "total_amount": total_amount,
        }
        return dict(await self._call("POST", "/pre_checkout", body))

    async def successful_payment(
        self,
        user_id: int,
        invoice_payload: str,
        currency: str,
        total_amount: int,
        telegram_payment_charge_id: str | None = None,
        provider_payment_charge_id: str | None = None,
    ) -> JsonDict:
        """Have a payment go through; return the message update with successful_payment."""
        body = {
            "user_id": user_id,
            "invoice_payload": invoice_payload,
            "currency": currency,
            "total_amount": total_amount,
            "telegram_payment_charge_id": telegram_payment_charge_id,
            "provider_payment_charge_id": provider_payment_charge_id,
        }
        return dict(await self._call("POST", "/successful_payment", body))

    # -- what the bot did --------------------------------------------------------------

    async def sent(
        self, chat_id: int | str | None = None, *, accepted_only: bool = False
    ) -> list[JsonDict]:
        """Return every send and edit the bot attempted, in order (`ok` says if accepted)."""
        query: JsonDict = {"accepted_only": "true" if accepted_only else "false"}
        if chat_id is not None:
            query["chat_id"] = str(chat_id)
        response = await self._http.get("/sent", params=query)
        if response.status_code != 200:
            raise SandboxClientError(response.status_code, response.text)
        return list(response.json()["result"])

    async def wait_sent(
        self,
        chat_id: int | str | None = None,
        count: int = 1,
        within: float = 5.0,
        *,
        accepted_only: bool = False,
    ) -> list[JsonDict]:
        """Wait up to `within` s for `count` attempts (to the chat); return all (fewer if late)."""
        query: JsonDict = {
            "count": count,
            "timeout": within,
            "accepted_only": "true" if accepted_only else "false",
        }
        if chat_id is not None:
            query["chat_id"] = str(chat_id)
        response = await self._http.get("/sent/wait", params=query, timeout=within + 10)
        if response.status_code != 200:
            raise SandboxClientError(response.status_code, response.text)
        return list(response.json()["result"])

    async def callback_answer(self, query_id: str) -> JsonDict | None:
        """Return how the bot answered a button press (None if the query is unknown)."""
        result = await self._call("GET", f"/callback_queries/{query_id}")
        return dict(result) if result is not None else None

    async def pre_checkout_answer(self, query_id: str) -> JsonDict | None:
        """Return how the bot answered a pre-checkout query (None if unknown)."""
        result = await self._call("GET", f"/pre_checkout_queries/{query_id}")
        return dict(result) if result is not None else None

    async def pending_updates(self) -> list[JsonDict]:
        """Return the updates the bot has not confirmed yet."""
        return list(await self._call("GET", "/updates"))

    async def commands(self) -> list[JsonDict]:
        """Return every stored command list with its scope and language."""
        return list(await self._call("GET", "/commands"))

    async def stats(self) -> JsonDict:
        """Return request counts by method and status, 429s, drops, sends and settings."""
        return dict(await self._call("GET", "/stats"))

    # -- how the sandbox behaves -------------------------------------------------------

    async def set_limits(
        self,
        enabled: bool = True,
        global_per_s: int = 30,
        per_chat_per_s: float = 1,
        per_group_per_min: int = 20,
        paid_per_s: int = 1000,
        per_chat_burst: int = 3,
    ) -> JsonDict:
        """Replace the flood limits (and forget their windows); return them."""
        body = {
            "enabled": enabled,
            "global_per_s": global_per_s,
            "per_chat_per_s": per_chat_per_s,
            "per_group_per_min": per_group_per_min,
            "paid_per_s": paid_per_s,
            "per_chat_burst": per_chat_burst,
        }
        return dict(await self._call("POST", "/limits", body))

    async def set_faults(
        self,
        seed: int = 0,
        rate_429: float = 0,
        retry_after: int = 1,
        rate_5xx: float = 0,
        slow_rate: float = 0,
        slow_seconds: float = 0,
        drop_rate: float = 0,
        methods: list[str] | None = None,
        *,
        drop_after_send: bool = False,
    ) -> JsonDict:
        """Inject seeded faults into Bot API calls (all methods, or only `methods`)."""
        body = {
            "seed": seed,
            "rate_429": rate_429,
            "retry_after": retry_after,
            "rate_5xx": rate_5xx,
            "slow_rate": slow_rate,
            "slow_seconds": slow_seconds,
            "drop_rate": drop_rate,
            "methods": methods,
            "drop_after_send": drop_after_send,
        }
        return dict(await self._call("POST", "/faults", body))

    async def reset(self) -> None:
        """Forget everything: users, chats, messages, updates, records, stats, faults, limits."""
        await self._call("POST", "/reset", {})
