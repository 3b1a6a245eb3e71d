"""The Telegram webhook route: checks Telegram's secret token and queues the update."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are small; anything bigger is not from Telegram.
MAX_UPDATE_BYTES = 1024 * 1024


def webhook_url(public_base_url: str) -> str:
    """Return the URL Telegram is told to deliver updates to."""
    return public_base_url.rstrip("/") + WEBHOOK_PATH


def telegram_route(application: Application[Any, Any, Any, Any, Any, Any], secret: str) -> Route:
    """Build the POST /telegram route; a missing or wrong secret token gets 403."""
    if not secret:
        raise ValueError("a webhook needs a secret token")
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "wrong or missing secret token"}, status_code=403)
        body = await request.body()
        if len(body) > MAX_UPDATE_BYTES:
            return JSONResponse({"error": "update too large"}, status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("no update_id")
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            log.warning("webhook: unreadable update: %s", exc)
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(WEBHOOK_PATH, receive, methods=["POST"])
