"""The registry of Bot API methods and the one path every call takes through it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.chats import ChatKey, JsonDict
from bot.sandbox.errors import ApiError, too_many_requests
from bot.sandbox.forms import Params
from bot.sandbox.limits import FaultPlan
from bot.sandbox.state import SandboxState

SyncHandler = Callable[["Call"], Any]
AsyncHandler = Callable[["Call"], Awaitable[Any]]


class DroppedConnection(Exception):
    """The fault plan says to close the connection without an answer."""


@dataclass(slots=True)
class Call:
    """One Bot API call: the world, its parameters, the bot making it and the method name."""

    state: SandboxState
    params: Params
    bot: JsonDict
    method: str


@dataclass(frozen=True)
class Method:
    """A Bot API method the sandbox implements."""

    name: str
    handler: SyncHandler | None = None
    async_handler: AsyncHandler | None = None
    # Recorded methods keep every attempt, accepted or not, in SandboxState.records.
    recorded: bool = False


# Keys are lower-case: Telegram matches method names case-insensitively.
METHODS: dict[str, Method] = {}


def bot_method(name: str, *, recorded: bool = False) -> Callable[[SyncHandler], SyncHandler]:
    """Register a synchronous handler for the Bot API method `name`."""

    def register(handler: SyncHandler) -> SyncHandler:
        METHODS[name.lower()] = Method(name, handler=handler, recorded=recorded)
        return handler

    return register


def async_bot_method(name: str) -> Callable[[AsyncHandler], AsyncHandler]:
    """Register an asynchronous handler (one that may wait) for the Bot API method `name`."""

    def register(handler: AsyncHandler) -> AsyncHandler:
        METHODS[name.lower()] = Method(name, async_handler=handler)
        return handler

    return register


def _safe_json(params: Params, name: str) -> Any:
    """Return a JSON parameter, or its raw text when it does not parse."""
    try:
        return params.get_json(name)
    except ApiError:
        return params.values.get(name)


def chat_key(call: Call) -> ChatKey:
    """Return the chat a call names, resolved to an id when the sandbox knows it."""
    raw = call.params.values.get("chat_id")
    try:
        named = call.params.chat_id()
    except ApiError:
        return str(raw)
    if isinstance(named, str):
        return call.state.usernames.get(named.lstrip("@").lower(), named)
    return named


def record_attempt(call: Call, key: ChatKey, **fields: Any) -> JsonDict:
    """Record one send or edit with what the bot asked for; `fields` fill in the outcome."""
    p = call.params
    reply_markup = fields.pop("reply_markup") if "reply_markup" in fields else None
    entry: JsonDict = {
        "method": call.method,
        "chat_id": key,
        "message_id": None,
        "ok": True,
        "error_code": None,
        "description": None,
        "text": p.get_str("text"),
        "caption": p.get_str("caption"),
        "parse_mode": p.get_str("parse_mode"),
        "reply_markup": reply_markup
        if reply_markup is not None
        else _safe_json(p, "reply_markup"),
        "reply_to_message_id": None,
        "disable_notification": p.get_bool("disable_notification"),
        "allow_paid_broadcast": p.get_bool("allow_paid_broadcast"),
        "link_preview_options": _safe_json(p, "link_preview_options"),
        "photo": None,
        "document": None,
        "invoice": None,
        "response_dropped": False,
    }
    entry.update(fields)
    return call.state.record(entry)


def _record_rejection(call: Call, code: int | None, description: str) -> None:
    """Record a send or edit Telegram refused (or whose connection was dropped)."""
    try:
        message_id = call.params.get_int("message_id")
    except ApiError:
        message_id = None
    record_attempt(
        call,
        chat_key(call),
        ok=False,
        error_code=code,
        description=description,
        message_id=message_id,
    )


def _fault_error(plan: FaultPlan) -> ApiError:
    """Return the error answer an injected fault stands for."""
    if plan.status == 429:
        return too_many_requests(plan.retry_after)
    if plan.status == 502:
        return ApiError(502, "Bad Gateway")
    return ApiError(plan.status or 500, "Internal Server Error")


async def run_method(method: Method, call: Call, plan: FaultPlan | None) -> Any:
    """Run one call under its fault plan and return its result; raise ApiError on refusal."""
    try:
        if plan is not None:
            if plan.status is not None:
                raise _fault_error(plan)
            if plan.drop and not plan.drop_after_send:
                if method.recorded:
                    _record_rejection(call, None, "connection dropped")
                raise DroppedConnection
        if method.handler is not None:
            result = method.handler(call)
        else:
            assert method.async_handler is not None
            result = await method.async_handler(call)
    except ApiError as error:
        if method.recorded:
            _record_rejection(call, error.code, error.description)
        raise
    if plan is not None and plan.drop:
        if method.recorded:
            # A synchronous handler recorded last, so the last record is this call's.
            call.state.records[-1]["response_dropped"] = True
        raise DroppedConnection
    return result
