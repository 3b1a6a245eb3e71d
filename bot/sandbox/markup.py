"""Check message text and keyboards the way Telegram does before it accepts a message."""

from __future__ import annotations

import re
from typing import Any

# Telegram's limits, written down here again on purpose rather than imported from
# bot.domain.message_length: the fake must not share the bot's idea of the limits, or a wrong
# constant in the bot would pass every test against it.
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64

_SPECIAL = re.compile(r"[<&]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>")
_ENTITY = re.compile(r"&(#[xX][0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z][A-Za-z0-9]*);")
_ATTR = re.compile(r"""([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "code", "pre", "tg-spoiler"}
)
_URL_SCHEMES = ("http://", "https://", "tg://")
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


class MarkupError(ValueError):
    """Text or a keyboard Telegram would refuse; the message is the Bot API description."""


def _offset(text: str, index: int) -> int:
    """Return the UTF-8 byte offset Telegram names in its parse errors."""
    return len(text[:index].encode())


def _attrs(raw: str) -> dict[str, str]:
    """Read a tag's attributes into a mapping."""
    return {m[1].lower(): m[2] or m[3] or m[4] or "" for m in _ATTR.finditer(raw)}


def _check_start_tag(name: str, raw_attrs: str, text: str, index: int) -> None:
    """Refuse a start tag Telegram does not support."""
    if name in _SIMPLE_TAGS or name == "blockquote":
        return
    attrs = _attrs(raw_attrs)
    if name == "a" and "href" in attrs:
        return
    if name == "span" and attrs.get("class") == "tg-spoiler":
        return
    if name == "tg-emoji" and "emoji-id" in attrs:
        return
    raise MarkupError(
        f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
        f"at byte offset {_offset(text, index)}"
    )


def html_to_plain(text: str) -> str:
    """Check Telegram HTML and return the text a reader sees; raise MarkupError if malformed."""
    if "<" not in text and "&" not in text:
        return text
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while (found := _SPECIAL.search(text, pos)) is not None:
        i = found.start()
        out.append(text[pos:i])
        if text[i] == "&":
            entity = _ENTITY.match(text, i)
            if entity is None:
                out.append("&")
                pos = i + 1
                continue
            name = entity[1]
            if name.startswith(("#x", "#X")):
                out.append(chr(int(name[2:], 16)))
            elif name.startswith("#"):
                out.append(chr(int(name[1:])))
            else:
                # Telegram decodes only four named entities; others stay as typed.
                out.append(_NAMED.get(name, entity[0]))
            pos = entity.end()
            continue
        tag = _TAG.match(text, i)
        if tag is None:
            raise MarkupError(
                'Bad Request: can\'t parse entities: Unexpected character "<" '
                f"at byte offset {_offset(text, i)}; escape it as &lt;"
            )
        closing, name = tag[1] == "/", tag[2].lower()
        if not closing:
            _check_start_tag(name, tag[3], text, i)
            stack.append(name)
        elif not stack:
            raise MarkupError(
                "Bad Request: can't parse entities: Unexpected end tag "
                f"at byte offset {_offset(text, i)}"
            )
        elif stack[-1] != name:
            raise MarkupError(
                "Bad Request: can't parse entities: Unmatched end tag at byte offset "
                f'{_offset(text, i)}, expected "</{stack[-1]}>", found "</{name}>"'
            )
        else:
            stack.pop()
        pos = tag.end()
    if stack:
        raise MarkupError(
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1]}"'
        )
    out.append(text[pos:])
    return "".join(out)


def visible_text(text: str, parse_mode: str | None) -> str:
    """Return what the reader sees of `text` under `parse_mode`, checking HTML on the way."""
    if parse_mode is not None and parse_mode.lower() == "html":
        return html_to_plain(text)
    return text


def check_text(text: str | None, parse_mode: str | None) -> str:
    """Check a message text as sendMessage does and return the visible text."""
    if not text or not text.strip():
        raise MarkupError("Bad Request: message text is empty")
    plain = visible_text(text, parse_mode)
    if len(plain) > MAX_TEXT:
        raise MarkupError("Bad Request: message is too long")
    if not plain.strip():
        raise MarkupError("Bad Request: message text is empty")
    return plain


def check_caption(caption: str | None, parse_mode: str | None) -> str | None:
    """Check a media caption and return its visible text."""
    if caption is None:
        return None
    plain = visible_text(caption, parse_mode)
    if len(plain) > MAX_CAPTION:
        raise MarkupError("Bad Request: message caption is too long")
    return plain


def _check_button(button: Any) -> None:
    """Refuse an inline button Telegram would refuse."""
    if not isinstance(button, dict) or not button.get("text"):
        raise MarkupError(
            "Bad Request: can't parse inline keyboard button: Text must be non-empty"
        )
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if len(actions) != 1:
        raise MarkupError(
            "Bad Request: can't parse inline keyboard button: "
            "exactly one of the optional fields must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
            raise MarkupError("Bad Request: BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(_URL_SCHEMES) or " " in url:
            raise MarkupError(
                f"Bad Request: inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
            )


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Check a reply_markup and return the inline keyboard Telegram echoes in the Message."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise MarkupError("Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        # Reply keyboards, force_reply and remove_keyboard are not echoed back by Telegram.
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise MarkupError('Bad Request: field "inline_keyboard" must be an Array of Arrays')
    for row in rows:
        for button in row:
            _check_button(button)
    return markup


def callback_data_of(markup: dict[str, Any] | None) -> set[str]:
    """Return every callback_data a keyboard carries."""
    if not markup:
        return set()
    return {
        button["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    }


def utf16_len(text: str) -> int:
    """Return the length Telegram uses for entity offsets (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2
