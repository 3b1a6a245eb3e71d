"""People reacting to messages: named reactions in groups, anonymous counts in channels."""

from __future__ import annotations

from collections import Counter

from bot.sandbox.chats import JsonDict
from bot.sandbox.errors import SandboxError
from bot.sandbox.state import SandboxState

# The emoji a ReactionTypeEmoji may carry (Bot API reference). Telegram writes the heart
# without U+FE0F, and joins the combined ones with U+200D.
_OFFERED = (
    "👍 👎 ❤ 🔥 🥰 👏 😁 🤔 🤯 😱 🤬 😢 🎉 🤩 🤮 💩 🙏 👌 🕊 🤡 "
    "🥱 🥴 😍 🐳 ❤\u200d🔥 🌚 🌭 💯 🤣 ⚡ 🍌 🏆 💔 🤨 😐 🍓 🍾 💋 "
    "🖕 😈 😴 😭 🤓 👻 👨\u200d💻 👀 🎃 🙈 😇 😨 🤝 ✍ 🤗 🫡 🎅 🎄 "
    "☃ 💅 🤪 🗿 🆒 💘 🙉 🦄 😘 💊 🙊 😎 👾 🤷\u200d♂ 🤷 🤷\u200d♀ 😡"
)
REACTION_EMOJI = frozenset(_OFFERED.split())
# Telegram Premium users may set three reactions on one message; others one.
MAX_REACTIONS = 3


def _reaction(emoji: str) -> JsonDict:
    """Return a ReactionTypeEmoji object."""
    return {"type": "emoji", "emoji": emoji}


def _checked(emoji: list[str]) -> list[str]:
    """Return the reactions without repeats, refusing emoji Telegram does not offer."""
    chosen = list(dict.fromkeys(emoji))
    wrong = [e for e in chosen if e not in REACTION_EMOJI]
    if wrong:
        raise SandboxError(400, f"not a reaction Telegram offers: {' '.join(wrong)}")
    if len(chosen) > MAX_REACTIONS:
        raise SandboxError(400, f"at most {MAX_REACTIONS} reactions per person")
    return chosen


def react(
    state: SandboxState, user_id: int, chat_id: int, message_id: int, emoji: list[str]
) -> JsonDict | None:
    """Set a person's reactions on a message (empty: take them back); return the update."""
    chat, user = state.chat(chat_id), state.user(user_id)
    if state.find_message(chat_id, message_id) is None:
        raise SandboxError(404, f"no message {message_id} in chat {chat_id}")
    if chat.member(user_id).status == "kicked":
        raise SandboxError(403, f"user {user_id} is banned from chat {chat_id}")
    new = _checked(emoji)
    by_user = state.reactions.setdefault((chat_id, message_id), {})
    old = by_user.pop(user_id, [])
    if new:
        by_user[user_id] = new
    if old == new:
        return None
    base = {"chat": chat.as_chat(), "message_id": message_id, "date": state.unix_now()}
    admin = chat.bot_member.is_admin
    if chat.type == "channel":
        counts = Counter(e for chosen in by_user.values() for e in chosen)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        payload = {
            **base,
            "reactions": [{"type": _reaction(e), "total_count": n} for e, n in ranked],
        }
        return state.enqueue("message_reaction_count", payload, visible=admin)
    payload = {
        **base,
        "user": user.as_user(),
        "old_reaction": [_reaction(e) for e in old],
        "new_reaction": [_reaction(e) for e in new],
    }
    # Telegram does not report reactions set by bots.
    return state.enqueue("message_reaction", payload, visible=admin and not user.is_bot)
