"""Polls: the bot sends and stops them (sendPoll, stopPoll), people vote (poll_answer)."""

from __future__ import annotations

import copy

from bot.sandbox.calls import Call, bot_method, record_attempt
from bot.sandbox.chats import JsonDict
from bot.sandbox.errors import ApiError, SandboxError
from bot.sandbox.messages import (
    acquire_send,
    checked_markup,
    replied_message,
    store_sent,
    writable_target,
)
from bot.sandbox.state import SandboxState

MAX_QUESTION = 300
MAX_OPTION = 100
MIN_OPTIONS, MAX_OPTIONS = 2, 12


def _options(call: Call) -> list[str]:
    """Return the answer options' texts (InputPollOption objects, or plain strings)."""
    raw = call.params.get_json("options")
    if not isinstance(raw, list):
        raise ApiError(400, "Bad Request: can't parse options JSON object")
    texts = [str(o.get("text", "")) if isinstance(o, dict) else str(o) for o in raw]
    if not MIN_OPTIONS <= len(texts) <= MAX_OPTIONS:
        raise ApiError(400, f"Bad Request: poll must have {MIN_OPTIONS}-{MAX_OPTIONS} options")
    if any(not 1 <= len(text) <= MAX_OPTION for text in texts):
        raise ApiError(400, "Bad Request: POLL_OPTION_INVALID")
    return texts


def _correct_options(call: Call, count: int) -> list[int]:
    """Return a quiz's correct options (correct_option_ids, or the older correct_option_id)."""
    p = call.params
    ids = p.get_json("correct_option_ids")
    if not isinstance(ids, list):
        single = p.get_int("correct_option_id")
        ids = [single] if single is not None else []
    chosen = sorted({int(i) for i in ids})
    if not chosen or any(not 0 <= i < count for i in chosen):
        raise ApiError(400, "Bad Request: wrong correct option specified for a quiz")
    return chosen


@bot_method("sendPoll", recorded=True)
def send_poll(call: Call) -> JsonDict:
    """Send a poll; non-anonymous polls report each vote to the bot."""
    state, p = call.state, call.params
    target = writable_target(call)
    question = p.require_str("question")
    if not 1 <= len(question) <= MAX_QUESTION:
        raise ApiError(400, "Bad Request: POLL_QUESTION_INVALID")
    texts = _options(call)
    kind = p.get_str("type") or "regular"
    if kind not in ("regular", "quiz"):
        raise ApiError(400, "Bad Request: wrong poll type specified")
    anonymous = p.get_bool("is_anonymous") if p.has("is_anonymous") else True
    if not anonymous and target.kind == "channel":
        raise ApiError(400, "Bad Request: non-anonymous polls can't be sent to channel chats")
    poll_id = str(5_000_000_000_000_000 + len(state.polls) + 1)
    poll: JsonDict = {
        "id": poll_id,
        "question": question,
        "options": [
            {"persistent_id": str(i), "text": text, "voter_count": 0}
            for i, text in enumerate(texts)
        ],
        "total_voter_count": 0,
        "is_closed": p.get_bool("is_closed"),
        "is_anonymous": anonymous,
        "type": kind,
        "allows_multiple_answers": kind == "regular" and p.get_bool("allows_multiple_answers"),
        # Regular polls let people change their vote unless told otherwise; quizzes do not.
        "allows_revoting": p.get_bool("allows_revoting")
        if p.has("allows_revoting")
        else kind == "regular",
        "members_only": p.get_bool("members_only"),
    }
    if kind == "quiz":
        poll["correct_option_ids"] = _correct_options(call, len(texts))
    markup = checked_markup(call)
    replied = replied_message(call, target)
    acquire_send(call, target)
    message = store_sent(call, target, {"poll": copy.deepcopy(poll)}, markup, replied)
    state.polls[poll_id] = {
        "chat_id": target.key,
        "message_id": message["message_id"],
        "poll": poll,
        "votes": {},
    }
    record_attempt(
        call,
        target.key,
        message_id=message["message_id"],
        reply_markup=markup,
        reply_to_message_id=replied["message_id"] if replied else None,
        poll=copy.deepcopy(poll),
    )
    return message


@bot_method("stopPoll")
def stop_poll(call: Call) -> JsonDict:
    """Close a poll the bot sent and return its final state."""
    state, p = call.state, call.params
    target = writable_target(call)
    message_id = p.require_int("message_id")
    found = next(
        (
            entry
            for entry in state.polls.values()
            if entry["chat_id"] == target.key and entry["message_id"] == message_id
        ),
        None,
    )
    if found is None:
        raise ApiError(400, "Bad Request: message with poll to stop not found")
    poll = found["poll"]
    if poll["is_closed"]:
        raise ApiError(400, "Bad Request: poll has already been closed")
    poll["is_closed"] = True
    state.enqueue("poll", copy.deepcopy(poll))
    return copy.deepcopy(poll)


def vote(
    state: SandboxState,
    user_id: int,
    poll_id: str,
    option_ids: list[int],
) -> JsonDict:
    """Have a person vote (no options: take the vote back); return poll_answer or poll."""
    user = state.user(user_id)
    entry = state.polls.get(poll_id)
    if entry is None:
        raise SandboxError(404, f"no poll {poll_id} sent by the bot")
    poll = entry["poll"]
    if poll["is_closed"]:
        raise SandboxError(400, "the poll is closed")
    chosen = sorted(set(option_ids))
    if any(not 0 <= i < len(poll["options"]) for i in chosen):
        raise SandboxError(400, f"the poll has options 0 to {len(poll['options']) - 1}")
    if len(chosen) > 1 and not poll["allows_multiple_answers"]:
        raise SandboxError(400, "the poll allows one answer")
    votes: dict[int, list[int]] = entry["votes"]
    if user_id in votes and not poll["allows_revoting"]:
        raise SandboxError(400, "the poll does not let people change their vote")
    if not chosen and user_id not in votes:
        raise SandboxError(400, f"user {user_id} has not voted")
    votes.pop(user_id, None)
    if chosen:
        votes[user_id] = chosen
    for index, option in enumerate(poll["options"]):
        option["voter_count"] = sum(index in picked for picked in votes.values())
    poll["total_voter_count"] = len(votes)
    answer = None
    if not poll["is_anonymous"]:
        payload = {
            "poll_id": poll_id,
            "user": user.as_user(),
            "option_ids": chosen,
            "option_persistent_ids": [poll["options"][i]["persistent_id"] for i in chosen],
        }
        answer = state.enqueue("poll_answer", payload)
    # Bots also hear the new state of every poll they sent.
    update = state.enqueue("poll", copy.deepcopy(poll))
    return answer or update
