"""Giving in Telegram: amount buttons, the invoice, the pre-checkout answer, the paid gift."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.ext import CallbackQueryHandler, MessageHandler, PreCheckoutQueryHandler, filters

from bot.domain import callbacks
from bot.domain.i18n import text
from bot.domain.money import format_amount, minor_unit_exponent
from bot.services import conversation
from bot.services.payments import gift_from_payment, gift_invoice, pre_checkout_problem
from bot.telegram.context import BotApplication, BotContext
from bot.telegram.supporters import language_of

log = logging.getLogger(__name__)

# The amounts offered, in major units of MAIN_CURRENCY.
AMOUNTS = (5, 10, 25, 50)


async def give_pressed(update: Update, context: BotContext) -> None:
    """Offer gift amounts for an ask, or send the invoice for the amount chosen."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    language = language_of(query.from_user)
    token, amount = callbacks.read_give(query.data)
    pressed = await conversation.ask_of_button(context.sessions, token=token)
    spec = context.registry.get(pressed.campaign) if pressed and pressed.campaign else None
    provider = context.settings.payment_provider_token
    if spec is None or not provider:
        await query.answer(text("give_unavailable", language), show_alert=True)
        return
    await query.answer()
    currency = context.settings.main_currency
    chat_id = query.message.chat.id
    if amount is None:
        unit = 10 ** minor_unit_exponent(currency)
        buttons = [
            InlineKeyboardButton(
                format_amount(major * unit, currency, language),
                callback_data=callbacks.give(token, major * unit),
            )
            for major in AMOUNTS
        ]
        await context.bot.send_message(
            chat_id, text("give_how_much", language), reply_markup=InlineKeyboardMarkup([buttons])
        )
        return
    try:
        invoice = gift_invoice(spec, token, int(amount), currency)
    except ValueError as exc:
        log.warning("give button with a bad amount %r: %s", query.data, exc)
        return
    await context.bot.send_invoice(
        chat_id,
        invoice.title,
        invoice.description,
        invoice.payload,
        invoice.currency,
        [LabeledPrice(label, amount) for label, amount in invoice.prices],
        provider_token=provider,
    )


async def pre_checkout(update: Update, context: BotContext) -> None:
    """Accept a payment for one of our gift invoices, or say why not."""
    query = update.pre_checkout_query
    if query is None:
        return
    problem = await pre_checkout_problem(
        context.sessions, query.invoice_payload, query.total_amount, query.currency
    )
    await query.answer(ok=problem is None, error_message=problem)


async def paid(update: Update, context: BotContext) -> None:
    """Record a gift paid in Telegram (once per charge), credit it and say thank you."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.successful_payment is None:
        return
    payment = message.successful_payment
    try:
        gift = gift_from_payment(
            payload=payment.invoice_payload,
            currency=payment.currency,
            total_amount=payment.total_amount,
            telegram_payment_charge_id=payment.telegram_payment_charge_id,
            telegram_user_id=user.id,
            paid_at=context.now(),
        )
    except ValueError as exc:
        log.error("successful payment not recorded: %s", exc)
        return
    await context.record_gift(gift)


def add_handlers(application: BotApplication) -> None:
    """Register the payment handlers."""
    application.add_handler(CallbackQueryHandler(give_pressed, pattern=callbacks.GIVE_PATTERN))
    application.add_handler(PreCheckoutQueryHandler(pre_checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid))
