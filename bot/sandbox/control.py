"""The control API under /sandbox: tests and the demo play users and inspect what the bot did."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import bot.sandbox.actions as actions
import bot.sandbox.groups as groups
from bot.sandbox.chats import Chat, ChatKey, JsonDict, User
from bot.sandbox.errors import SandboxError
from bot.sandbox.limits import faults_from_json, limits_from_json
from bot.sandbox.state import SandboxState

Action = Callable[[SandboxState, JsonDict], Any]


def _json(body: Any, status: int = 200) -> Response:
    """Answer JSON without escaping non-ASCII text."""
    return Response(json.dumps(body, ensure_ascii=False), status, media_type="application/json")


def endpoint(action: Action) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an action taking (state, arguments) as a Starlette endpoint answering {"result"}."""

    async def endpoint(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        args: JsonDict = {**request.query_params, **request.path_params}
        body = await request.body()
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                return _json({"error": "body is not JSON"}, 400)
            if not isinstance(data, dict):
                return _json({"error": "body must be a JSON object"}, 400)
            args.update(data)
        try:
            result = action(state, args)
            if inspect.isawaitable(result):
                result = await result
        except SandboxError as error:
            return _json({"error": str(error)}, error.status)
        except (KeyError, TypeError, ValueError) as error:
            return _json({"error": f"bad arguments: {error!r}"}, 400)
        return _json({"result": result})

    return endpoint


def opt_int(args: JsonDict, name: str) -> int | None:
    """Return an optional integer argument."""
    value = args.get(name)
    return None if value is None or value == "" else int(value)


def _chat_key(value: Any) -> ChatKey:
    """Return a chat id from JSON or a query string: an int, or an @username."""
    text = str(value)
    return text if text.startswith("@") else int(text)


def _add_user(state: SandboxState, a: JsonDict) -> JsonDict:
    user = User(
        id=int(a["user_id"]),
        first_name=str(a["first_name"]),
        last_name=a.get("last_name"),
        username=a.get("username"),
        language_code=a.get("language_code", "en"),
        started=bool(a.get("started", False)),
        is_bot=bool(a.get("is_bot", False)),
    )
    return state.add_user(user).as_dict()


def _get_user(state: SandboxState, a: JsonDict) -> JsonDict:
    return state.user(int(a["user_id"])).as_dict()


def _add_chat(state: SandboxState, a: JsonDict) -> JsonDict:
    chat = Chat(
        id=int(a["chat_id"]),
        type=str(a["type"]),
        title=str(a["title"]),
        username=a.get("username"),
        member_count=int(a.get("member_count", 0)),
    )
    added = groups.add_chat(
        state,
        chat,
        owner_id=opt_int(a, "owner_id"),
        bot_status=str(a.get("bot_status", "administrator")),
        bot_rights=a.get("bot_rights"),
    )
    return added.as_dict()


def _start(state: SandboxState, a: JsonDict) -> JsonDict:
    return actions.start(state, int(a["user_id"]), a.get("payload"))


def _text(state: SandboxState, a: JsonDict) -> JsonDict:
    return actions.send_text(
        state,
        int(a["user_id"]),
        str(a["text"]),
        reply_to_message_id=opt_int(a, "reply_to_message_id"),
        chat_id=opt_int(a, "chat_id"),
    )


def _edit(state: SandboxState, a: JsonDict) -> JsonDict:
    return actions.edit_text(
        state,
        int(a["user_id"]),
        int(a["message_id"]),
        str(a["text"]),
        chat_id=opt_int(a, "chat_id"),
    )


def _press(state: SandboxState, a: JsonDict) -> JsonDict:
    return actions.press(
        state,
        int(a["user_id"]),
        int(a["message_id"]),
        str(a["callback_data"]),
        chat_id=opt_int(a, "chat_id"),
    )


def _block(state: SandboxState, a: JsonDict) -> JsonDict | None:
    return actions.block(state, int(a["user_id"]))


def _unblock(state: SandboxState, a: JsonDict) -> JsonDict | None:
    return actions.unblock(state, int(a["user_id"]))


def _deactivate(state: SandboxState, a: JsonDict) -> JsonDict:
    user = state.user(int(a["user_id"]))
    user.deactivated = True
    return user.as_dict()


def _pre_checkout(state: SandboxState, a: JsonDict) -> JsonDict:
    return actions.pre_checkout(
        state,
        int(a["user_id"]),
        str(a["invoice_payload"]),
        str(a["currency"]),
        int(a["total_amount"]),
    )


def _successful_payment(state: SandboxState, a: JsonDict) -> JsonDict:
    return actions.successful_payment(
        state,
        int(a["user_id"]),
        str(a["invoice_payload"]),
        str(a["currency"]),
        int(a["total_amount"]),
        telegram_payment_charge_id=a.get("telegram_payment_charge_id"),
        provider_payment_charge_id=a.get("provider_payment_charge_id"),
    )


def _sent(state: SandboxState, a: JsonDict) -> list[JsonDict]:
    chat = a.get("chat_id")
    accepted_only = str(a.get("accepted_only", "false")).lower() in ("true", "1")
    key = None if chat is None or chat == "" else _chat_key(chat)
    return state.sent(key, accepted_only=accepted_only)


async def _wait_sent(state: SandboxState, a: JsonDict) -> list[JsonDict]:
    chat = a.get("chat_id")
    key = None if chat is None or chat == "" else _chat_key(chat)
    accepted_only = str(a.get("accepted_only", "false")).lower() in ("true", "1")
    count, seconds = int(a.get("count", 1)), float(a.get("timeout", 5))
    return await state.wait_sent(key, count, seconds, accepted_only=accepted_only)


def _callback_query(state: SandboxState, a: JsonDict) -> JsonDict | None:
    return state.callback_queries.get(str(a["query_id"]))


def _pre_checkout_query(state: SandboxState, a: JsonDict) -> JsonDict | None:
    return state.pre_checkout_queries.get(str(a["query_id"]))


def _updates(state: SandboxState, a: JsonDict) -> list[JsonDict]:
    return list(state.updates)


def _commands(state: SandboxState, a: JsonDict) -> list[JsonDict]:
    return [
        {"scope": json.loads(scope), "language_code": language, "commands": commands}
        for (scope, language), commands in state.commands.items()
    ]


def _limits(state: SandboxState, a: JsonDict) -> JsonDict:
    state.limiter.reset(limits_from_json(a))
    return state.limiter.limits.as_dict()


def _faults(state: SandboxState, a: JsonDict) -> JsonDict:
    state.faults.configure(faults_from_json(a))
    return state.faults.faults.as_dict()


def _reset(state: SandboxState, a: JsonDict) -> None:
    state.reset()


def _stats(state: SandboxState, a: JsonDict) -> JsonDict:
    return state.stats()


CONTROL_ROUTES = [
    Route("/users", endpoint(_add_user), methods=["POST"]),
    Route("/users/{user_id:int}", endpoint(_get_user), methods=["GET"]),
    Route("/chats", endpoint(_add_chat), methods=["POST"]),
    Route("/start", endpoint(_start), methods=["POST"]),
    Route("/text", endpoint(_text), methods=["POST"]),
    Route("/edit", endpoint(_edit), methods=["POST"]),
    Route("/press", endpoint(_press), methods=["POST"]),
    Route("/block", endpoint(_block), methods=["POST"]),
    Route("/unblock", endpoint(_unblock), methods=["POST"]),
    Route("/deactivate", endpoint(_deactivate), methods=["POST"]),
    Route("/pre_checkout", endpoint(_pre_checkout), methods=["POST"]),
    Route("/successful_payment", endpoint(_successful_payment), methods=["POST"]),
    Route("/sent", endpoint(_sent), methods=["GET"]),
    Route("/sent/wait", endpoint(_wait_sent), methods=["GET"]),
    Route("/callback_queries/{query_id}", endpoint(_callback_query), methods=["GET"]),
    Route("/pre_checkout_queries/{query_id}", endpoint(_pre_checkout_query), methods=["GET"]),
    Route("/updates", endpoint(_updates), methods=["GET"]),
    Route("/commands", endpoint(_commands), methods=["GET"]),
    Route("/limits", endpoint(_limits), methods=["POST"]),
    Route("/faults", endpoint(_faults), methods=["POST"]),
    Route("/reset", endpoint(_reset), methods=["POST"]),
    Route("/stats", endpoint(_stats), methods=["GET"]),
]
