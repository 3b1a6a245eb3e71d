"""Named sources: a poster's deep link and QR code, an invite link, and what they record."""

from __future__ import annotations

import io
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import segno
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.csv_rows import INTERACTION_KIND
from bot.domain.public_asks import RESERVED_PREFIXES
from bot.domain.sending import Sender, SendRefused
from bot.storage import sources
from bot.storage.community_rollup import SOURCE_PREFIX, START_KIND
from bot.storage.models import NamedSource
from bot.storage.supporters import add_interaction, refresh_supporter_scores

# Telegram's deep-link payload (t.me/<bot>?start=...): 1-64 of these characters. /start takes
# any payload and records it as where the supporter came from; a named source gives one a
# meaning, so its name is simply a payload.
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Telegram's limit for an invite link's name, which is the source's name.
INVITE_NAME_MAX = 32
DETAIL_MAX = 500  # Interaction.detail
JOINED_KIND = "joined"
# The `source` of what /start records (services.supporters writes its `start` with it too);
# joins to a community chat carry a source naming the chat instead.
STARTED_VIA = "telegram"
# Kinds every visit records anyway, so a source of that kind would only repeat them.
RESERVED_KINDS = frozenset({START_KIND, JOINED_KIND})
USAGE = "/source NAME [KIND [DETAIL...]], e.g. /source expo-ships visited_exhibition Ships"


class SourceRefused(Exception):
    """A named source cannot be created as asked; the message says why in one line."""


@dataclass(frozen=True)
class SourceRequest:
    """A named source as staff asked for it, checked."""

    name: str
    kind: str | None = None
    detail: str | None = None
    chat_id: int | None = None


@dataclass(frozen=True)
class SourceLinks:
    """A named source with the links to share: the deep link always, an invite link maybe."""

    name: str
    kind: str | None
    detail: str | None
    chat_id: int | None
    invite_link: str | None
    deep_link: str
    existed: bool


@dataclass(frozen=True)
class SourceTally:
    """A named source and how many supporters came through it."""

    name: str
    kind: str | None
    detail: str | None
    chat_id: int | None
    invite_link: str | None
    starts: int
    joins: int


def check_request(
    name: str, kind: str | None = None, detail: str | None = None, chat_id: int | None = None
) -> SourceRequest:
    """Return the request if its name, kind and detail can be used; else raise SourceRefused."""
    if not NAME.fullmatch(name):
        raise SourceRefused(
            f"{name[:80]!r} cannot be a source name: use 1-64 of A-Z a-z 0-9 _ - "
            "(Telegram's rule for deep links), e.g. expo-ships"
        )
    if name.startswith(RESERVED_PREFIXES):
        raise SourceRefused(
            f"{name[:80]!r} cannot be a source name: names starting with "
            f"{' or '.join(RESERVED_PREFIXES)} are the bot's own (public asks, referrals)"
        )
    if kind is not None:
        if not INTERACTION_KIND.fullmatch(kind) or len(kind) > 64:
            raise SourceRefused(
                f"{kind[:80]!r} cannot be an interaction kind: use lowercase letters, digits,"
                " _ or - like visited_exhibition"
            )
        if kind in RESERVED_KINDS:
            raise SourceRefused(f"every visit records {kind!r} already; give another kind")
    detail = (detail or "").strip() or None
    if detail is not None and kind is None:
        raise SourceRefused("a detail needs a kind, e.g. visited_exhibition 'Ships in Bottles'")
    if detail is not None and len(detail) > DETAIL_MAX:
        raise SourceRefused(f"the detail is {len(detail)} characters; at most {DETAIL_MAX}")
    return SourceRequest(name=name, kind=kind, detail=detail, chat_id=chat_id)


def parse_source_args(args: Sequence[str]) -> SourceRequest:
    """Read the arguments of /source NAME [KIND [DETAIL...]]; raise SourceRefused if bad."""
    if not args:
        raise SourceRefused(f"Usage: {USAGE}")
    kind = args[1] if len(args) > 1 else None
    return check_request(args[0], kind, " ".join(args[2:]) or None)


def deep_link(bot_username: str, name: str) -> str:
    """Return the link that opens the bot and sends /start NAME."""
    return f"https://t.me/{bot_username}?start={name}"


def qr_png(link: str, *, scale: int = 10) -> bytes:
    """Draw a link as a QR code PNG, big enough to print on a poster."""
    # Always a full QR code: phones' cameras do not all read the smaller Micro QR codes.
    code = segno.make_qr(link, error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def community_chat(chat_id: int | None, community_chat_ids: Collection[int]) -> int | None:
    """Return the chat a source's invite link goes to: the one given, else the only one set."""
    if chat_id is not None:
        return chat_id
    return next(iter(community_chat_ids)) if len(community_chat_ids) == 1 else None


def _links(source: NamedSource, bot_username: str, *, existed: bool) -> SourceLinks:
    return SourceLinks(
        name=source.name,
        kind=source.kind,
        detail=source.detail,
        chat_id=source.chat_id,
        invite_link=source.invite_link,
        deep_link=deep_link(bot_username, source.name),
        existed=existed,
    )


def _describe(source: NamedSource) -> str:
    if source.kind is None:
        return "no kind"
    return f"{source.kind} {source.detail!r}" if source.detail else source.kind


async def create_source(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    request: SourceRequest,
    *,
    community_chat_ids: Collection[int],
    now: datetime,
) -> SourceLinks:
    """Create a named source with its invite link (when there is a chat) and its deep link.

    Asking again for a source that exists with the same kind and detail returns it unchanged
    (so staff can fetch its QR code again); a different kind or detail is refused. Nothing is
    stored if Telegram refuses the invite link.
    """
    async with sessions() as session:
        existing = await sources.source_by_name(session=session, name=request.name)
    try:
        bot_username = await sender.bot_username()
    except SendRefused as exc:
        raise SourceRefused(str(exc)) from exc
    if not bot_username:  # every bot has one; a user account would not
        raise SourceRefused("Telegram gave no username for the bot, so there is no deep link")
    if existing is not None:
        same = (existing.kind, existing.detail) == (request.kind, request.detail)
        if not same or request.chat_id not in (None, existing.chat_id):
            raise SourceRefused(
                f"a source called {request.name} already exists ({_describe(existing)}, "
                f"chat {existing.chat_id or 'none'}); choose another name"
            )
        return _links(existing, bot_username, existed=True)
    chat_id = community_chat(request.chat_id, community_chat_ids)
    invite_link: str | None = None
    if chat_id is not None:
        if len(request.name) > INVITE_NAME_MAX:
            raise SourceRefused(
                f"{request.name} is {len(request.name)} characters; a source with an invite "
                f"link may have at most {INVITE_NAME_MAX} (Telegram's limit for link names)"
            )
        try:
            invite_link = await sender.create_invite_link(chat_id, name=request.name)
        except SendRefused as exc:
            raise SourceRefused(
                f"Telegram refused an invite link to chat {chat_id}: {exc} (the bot must be an "
                "administrator there, allowed to invite users)"
            ) from exc
    source = NamedSource(
        name=request.name,
        kind=request.kind,
        detail=request.detail,
        chat_id=chat_id,
        invite_link=invite_link,
        created_at=now,
    )
    try:
        async with sessions() as session, session.begin():
            await sources.add_source(session=session, source=source)
    except IntegrityError as exc:  # created by someone else a moment ago
        raise SourceRefused(f"a source called {request.name} already exists") from exc
    return _links(source, bot_username, existed=False)


async def list_sources(sessions: async_sessionmaker[AsyncSession]) -> list[SourceTally]:
    """Return every named source with the supporters who started or joined through it."""
    async with sessions() as session:
        found = await sources.all_sources(session=session)
        names = [source.name for source in found]
        starts = await sources.supporters_per_detail(
            session=session, kind=START_KIND, details=names
        )
        joins = await sources.supporters_per_detail(
            session=session, kind=JOINED_KIND, details=names, excluding_source=STARTED_VIA
        )
    return [
        SourceTally(
            name=source.name,
            kind=source.kind,
            detail=source.detail,
            chat_id=source.chat_id,
            invite_link=source.invite_link,
            starts=starts.get(source.name, 0),
            joins=joins.get(source.name, 0),
        )
        for source in found
    ]


async def record_source_visit(
    session: AsyncSession,
    supporter_id: int,
    name: str,
    now: datetime,
    *,
    started: bool = False,
    chat_id: int | None = None,
    main_currency: str | None,
) -> list[str]:
    """Record what a visit through a named source means for a supporter; return kinds added.

    The contract, for /start and for joins to a community chat:
    - Call it inside the caller's transaction once the supporter exists, with the name the
      visitor brought: the /start payload (started=True), or the `name` of the invite link in
      a chat_member update (chat_id=the chat joined). The caller commits.
    - A name that is no named source, or a join to another chat than the source's, adds
      nothing and returns [].
    - started=True adds `joined` (detail NAME, source "telegram"). A join to the chat does
      not: its handler records `joined` itself (detail NAME, source naming the chat), which
      `sources list` counts as the source's joins.
    - A source with a KIND adds that interaction with the source's DETAIL, source
      "source:NAME".
    - Each is added at most once per supporter and source, however often this is called, so
      starting twice or starting and joining records the source's kind once.
    - Refreshes the supporter's scores (gift totals in `main_currency`) when it added
      something; main_currency=None leaves that to a bulk caller.
    """
    if not NAME.fullmatch(name):
        return []
    source = await sources.source_by_name(session=session, name=name)
    if source is None or (chat_id is not None and chat_id != source.chat_id):
        return []
    wanted: list[tuple[str, str | None, str]] = []
    if started:
        wanted.append((JOINED_KIND, name, STARTED_VIA))
    if source.kind is not None:
        wanted.append((source.kind, source.detail, SOURCE_PREFIX + name))
    added: list[str] = []
    for kind, detail, via in wanted:
        # The joined check names the detail: a start through another source is another join.
        seen = await sources.supporter_has_interaction(
            session=session,
            supporter_id=supporter_id,
            kind=kind,
            source=via,
            detail=detail if kind == JOINED_KIND else None,
        )
        if not seen:
            await add_interaction(
                session=session,
                supporter_id=supporter_id,
                kind=kind,
                occurred_at=now,
                detail=detail,
                source=via,
            )
            added.append(kind)
    if added and main_currency is not None:
        await refresh_supporter_scores(
            session=session, now=now, supporter_ids=[supporter_id], main_currency=main_currency
        )
    return added
