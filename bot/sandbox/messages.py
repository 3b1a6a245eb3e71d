"""Bot API methods that send, edit or answer messages, checked and recorded like Telegram."""

from __future__ import annotations

import re
import struct
from typing import Any

from bot.sandbox.calls import Call, bot_method, record_attempt
from bot.sandbox.chats import JsonDict, Target
from bot.sandbox.errors import ApiError, too_many_requests
from bot.sandbox.markup import (
    MarkupError,
    check_caption,
    check_reply_markup,
    check_text,
)
from bot.sandbox.posts import forward_to_discussion, quoted, thread_of

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def writable_target(call: Call) -> Target:
    """Resolve chat_id and refuse chats the bot may not write to."""
    target = call.state.resolve(call.params.chat_id())
    call.state.check_reachable(target)
    return target


def checked_markup(call: Call) -> dict[str, Any] | None:
    """Return the checked inline keyboard the message will carry."""
    try:
        return check_reply_markup(call.params.get_json("reply_markup"))
    except MarkupError as error:
        raise ApiError(400, str(error)) from None


def _checked(check: Any, *args: Any) -> Any:
    """Run a markup check and turn its refusal into a 400 answer."""
    try:
        return check(*args)
    except MarkupError as error:
        raise ApiError(400, str(error)) from None


def replied_message(call: Call, target: Target) -> JsonDict | None:
    """Return the message being replied to, or refuse a reply to a missing message."""
    p = call.params
    reply = p.get_json("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        message_id, lenient = (
            int(reply["message_id"]),
            bool(reply.get("allow_sending_without_reply")),
        )
    else:
        found = p.get_int("reply_to_message_id")
        if found is None:
            return None
        message_id, lenient = found, p.get_bool("allow_sending_without_reply")
    replied = call.state.find_message(target.key, message_id)
    if replied is None and not lenient:
        raise ApiError(400, "Bad Request: message to be replied not found")
    if replied is None:
        return None
    return quoted(replied)


def acquire_send(call: Call, target: Target) -> None:
    """Count the message against the flood limits or answer 429."""
    paid = call.params.get_bool("allow_paid_broadcast")
    wait = call.state.limiter.acquire(target.key, private=target.kind == "private", paid=paid)
    if wait is not None:
        raise too_many_requests(wait)


def _thread(call: Call, target: Target, replied: JsonDict | None) -> int | None:
    """Return the thread the message goes to: the one named, or the one of the reply."""
    named = call.params.get_int("message_thread_id")
    room = target.room
    if named is None or room is None or room.type != "supergroup":
        return thread_of(room, replied) if room is not None else None
    if call.state.find_message(target.key, named) is None:
        raise ApiError(400, "Bad Request: message thread not found")
    return named


def store_sent(
    call: Call,
    target: Target,
    fields: JsonDict,
    markup: JsonDict | None,
    replied: JsonDict | None = None,
) -> JsonDict:
    """Store an outgoing message from the bot and return it (copied to a discussion group)."""
    head: JsonDict = {}
    if target.kind == "channel":
        head["sender_chat"] = target.chat
    else:
        head["from"] = call.bot
    thread = _thread(call, target, replied)
    if thread is not None:
        head["message_thread_id"] = thread
    fields = {**head, **fields}
    if replied is not None:
        fields["reply_to_message"] = replied
    if markup is not None:
        fields["reply_markup"] = markup
    message = call.state.new_message(target.chat, fields)
    if target.room is not None and target.room.type == "channel":
        forward_to_discussion(call.state, target.room, message)
    return message


@bot_method("sendMessage", recorded=True)
def send_message(call: Call) -> JsonDict:
    """Send a text message."""
    p = call.params
    target = writable_target(call)
    text = p.get_str("text")
    plain = _checked(check_text, text, p.get_str("parse_mode"))
    markup = checked_markup(call)
    replied = replied_message(call, target)
    preview = p.get_json("link_preview_options")
    acquire_send(call, target)
    fields: JsonDict = {"text": plain}
    if isinstance(preview, dict):
        fields["link_preview_options"] = preview
    message = store_sent(call, target, fields, markup, replied)
    record_attempt(
        call,
        target.key,
        message_id=message["message_id"],
        reply_markup=markup,
        reply_to_message_id=replied["message_id"] if replied else None,
    )
    return message


def _image_size(data: bytes) -> tuple[int, int]:
    """Return a PNG's width and height; other formats report 0 x 0."""
    if data.startswith(_PNG_MAGIC) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


def _file(call: Call, field: str) -> JsonDict:
    """Return the meta of an uploaded, re-used or URL file given as `field`."""
    state, p = call.state, call.params
    upload = p.files.get(field)
    ref = p.get_str(field)
    if upload is None and ref and ref.startswith("attach://"):
        upload = p.files.get(ref.removeprefix("attach://"))
    if upload is not None:
        width, height = _image_size(upload.data)
        meta: JsonDict = {
            "file_id": f"sandbox-{field}-{len(state.files) + 1}",
            "file_unique_id": f"u{len(state.files) + 1}",
            "file_size": len(upload.data),
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "width": width,
            "height": height,
        }
    elif ref and ref in state.files:
        return state.files[ref]
    elif ref and ref.startswith(("http://", "https://")):
        meta = {
            "file_id": f"sandbox-{field}-{len(state.files) + 1}",
            "file_unique_id": f"u{len(state.files) + 1}",
            "file_size": None,
            "file_name": ref.rsplit("/", 1)[-1] or field,
            "mime_type": None,
            "width": 0,
            "height": 0,
            "url": ref,
        }
    elif ref:
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
    else:
        raise ApiError(400, f"Bad Request: there is no {field} in the request")
    state.files[meta["file_id"]] = meta
    return meta


def _send_media(call: Call, field: str) -> JsonDict:
    """Send a photo or document with an optional caption."""
    p = call.params
    target = writable_target(call)
    caption = _checked(check_caption, p.get_str("caption"), p.get_str("parse_mode"))
    markup = checked_markup(call)
    replied = replied_message(call, target)
    meta = _file(call, field)
    acquire_send(call, target)
    fields: JsonDict = {}
    size = {"file_size": meta["file_size"]} if meta["file_size"] is not None else {}
    ids = {"file_id": meta["file_id"], "file_unique_id": meta["file_unique_id"]}
    if field == "photo":
        fields["photo"] = [{**ids, "width": meta["width"], "height": meta["height"], **size}]
    else:
        fields["document"] = {**ids, "file_name": meta["file_name"], **size}
        if meta["mime_type"]:
            fields["document"]["mime_type"] = meta["mime_type"]
    if caption is not None:
        fields["caption"] = caption
    message = store_sent(call, target, fields, markup, replied)
    record_attempt(
        call,
        target.key,
        message_id=message["message_id"],
        reply_markup=markup,
        reply_to_message_id=replied["message_id"] if replied else None,
        **{field: meta},
    )
    return message


@bot_method("sendPhoto", recorded=True)
def send_photo(call: Call) -> JsonDict:
    """Send a photo (uploaded, by file_id or by URL)."""
    return _send_media(call, "photo")


@bot_method("sendDocument", recorded=True)
def send_document(call: Call) -> JsonDict:
    """Send a document (uploaded, by file_id or by URL)."""
    return _send_media(call, "document")


@bot_method("sendInvoice", recorded=True)
def send_invoice(call: Call) -> JsonDict:
    """Send an invoice the user can pay."""
    p = call.params
    target = writable_target(call)
    title, description = p.require_str("title"), p.require_str("description")
    payload, currency = p.require_str("payload"), p.require_str("currency")
    if not _CURRENCY.match(currency):
        raise ApiError(400, "Bad Request: CURRENCY_INVALID")
    prices = p.get_json("prices")
    if not isinstance(prices, list) or not prices:
        raise ApiError(400, "Bad Request: can't parse prices JSON object")
    try:
        total = sum(int(price["amount"]) for price in prices)
    except (KeyError, TypeError, ValueError):
        raise ApiError(400, "Bad Request: can't parse prices JSON object") from None
    if total <= 0:
        raise ApiError(400, "Bad Request: PAYMENT_AMOUNT_INVALID")
    markup = checked_markup(call)
    acquire_send(call, target)
    invoice = {
        "title": title,
        "description": description,
        "start_parameter": p.get_str("start_parameter") or "",
        "currency": currency,
        "total_amount": total,
    }
    message = store_sent(call, target, {"invoice": invoice}, markup)
    record_attempt(
        call,
        target.key,
        message_id=message["message_id"],
        reply_markup=markup,
        invoice={**invoice, "payload": payload, "prices": prices},
    )
    return message


def _editable(call: Call) -> tuple[Target, JsonDict]:
    """Return the chat and the bot's message an edit names."""
    p = call.params
    if p.has("inline_message_id"):
        raise ApiError(400, "Bad Request: inline messages are not supported by the sandbox")
    target = writable_target(call)
    message = call.state.find_message(target.key, p.require_int("message_id"))
    is_bots = message is not None and (
        message.get("from", {}).get("id") == call.bot["id"] or "sender_chat" in message
    )
    if message is None or not is_bots:
        raise ApiError(400, "Bad Request: message to edit not found")
    return target, message


def _store_edit(call: Call, target: Target, message: JsonDict, changes: JsonDict) -> JsonDict:
    """Store an edited copy of a message, so updates already queued keep the old one."""
    edited = {**message, **changes, "edit_date": call.state.unix_now()}
    if changes.get("reply_markup") is None:
        edited.pop("reply_markup", None)
    call.state.messages[target.key][message["message_id"]] = edited
    record_attempt(
        call,
        target.key,
        message_id=message["message_id"],
        reply_markup=changes.get("reply_markup"),
    )
    return edited


_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@bot_method("editMessageText", recorded=True)
def edit_message_text(call: Call) -> JsonDict:
    """Replace the text (and keyboard) of a message the bot sent."""
    p = call.params
    target, message = _editable(call)
    if "text" not in message:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    plain = _checked(check_text, p.get_str("text"), p.get_str("parse_mode"))
    markup = checked_markup(call)
    if plain == message["text"] and markup == message.get("reply_markup"):
        raise ApiError(400, _NOT_MODIFIED)
    return _store_edit(call, target, message, {"text": plain, "reply_markup": markup})


@bot_method("editMessageReplyMarkup", recorded=True)
def edit_message_reply_markup(call: Call) -> JsonDict:
    """Replace or remove the inline keyboard of a message the bot sent."""
    target, message = _editable(call)
    markup = checked_markup(call)
    if markup == message.get("reply_markup"):
        raise ApiError(400, _NOT_MODIFIED)
    return _store_edit(call, target, message, {"reply_markup": markup})


@bot_method("answerCallbackQuery")
def answer_callback_query(call: Call) -> bool:
    """Answer a button press, once."""
    p = call.params
    query = call.state.callback_queries.get(p.require_str("callback_query_id"))
    if query is None or query["answered"]:
        raise ApiError(
            400,
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
    query.update(
        answered=True,
        text=p.get_str("text"),
        show_alert=p.get_bool("show_alert"),
        url=p.get_str("url"),
    )
    return True
