"""The web endpoint: tracked-link redirects, donation webhooks, health, and the bot's webhook."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ruamel.yaml.error import YAMLError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.clock import utcnow
from bot.config import Settings
from bot.domain.attribution import (
    EARLIEST_GIFT,
    GIFT_FUTURE_TOLERANCE,
    SignatureError,
    gift_date_problem,
    is_link_preview,
    is_telegram_id,
    is_token,
    reader_key,
    verify_body_signature,
    verify_stripe_signature,
    with_reference,
)
from bot.domain.campaign import frozen_spec
from bot.domain.money import currency_problem, gift_amount_problem
from bot.domain.spec import Campaign
from bot.services.donations import (
    DonationOutcome,
    IncomingGift,
    record_donation,
    record_donations,
)
from bot.services.group_commit import GroupRunner
from bot.services.links import LinkDesk, Tap
from bot.storage.db import is_sqlite

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
UNKNOWN_LINK = "This link is not known."
STRIPE_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
_DB_ERRORS = (SQLAlchemyError, OSError)

OnGift = Callable[[DonationOutcome], Awaitable[None]]


class PayloadError(ValueError):
    """A donation body that is signed correctly but says something we cannot use."""


# What a signed body we failed to foresee can still raise while it is read. A provider retries
# a 5xx for days, so it gets a 400 and the log keeps the traceback for us.
_UNREADABLE = (ValueError, TypeError, OverflowError, RecursionError)


def _unreadable(provider: str) -> JSONResponse:
    log.warning("signed %s body could not be read", provider, exc_info=True)
    return _error(400, "body cannot be read as a donation")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json"


async def _body(request: Request) -> bytes:
    """Read the raw body (signatures cover its exact bytes), refusing oversized ones early."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"body is not valid JSON ({exc})") from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise PayloadError(f"body cannot be read ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    return data


def _shown(value: Any) -> str:
    """Quote a received value in an error, shortened: it may be thousands of characters."""
    try:
        text = json.dumps(value)
    except (ValueError, TypeError):  # pragma: no cover - what json.loads gives dumps back
        text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{field}: must be an integer (got {_shown(value)})")
    return value


# The databases refuse NUL and text that is not UTF-8 (JSON can carry lone surrogates).
_UNSTORABLE = re.compile(r"[\x00-\x1f\ud800-\udfff]")


def _text(value: Any, field: str, *, limit: int, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise PayloadError(f"{field}: is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field}: must be a string (got {_shown(value)})")
    if len(value) > limit:
        raise PayloadError(f"{field}: must be at most {limit} characters")
    if _UNSTORABLE.search(value):
        raise PayloadError(f"{field}: must not contain control characters or lone surrogates")
    return value.strip()


def _currency(value: Any, field: str = "currency") -> str:
    code = _text(value, field, limit=16, required=True) or ""
    problem = currency_problem(code)
    if problem is not None:
        raise PayloadError(f"{field}: {problem}")
    return code.upper()


def _amount(value: int, currency: str, field: str) -> int:
    problem = gift_amount_problem(value, currency)
    if problem is not None:
        raise PayloadError(f"{field}: {problem}")
    return value


def _gift_date(donated_at: datetime, field: str, *, now: datetime) -> datetime:
    try:
        moment = donated_at.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00
        raise PayloadError(f"{field}: is outside the calendar in UTC") from None
    problem = gift_date_problem(moment, now=now)
    if problem is not None:
        raise PayloadError(f"{field}: {problem} ({moment.isoformat()})")
    return moment


def generic_gift(data: Mapping[str, Any], *, now: datetime) -> IncomingGift:
    """Turn a generic donation webhook body into an incoming gift, or raise PayloadError."""
    event_id = data.get("id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    event_id = _text(event_id, "id", limit=200, required=True)
    if "amount" not in data:
        raise PayloadError("amount: is required (integer minor units, e.g. 2500 for 25.00)")
    amount = data["amount"]
    if isinstance(amount, float | str):
        raise PayloadError(
            "amount: must be an integer of minor units, e.g. 2500 for 25.00 "
            f"(got {_shown(amount)})"
        )
    currency = _currency(data.get("currency"))
    amount = _amount(_int(amount, "amount"), currency, "amount")
    when = _text(data.get("donated_at"), "donated_at", limit=64, required=True) or ""
    try:
        donated_at = datetime.fromisoformat(when)
    except ValueError:
        raise PayloadError(
            f"donated_at: must be an ISO 8601 time like 2026-03-01T12:00:00Z (got {when!r})"
        ) from None
    if donated_at.utcoffset() is None:
        raise PayloadError(f"donated_at: must include a time zone, e.g. Z or +01:00 ({when!r})")
    donor = data.get("donor") or {}
    if not isinstance(donor, dict):
        raise PayloadError("donor: must be an object")
    telegram_user_id = donor.get("telegram_user_id")
    if telegram_user_id is not None:
        telegram_user_id = _int(telegram_user_id, "donor.telegram_user_id")
        if not is_telegram_id(telegram_user_id):
            shown = _shown(telegram_user_id)
            raise PayloadError(f"donor.telegram_user_id: must be a Telegram user id (got {shown})")
    _text(donor.get("email"), "donor.email", limit=320)  # accepted; supporters have no email
    return IncomingGift(
        provider="webhook",
        provider_event_id=event_id or "",
        amount_minor=amount,
        currency=currency,
        donated_at=_gift_date(donated_at, "donated_at", now=now),
        reference=_text(data.get("reference"), "reference", limit=64),
        telegram_user_id=telegram_user_id,
        username=_text(donor.get("username"), "donor.username", limit=64),
        external_id=_text(donor.get("external_id"), "donor.external_id", limit=120),
        campaign_name=_text(data.get("campaign"), "campaign", limit=120),
    )


def _stripe_time(value: Any, field: str, *, now: datetime) -> datetime:
    seconds = _int(value, field)
    if not EARLIEST_GIFT.timestamp() <= seconds <= (now + GIFT_FUTURE_TOLERANCE).timestamp():
        raise PayloadError(f"{field}: {_shown(seconds)} is not a time a gift can be dated")
    return datetime.fromtimestamp(seconds, UTC)


def stripe_gift(event: Mapping[str, Any], *, now: datetime) -> IncomingGift | str:
    """Turn a Stripe event into an incoming gift, or say why it is not a completed donation."""
    event_id = _text(event.get("id"), "id", limit=200, required=True) or ""
    kind = event.get("type")
    if kind not in STRIPE_EVENTS:
        return f"event type {_shown(kind)} is not a donation"
    data = event.get("data")
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict):
        raise PayloadError("data.object: must be the Checkout Session")
    if kind == STRIPE_EVENTS[0] and session.get("payment_status") != "paid":
        return "checkout completed but not paid yet (await async_payment_succeeded)"
    if session.get("amount_total") in (None, 0):
        return "checkout for no amount"
    currency = _currency(session.get("currency"), "data.object.currency")
    field = "data.object.amount_total"
    amount = _amount(_int(session.get("amount_total"), field), currency, field)
    created = event.get("created", session.get("created"))
    # Stripe retries a refused event for days, so a reference we did not write is dropped
    # (the gift is still recorded) rather than refused.
    reference = session.get("client_reference_id")
    return IncomingGift(
        provider="stripe",
        provider_event_id=event_id,
        amount_minor=amount,
        currency=currency,
        donated_at=_stripe_time(created, "created", now=now),
        reference=reference if isinstance(reference, str) and is_token(reference) else None,
    )


def _frozen_link(spec_yaml: str, token: str) -> str | None:
    """Read the donate URL from the spec a campaign launched with, when it is not loaded now."""
    try:
        spec = frozen_spec(spec_yaml) if spec_yaml else None
    except (ValueError, YAMLError):
        return None
    return with_reference(spec.donate_url, spec.reference_param, token) if spec else None


def create_web_app(
    *,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    specs: Callable[[], Mapping[str, Campaign]],
    clock: Callable[[], datetime] = utcnow,
    on_gift: OnGift | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the Starlette app: /healthz, /r/{token}, /donations/stripe, /donations/webhook."""
    dedup = timedelta(seconds=settings.click_dedup_seconds)
    # SQLite has one writer: queueing this app's writes here is far faster under a burst than
    # letting each transaction poll busy_timeout. PostgreSQL takes them concurrently.
    writing: contextlib.AbstractAsyncContextManager[Any] = (
        asyncio.Lock() if is_sqlite(settings.database_url) else contextlib.nullcontext()
    )
    # One group at a time on PostgreSQL too: four at once made groups smaller and doubled the
    # CPU per tap (1.2 ms against 0.6 ms in benchmarks/webhooks.py).
    links = LinkDesk(sessions, dedup=dedup, writing=writing)

    async def _store_gifts(gifts: Sequence[IncomingGift]) -> list[DonationOutcome | Exception]:
        now, loaded = clock(), specs()
        main = settings.main_currency
        async with writing:
            try:
                together = await record_donations(
                    sessions, gifts, now=now, specs=loaded, main_currency=main
                )
                return list(together)
            except _DB_ERRORS:
                if len(gifts) == 1:
                    raise
            # One gift the database refuses must not fail the others: each on its own.
            alone: list[DonationOutcome | Exception] = []
            for gift in gifts:
                try:
                    alone.append(
                        await record_donation(
                            sessions, gift, now=now, specs=loaded, main_currency=main
                        )
                    )
                except _DB_ERRORS as exc:
                    alone.append(exc)
            return alone

    # On PostgreSQL a second group runs while the first waits for the server: groups are
    # smaller (1.06 against 0.80 ms of CPU a gift) but twice as many run, 0.99x of the bare
    # endpoint instead of 0.75x (benchmarks/webhooks.py, loaded machine). Two groups never
    # wait on each other in a circle: both insert in event order and update in supporter order.
    lanes = 1 if is_sqlite(settings.database_url) else 2
    store_gift = GroupRunner(_store_gifts, lanes=lanes)

    async def healthz(request: Request) -> Response:
        try:
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
        except _DB_ERRORS as exc:
            log.warning("health check: database unavailable: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def tracked_link(request: Request) -> Response:
        token = request.path_params["token"]
        if not is_token(token):
            return PlainTextResponse(UNKNOWN_LINK, status_code=404)
        try:
            target = await links.find(token)
        except _DB_ERRORS as exc:
            log.error("tracked link %s: database unavailable: %s", token, exc)
            return PlainTextResponse("Please try again in a moment.", status_code=503)
        if target is None:
            return PlainTextResponse(UNKNOWN_LINK, status_code=404)
        spec = specs().get(target.campaign_name)
        url: str | None
        if spec is not None:
            url = with_reference(spec.donate_url, spec.reference_param, token)
        else:
            url = _frozen_link(target.spec_yaml, token)
        if url is None:
            log.warning(
                "tracked link %s: campaign %s has no donate URL", token, target.campaign_name
            )
            return PlainTextResponse(UNKNOWN_LINK, status_code=404)
        agent = request.headers.get("user-agent")
        if not is_link_preview(agent, request.method):
            host = request.client.host if request.client else ""
            client = reader_key(host, agent, settings.link_hash_secret)
            await _count_click(Tap(target, clock(), agent, client))
        # no-store: a cached redirect would hide repeat taps, and previews must not be reused.
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})

    async def _count_click(tap: Tap) -> None:
        try:
            await links.count(tap)
        except _DB_ERRORS as exc:
            # The giver still reaches the donation page; a lost click is only a lost count.
            log.error("click on %s not recorded: %s", tap.target.token, exc)

    async def _record(gift: IncomingGift) -> Response:
        try:
            outcome = await store_gift(gift)
        except _DB_ERRORS as exc:
            log.error(
                "donation %s/%s not recorded: %s", gift.provider, gift.provider_event_id, exc
            )
            return _error(503, "database unavailable; please retry")
        if outcome.duplicate:
            return JSONResponse({"status": "duplicate", "donation_id": outcome.donation_id})
        body = {
            "status": "recorded",
            "donation_id": outcome.donation_id,
            "attribution": outcome.attribution,
            "campaign": outcome.campaign_name,
        }
        task = BackgroundTask(_announce, outcome) if on_gift is not None else None
        return JSONResponse(body, background=task)

    async def _announce(outcome: DonationOutcome) -> None:
        if on_gift is None:
            return
        try:
            await on_gift(outcome)
        except Exception:  # announcing is a courtesy; the gift is already stored
            log.exception("announcing donation %s failed", outcome.donation_id)

    async def stripe_webhook(request: Request) -> Response:
        secret = settings.stripe_webhook_secret
        if not secret:
            return _error(503, "Stripe webhooks are not configured (set STRIPE_WEBHOOK_SECRET)")
        if not _is_json(request):
            return _error(415, "Content-Type must be application/json")
        body = await _body(request)
        try:
            verify_stripe_signature(
                body, request.headers.get("stripe-signature"), secret, now=clock()
            )
            gift = stripe_gift(_json_object(body), now=clock())
        except SignatureError as exc:
            return _error(400, f"signature rejected: {exc}")
        except PayloadError as exc:
            return _error(400, str(exc))
        except _UNREADABLE:
            return _unreadable("stripe")
        if isinstance(gift, str):
            return JSONResponse({"status": "ignored", "reason": gift})
        return await _record(gift)

    async def donation_webhook(request: Request) -> Response:
        secret = settings.donation_webhook_secret
        if not secret:
            return _error(
                503, "donation webhooks are not configured (set DONATION_WEBHOOK_SECRET)"
            )
        if not _is_json(request):
            return _error(415, "Content-Type must be application/json")
        body = await _body(request)
        try:
            verify_body_signature(body, request.headers.get("x-signature"), secret)
        except SignatureError as exc:
            return _error(401, f"signature rejected: {exc}")
        try:
            gift = generic_gift(_json_object(body), now=clock())
        except PayloadError as exc:
            return _error(400, str(exc))
        except _UNREADABLE:
            return _unreadable("webhook")
        return await _record(gift)

    async def plain_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return PlainTextResponse(exc.detail, status_code=exc.status_code)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return PlainTextResponse("Something went wrong.", status_code=500)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/r/{token}", tracked_link, methods=["GET"]),
        Route("/donations/stripe", stripe_webhook, methods=["POST"]),
        Route("/donations/webhook", donation_webhook, methods=["POST"]),
        *extra_routes,
    ]
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: plain_error, Exception: plain_error},
    )
