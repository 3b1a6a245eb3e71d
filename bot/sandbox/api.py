"""Bot API methods about the bot itself: identity, updates, webhook, commands, payments."""

from __future__ import annotations

import asyncio
import json
import re

# Importing these registers their methods: sending, chats and members, polls.
import bot.sandbox.chat_api
import bot.sandbox.deletes
import bot.sandbox.messages
import bot.sandbox.polls  # noqa: F401
from bot.sandbox.calls import METHODS, Call, Method, async_bot_method, bot_method
from bot.sandbox.chats import JsonDict, Webhook
from bot.sandbox.errors import ApiError

__all__ = ["METHODS", "Method"]

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


@bot_method("getMe")
def get_me(call: Call) -> JsonDict:
    """Return the bot's user; can_read_all_group_messages says whether privacy mode is off."""
    return {**call.bot, "can_read_all_group_messages": not call.state.privacy_mode}


def _seconds(call: Call, name: str) -> float:
    """Return a non-negative number of seconds given as int or float text."""
    raw = call.params.values.get(name)
    if raw is None or raw == "":
        return 0.0
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


@async_bot_method("getUpdates")
async def get_updates(call: Call) -> list[JsonDict]:
    """Return pending updates, waiting up to `timeout` seconds for the first one."""
    state, p = call.state, call.params
    if state.webhook is not None:
        raise ApiError(409, _WEBHOOK_ACTIVE)
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = _seconds(call, "timeout")
    kinds = p.get_json("allowed_updates")
    if isinstance(kinds, list):
        state.set_allowed_updates([str(kind) for kind in kinds])
    state.confirm(p.get_int("offset"))
    generation = state.begin_poll()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        batch = state.peek(limit)
        remaining = deadline - loop.time()
        if batch or remaining <= 0 or state.closed:
            return batch
        await state.wait_for_change(remaining)
        if state.poll_generation != generation:
            raise ApiError(409, _OTHER_POLL)
        if state.webhook is not None:
            raise ApiError(409, _WEBHOOK_ACTIVE)


@bot_method("setWebhook")
def set_webhook(call: Call) -> bool:
    """Deliver updates by POSTing them to a URL from now on."""
    state, p = call.state, call.params
    url = p.get_str("url") or ""
    if not url:
        state.set_webhook(None)
        return True
    if not url.startswith(("http://", "https://")):
        raise ApiError(400, "Bad Request: bad webhook: an HTTP or HTTPS URL must be provided")
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET.match(secret):
        raise ApiError(400, "Bad Request: secret token contains unallowed characters")
    if p.get_bool("drop_pending_updates"):
        state.drop_pending()
    kinds = p.get_json("allowed_updates")
    if isinstance(kinds, list):
        state.set_allowed_updates([str(kind) for kind in kinds])
    max_connections = p.get_int("max_connections") or 40
    state.set_webhook(
        Webhook(url, secret, max_connections, kinds if isinstance(kinds, list) else None)
    )
    return True


@bot_method("deleteWebhook")
def delete_webhook(call: Call) -> bool:
    """Stop webhook delivery so getUpdates works again."""
    if call.params.get_bool("drop_pending_updates"):
        call.state.drop_pending()
    call.state.set_webhook(None)
    return True


@bot_method("getWebhookInfo")
def get_webhook_info(call: Call) -> JsonDict:
    """Describe the webhook and how many updates wait for it."""
    state = call.state
    hook = state.webhook
    info: JsonDict = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(state.updates),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.allowed_updates is not None:
            info["allowed_updates"] = hook.allowed_updates
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    return info


def _commands_key(call: Call) -> tuple[str, str]:
    """Return the (scope, language) key commands are stored under."""
    scope = call.params.get_json("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), call.params.get_str("language_code") or ""


@bot_method("setMyCommands")
def set_my_commands(call: Call) -> bool:
    """Store the command list for a scope and language."""
    commands = call.params.get_json("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise ApiError(400, "Bad Request: can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
            raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
    key = _commands_key(call)
    if commands:
        call.state.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
    else:
        call.state.commands.pop(key, None)
    return True


@bot_method("getMyCommands")
def get_my_commands(call: Call) -> list[JsonDict]:
    """Return the command list stored for a scope and language."""
    return call.state.commands.get(_commands_key(call), [])


@bot_method("deleteMyCommands")
def delete_my_commands(call: Call) -> bool:
    """Forget the command list of a scope and language."""
    call.state.commands.pop(_commands_key(call), None)
    return True


@bot_method("answerPreCheckoutQuery")
def answer_pre_checkout_query(call: Call) -> bool:
    """Accept or refuse a payment before it is charged."""
    p = call.params
    query = call.state.pre_checkout_queries.get(p.require_str("pre_checkout_query_id"))
    if query is None or query["answered"]:
        raise ApiError(400, "Bad Request: QUERY_ID_INVALID")
    ok = p.get_bool("ok")
    if not ok and not p.get_str("error_message"):
        raise ApiError(400, "Bad Request: ERROR_MESSAGE_EMPTY")
    query.update(answered=True, ok=ok, error_message=p.get_str("error_message"))
    return True
