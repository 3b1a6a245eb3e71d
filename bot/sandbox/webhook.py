"""Deliver queued updates to the bot's webhook, in order, with the secret token header."""

from __future__ import annotations

import json

import httpx

from bot.sandbox.chats import JsonDict
from bot.sandbox.client import tls_context
from bot.sandbox.state import SandboxState

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_MAX_BACKOFF = 2.0


class WebhookSender:
    """Post each pending update to the webhook until it answers 2xx, then confirm it."""

    def __init__(self, state: SandboxState, *, timeout: float = 10.0) -> None:
        self.state = state
        self.timeout = timeout
        self.delivered = 0

    async def _next(self) -> JsonDict | None:
        """Wait for an update to deliver; None once the server closes."""
        state = self.state
        while not state.closed:
            if state.webhook is not None and state.updates:
                return state.updates[0]
            await state.wait_for_change(60.0)
        return None

    async def _post(self, client: httpx.AsyncClient, update: JsonDict) -> str | None:
        """Post one update; return why it failed, or None when the webhook took it."""
        hook = self.state.webhook
        if hook is None:
            return "webhook removed"
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_HEADER] = hook.secret_token
        try:
            response = await client.post(hook.url, content=json.dumps(update), headers=headers)
        except httpx.HTTPError as error:
            return f"Connection failed: {error.__class__.__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"

    async def run(self) -> None:
        """Deliver updates until the state is closed."""
        state = self.state
        backoff = 0.1
        # The client is made on the first delivery: most sandboxes never see a webhook.
        if (update := await self._next()) is None:
            return
        async with httpx.AsyncClient(timeout=self.timeout, verify=tls_context()) as client:
            while update is not None:
                failure = await self._post(client, update)
                if failure is None:
                    backoff = 0.1
                    self.delivered += 1
                    # deleteWebhook(drop_pending_updates) may have emptied the queue meanwhile.
                    if state.updates and state.updates[0] is update:
                        state.updates.popleft()
                else:
                    if state.webhook is not None:
                        state.webhook.last_error_date = state.unix_now()
                        state.webhook.last_error_message = failure
                    await state.wait_for_change(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                update = await self._next()
