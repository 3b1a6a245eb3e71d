"""Community chat handlers: hear members as facts, check the bot's rights, staff's /poll."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from telegram import (
    Chat,
    ChatMember,
    Message,
    MessageEntity,
    MessageOriginChannel,
    MessageOriginChat,
    ReactionType,
    ReactionTypeCustomEmoji,
    ReactionTypeEmoji,
    Update,
    User,
)
from telegram.constants import ChatID
from telegram.ext import (
    ApplicationHandlerStop,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    MessageReactionHandler,
    PollAnswerHandler,
    filters,
)

from bot.domain.community import (
    NEUTRAL_SENTIMENT,
    PollError,
    normalise_emoji,
    parse_poll,
    reaction_sentiment,
)
from bot.domain.flags import BurstRule, points_elsewhere
from bot.services import community
from bot.services.community import (
    Answered,
    CommunityRecorder,
    Member,
    MembershipChanged,
    Reacted,
    Spoke,
    ThreadStarted,
    Voted,
)
from bot.services.flags import CasCheck
from bot.services.reading import MessageReader
from bot.telegram.community_rights import check_chat, rights_changed
from bot.telegram.community_state import ADMIN_STATUSES, LISTENING, Listening, listening_of
from bot.telegram.context import BotApplication, BotContext, services_of
from bot.telegram.staff_guard import audit, is_staff

log = logging.getLogger(__name__)

# Listening runs in a group of its own, so it neither hides nor is hidden by the private-chat
# and staff handlers of group 0; commands in community chats are taken before group 0 sees them.
HANDLER_GROUP = 1
COMMAND_GROUP = -1
# Telegram's stand-ins for a chat: automatic forwards, anonymous admins, posts as a channel.
FAKE_SENDERS = frozenset(int(chat_id) for chat_id in ChatID)
_PRESENT = frozenset({ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER})


def _member(user: User) -> Member:
    return Member(
        user_id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name or "",
        username=user.username,
        language=user.language_code,
    )


def _first_hashtag(message: Message) -> str:
    """Return the first hashtag of a message's text or caption, without '#'."""
    kinds: list[str | None] = [MessageEntity.HASHTAG]
    tags: list[str] = []
    # Most messages have no hashtag: parsing entities reads the text as UTF-16 first.
    if message.text and _has_hashtag(message.entities):
        tags = list(message.parse_entities(kinds).values())
    if not tags and message.caption and _has_hashtag(message.caption_entities):
        tags = list(message.parse_caption_entities(kinds).values())
    return tags[0].lstrip("#") if tags else ""


def _has_hashtag(entities: Sequence[MessageEntity]) -> bool:
    return any(entity.type == MessageEntity.HASHTAG for entity in entities)


def _source(chat: Chat) -> str:
    """Name a community chat in interactions' `source`: its title, else @username, else id."""
    return (chat.title or (f"@{chat.username}" if chat.username else "") or str(chat.id))[:120]


def _is_member(user: User | None, message: Message | None = None) -> bool:
    """Tell whether a sender is a person (not a bot, not one of Telegram's stand-ins)."""
    if user is None or user.is_bot or user.id in FAKE_SENDERS:
        return False
    return message is None or message.sender_chat is None


def _speaks_for_us(context: BotContext, state: Listening, message: Message) -> bool:
    """Tell whether a message comes from staff or the chat's administrators."""
    chat_id = message.chat.id
    if message.sender_chat is not None:
        # An anonymous admin writes as the group; a channel admin as the linked channel.
        return message.sender_chat.id in (chat_id, state.linked.get(chat_id))
    user = message.from_user
    return user is not None and (
        is_staff(context, user) or user.id in state.admins.get(chat_id, set())
    )


def _points_elsewhere(message: Message) -> bool:
    """Tell whether a message links out or names another chat, from its entities only."""
    kinds = [e.type for e in (*message.entities, *message.caption_entities)]
    origin = message.forward_origin
    from_chat = isinstance(origin, MessageOriginChannel | MessageOriginChat)
    return points_elsewhere([str(kind) for kind in kinds], forwarded_from_chat=from_chat)


def _said(message: Message) -> str | None:
    """Return what a member said, to classify: text, caption or a sticker's emoji."""
    if message.text is not None:
        if message.text.startswith("/"):
            return None  # a command for some bot, not a comment
        return message.text
    if message.caption:
        return message.caption
    return message.sticker.emoji if message.sticker is not None else None


async def heard(update: Update, context: BotContext) -> None:
    """Turn a message in a community chat into facts: a topic, a comment, an answer, a join."""
    message = update.message
    if message is None:
        return
    state = listening_of(context)
    chat = message.chat
    if message.is_automatic_forward:
        state.recorder.add(ThreadStarted(chat.id, message.message_id, _first_hashtag(message)))
        return
    if message.new_chat_members or message.left_chat_member:
        _service_membership(state, message)
        return
    if _speaks_for_us(context, state, message):
        replied = message.reply_to_message
        if replied is not None:
            state.recorder.add(Answered(chat.id, _source(chat), replied.message_id, message.date))
        return
    user = message.from_user
    said = _said(message)
    if not _is_member(user, message) or said is None:
        return
    assert user is not None
    thread = message.message_thread_id
    replied = message.reply_to_message
    quoted_root = ""
    if thread is not None and replied is not None and replied.message_id == thread:
        quoted_root = _first_hashtag(replied)
    state.recorder.add(
        Spoke(
            chat_id=chat.id,
            source=_source(chat),
            message_id=message.message_id,
            member=_member(user),
            occurred_at=message.date,
            unread=said,  # read by the recorder, in its batch, then dropped
            language=user.language_code,
            own_topic=_first_hashtag(message),
            thread_id=thread,
            quoted_root_topic=quoted_root,
            points_elsewhere=_points_elsewhere(message),
            reply_to_id=replied.message_id if replied is not None else None,
        )
    )


async def heard_only_here(update: Update, context: BotContext) -> None:
    """Hear a community chat's message; no other handler needs it (a busy group sends many)."""
    await heard(update, context)
    raise ApplicationHandlerStop


def _service_membership(state: Listening, message: Message) -> None:
    """Record joins and leaves from service messages, where chat_member updates do not come.

    An administrator bot gets chat_member updates (with the invite link), and those count;
    the service message beside each would count the same join twice.
    """
    if message.chat.id in state.admin_in:
        return
    people = [*message.new_chat_members]
    if message.left_chat_member is not None:
        people.append(message.left_chat_member)
    for user in people:
        if _is_member(user):
            state.joined(
                MembershipChanged(
                    chat_id=message.chat.id,
                    source=_source(message.chat),
                    member=_member(user),
                    joined=message.left_chat_member is None,
                    occurred_at=message.date,
                )
            )


def _present(member: ChatMember) -> bool:
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in _PRESENT


async def membership(update: Update, context: BotContext) -> None:
    """Record a member joining (with the invite link's name) or leaving; track admins."""
    change = update.chat_member
    if change is None:
        return
    state = listening_of(context)
    chat, user = change.chat, change.new_chat_member.user
    admins = state.admins.setdefault(chat.id, set())
    if change.new_chat_member.status in ADMIN_STATUSES:
        admins.add(user.id)
    else:
        admins.discard(user.id)
    was, now = _present(change.old_chat_member), _present(change.new_chat_member)
    if was == now or not _is_member(user):
        return
    link = change.invite_link
    state.joined(
        MembershipChanged(
            chat_id=chat.id,
            source=_source(chat),
            member=_member(user),
            joined=now,
            occurred_at=change.date,
            link_name=link.name if link is not None and now else None,
        )
    )


def _reaction_key(reaction: ReactionType) -> tuple[str, str]:
    """Return a reaction's key and sentiment: emoji by the table, others neutral."""
    if isinstance(reaction, ReactionTypeEmoji):
        emoji = normalise_emoji(reaction.emoji)
        return emoji, reaction_sentiment(emoji)
    if isinstance(reaction, ReactionTypeCustomEmoji):
        return f"custom:{reaction.custom_emoji_id}", NEUTRAL_SENTIMENT
    return str(reaction.type), NEUTRAL_SENTIMENT


async def reacted(update: Update, context: BotContext) -> None:
    """Record each reaction a member adds to a message in a community chat."""
    change = update.message_reaction
    if change is None or not _is_member(change.user):
        return
    assert change.user is not None
    state = listening_of(context)
    if change.user.id in state.admins.get(change.chat.id, set()) or is_staff(context, change.user):
        return
    before = {_reaction_key(r)[0] for r in change.old_reaction}
    for reaction in change.new_reaction:
        key, sentiment = _reaction_key(reaction)
        if key in before:
            continue
        state.recorder.add(
            Reacted(
                chat_id=change.chat.id,
                source=_source(change.chat),
                message_id=change.message_id,
                member=_member(change.user),
                emoji=key,
                sentiment=sentiment,
                occurred_at=change.date,
            )
        )


async def poll_answered(update: Update, context: BotContext) -> None:
    """Record a member's answer to a poll (only the bot's community polls count)."""
    answer = update.poll_answer
    if answer is None or not _is_member(answer.user) or not answer.option_ids:
        return
    assert answer.user is not None
    listening_of(context).recorder.add(
        Voted(
            poll_id=answer.poll_id,
            member=_member(answer.user),
            option_ids=tuple(answer.option_ids),
            occurred_at=context.now(),
        )
    )


async def poll(update: Update, context: BotContext) -> None:
    """Send staff's `/poll QUESTION | option | option` as a poll whose answers are recorded."""
    message, user = update.message, update.effective_user
    if message is None:
        return
    if not is_staff(context, user):
        # Silently: in a public group "/poll" may be meant for another bot.
        await audit(context, user, "poll", allowed=False, detail="refused: not staff")
        raise ApplicationHandlerStop
    try:
        question, options = parse_poll(" ".join(context.args or []))
    except PollError as error:
        await message.reply_text(str(error))
        raise ApplicationHandlerStop from None
    sent = await context.bot.send_poll(
        message.chat.id,
        question,
        options,
        is_anonymous=False,
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
    )
    assert sent.poll is not None
    await community.record_poll(
        context.sessions,
        poll_id=sent.poll.id,
        chat_id=message.chat.id,
        message_id=sent.message_id,
        source=_source(message.chat),
        question=question,
        options=options,
        now=context.now(),
    )
    await audit(context, user, "poll", detail=f"in chat {message.chat.id}: {question}"[:500])
    raise ApplicationHandlerStop


async def other_command(update: Update, context: BotContext) -> None:
    """Leave other commands in community chats alone: staff commands belong elsewhere."""
    # Without this, the staff handlers would answer a member's "/help" in the public group.
    raise ApplicationHandlerStop


@contextlib.asynccontextmanager
async def listening(application: BotApplication) -> AsyncIterator[Listening]:
    """Check the bot's rights in every community chat, then record facts until the end."""
    state: Listening = application.bot_data[LISTENING]
    for chat_id in sorted(state.chat_ids):
        await check_chat(application, state, chat_id)
    try:
        async with state.recorder.running():
            try:
                yield state
            finally:
                await state.checked()
    finally:
        if state.cas is not None:
            await state.cas.aclose()


def add_handlers(application: BotApplication) -> None:
    """Register the community handlers, when there are community chats to listen to."""
    services = services_of(application)
    chat_ids = services.settings.community_chat_ids
    current = services.settings
    burst = BurstRule(joins=current.flag_burst_joins, seconds=current.flag_burst_seconds)
    cas = (
        CasCheck(current.cas_api_url, timeout=current.cas_timeout_seconds)
        if current.cas_check and chat_ids
        else None
    )
    application.bot_data[LISTENING] = Listening(
        chat_ids=chat_ids,
        recorder=CommunityRecorder(
            services.sessions,
            main_currency=current.main_currency,
            burst=burst,
            # No community chat, no members' messages: no worker process either.
            reader=MessageReader(current.community_reader_processes if chat_ids else 0),
        ),
        cas=cas,
    )
    if not chat_ids:
        return
    ids = sorted(chat_ids)
    in_chats = filters.Chat(chat_id=ids) & filters.UpdateType.MESSAGE
    # Commands in community chats are handled here, before the staff handlers see them; so is
    # every other message there (the first handler that matches in a group takes it), and no
    # later handler looks at it.
    commands = [
        CommandHandler("poll", poll, filters=in_chats),
        MessageHandler(in_chats & filters.COMMAND, other_command),
        MessageHandler(in_chats, heard_only_here),
    ]
    application.add_handlers(commands, group=COMMAND_GROUP)
    handlers = [
        ChatMemberHandler(membership, ChatMemberHandler.CHAT_MEMBER, chat_id=ids),
        ChatMemberHandler(rights_changed, ChatMemberHandler.MY_CHAT_MEMBER, chat_id=ids),
        MessageReactionHandler(
            reacted, chat_id=ids, message_reaction_types=MessageReactionHandler.MESSAGE_REACTION
        ),
        PollAnswerHandler(poll_answered),
    ]
    application.add_handlers(handlers, group=HANDLER_GROUP)
