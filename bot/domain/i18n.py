"""The texts supporters see, per language, as Telegram HTML with the values escaped."""

from __future__ import annotations

import html
from datetime import date

DEFAULT_LANGUAGE = "en"

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": (
            "Hello {name}! Thank you for starting our bot. Now and then we will message you "
            "about our work and how you can help. Reply any time: a person reads every "
            "message.\n\nSend /stop to stop all messages, /privacy to see what we keep."
        ),
        "welcome_back": (
            "Welcome back, {name}! You will hear from us again. Send /stop at any time to "
            "stop all messages."
        ),
        "opted_out": (
            "Done: you will not get any more messages from us. Changed your mind? Send /start."
        ),
        "opt_out_offer": (
            "Would you rather get no more messages from us? Tap “Stop messages” and we will "
            "stop. If not, there is nothing to do: our team has your message."
        ),
        "share_links": "Share this link with a friend: {link}",
        "share_invite": "Or invite them to our community chat: {link}",
        "share_unavailable": "Send /start first, then /share gives you your own link.",
        "button_share": "Share with a friend",
        "privacy": (
            "<b>What we keep about you</b>\n"
            "• your Telegram name, username, id and language;\n"
            "• how you found us (the link you started the bot with);\n"
            "• the messages you send us and our answers, also as copies in our staff chat;\n"
            "• when you tap our buttons and links (with a keyed fingerprint of your browser "
            "and address, never the address itself), and gifts you make through them;\n"
            "• our staff's actions about you, in our audit log;\n"
            "• from our groups: that you commented, asked a question (and got an answer), "
            "reacted, joined or left, or answered a poll, with its topic and tone; never the "
            "text of your messages.\n\n"
            "We use this only to send you asks that fit your interests and to learn which "
            "asks work. We never sell it. Only /start signs you up: a message you send "
            "without it reaches a person, nothing more.\n\n"
            "Send /stop to stop all messages. Send /forget to delete your personal data, "
            "the staff chat's copies included; we then keep only anonymous counts for our "
            "reports."
        ),
        "community_notice": (
            "This group is read by our bot, {bot}. It notes who comments, asks, reacts, "
            "joins or answers a poll here, with the topic and the tone, so we can thank you "
            "and ask you about what you care about; it never keeps what you write. Start "
            "{bot} and send /privacy to see what we keep, or /forget to have it deleted."
        ),
        "forget_question": (
            "Delete everything we know about you? We keep only anonymous counts for our "
            "reports. This cannot be undone."
        ),
        "forget_yes": "Yes, delete my data",
        "forget_no": "No, keep it",
        "forgotten": (
            "Done: your personal data is deleted and you will not hear from us again. "
            "Send /start if you ever want to come back."
        ),
        "forget_kept": "Nothing was deleted.",
        "nothing_to_forget": "We do not keep any personal data about you.",
        "staff_only": "Sorry, this command is for the organisation's staff.",
        "not_now": "Noted: we will not ask you again for this one.",
        "help": (
            "This bot keeps you up to date and lets you reply to us directly: a person "
            "reads every message.\n\n"
            "/start: start or restart messages\n"
            "/stop: stop all messages\n"
            "/privacy: what we keep about you\n"
            "/forget: delete your personal data\n"
            "/share: your own link to share with a friend"
        ),
        "give_how_much": "Thank you! How much would you like to give?",
        "give_unavailable": "Giving in Telegram is not available for this campaign.",
        "cmd_start": "Start or restart messages",
        "cmd_stop": "Stop all messages",
        "cmd_privacy": "What we keep about you",
        "cmd_forget": "Delete your personal data",
        "cmd_help": "How this bot works",
        "cmd_share": "Your own link to share with a friend",
        "button_donate": "Donate",
        "button_open_bot": "Open privately",
        "button_give": "Give in Telegram",
        "button_not_now": "Not now",
        "button_stop": "Stop messages",
    },
    "nl": {
        "greeting": (
            "Hallo {name}! Bedankt dat je onze bot hebt gestart. Af en toe sturen we je een "
            "bericht over ons werk en hoe je kunt helpen. Je kunt altijd antwoorden: een "
            "mens leest elk bericht.\n\nStuur /stop om geen berichten meer te krijgen, "
            "/privacy om te zien wat we bewaren."
        ),
        "welcome_back": (
            "Welkom terug, {name}! Je hoort weer van ons. Stuur op elk moment /stop om geen "
            "berichten meer te krijgen."
        ),
        "opted_out": (
            "Geregeld: je krijgt geen berichten meer van ons. Toch weer wel? Stuur /start."
        ),
        "opt_out_offer": (
            "Wil je liever geen berichten meer van ons? Tik op “Stop berichten” en we stoppen. "
            "Zo niet, dan hoef je niets te doen: ons team heeft je bericht."
        ),
        "share_links": "Deel deze link met een vriend: {link}",
        "share_invite": "Of nodig hen uit in onze community-chat: {link}",
        "share_unavailable": "Stuur eerst /start; dan geeft /share je je eigen link.",
        "button_share": "Deel met een vriend",
        "privacy": (
            "<b>Wat we over je bewaren</b>\n"
            "• je Telegram-naam, gebruikersnaam, id en taal;\n"
            "• hoe je ons vond (de link waarmee je de bot startte);\n"
            "• de berichten die je ons stuurt en onze antwoorden, ook als kopie in onze "
            "medewerkerschat;\n"
            "• wanneer je op onze knoppen en links tikt (met een versleutelde vingerafdruk "
            "van je browser en adres, nooit het adres zelf), en giften die daaruit volgen;\n"
            "• wat onze medewerkers voor je deden, in ons logboek;\n"
            "• uit onze groepen: dat je er reageerde, een vraag stelde (en antwoord kreeg), "
            "een reactie gaf, lid werd of vertrok, of een peiling beantwoordde, met het "
            "onderwerp en de toon; nooit de tekst van je berichten.\n\n"
            "We gebruiken dit alleen om je verzoeken te sturen die bij je passen en om te "
            "leren wat werkt. We verkopen het nooit. Alleen /start meldt je aan: een bericht "
            "zonder /start bereikt een mens, verder niets.\n\n"
            "Stuur /stop om geen berichten meer te krijgen. Stuur /forget om je persoonlijke "
            "gegevens te wissen, ook de kopieën in de medewerkerschat; we houden dan alleen "
            "anonieme aantallen voor onze verslagen."
        ),
        "community_notice": (
            "Deze groep wordt gelezen door onze bot, {bot}. Die noteert wie hier reageert, "
            "iets vraagt, een reactie geeft, lid wordt of een peiling beantwoordt, met het "
            "onderwerp en de toon, zodat we je kunnen bedanken en kunnen vragen naar wat jou "
            "raakt; wat je schrijft bewaart hij nooit. Start {bot} en stuur /privacy om te zien "
            "wat we bewaren, of /forget om het te laten wissen."
        ),
        "forget_question": (
            "Alles wissen wat we over je weten? We houden alleen anonieme aantallen voor "
            "onze verslagen. Dit kan niet ongedaan worden gemaakt."
        ),
        "forget_yes": "Ja, wis mijn gegevens",
        "forget_no": "Nee, bewaren",
        "forgotten": (
            "Geregeld: je persoonlijke gegevens zijn gewist en je hoort niet meer van ons. "
            "Stuur /start als je ooit terug wilt komen."
        ),
        "forget_kept": "Er is niets gewist.",
        "nothing_to_forget": "We bewaren geen persoonlijke gegevens over je.",
        "staff_only": "Sorry, deze opdracht is alleen voor de medewerkers van de organisatie.",
        "not_now": "Genoteerd: we vragen het je voor deze actie niet nog eens.",
        "help": (
            "Deze bot houdt je op de hoogte en je kunt ons direct antwoorden: een mens leest "
            "elk bericht.\n\n"
            "/start: berichten starten of hervatten\n"
            "/stop: geen berichten meer\n"
            "/privacy: wat we over je bewaren\n"
            "/forget: je persoonlijke gegevens wissen\n"
            "/share: je eigen link om met een vriend te delen"
        ),
        "give_how_much": "Dank je wel! Hoeveel wil je geven?",
        "give_unavailable": "Geven via Telegram kan niet voor deze actie.",
        "cmd_start": "Berichten starten of hervatten",
        "cmd_stop": "Geen berichten meer",
        "cmd_privacy": "Wat we over je bewaren",
        "cmd_forget": "Je persoonlijke gegevens wissen",
        "cmd_help": "Hoe deze bot werkt",
        "cmd_share": "Je eigen link om met een vriend te delen",
        "button_donate": "Doneer",
        "button_open_bot": "Open privé",
        "button_give": "Geef via Telegram",
        "button_not_now": "Nu niet",
        "button_stop": "Stop berichten",
    },
    # Only the ask buttons so far: every other text falls back to English.
    "de": {
        "button_donate": "Spenden",
        "button_give": "In Telegram spenden",
        "button_not_now": "Jetzt nicht",
        "button_stop": "Keine Nachrichten mehr",
    },
    "fr": {
        "button_donate": "Faire un don",
        "button_give": "Donner dans Telegram",
        "button_not_now": "Pas maintenant",
        "button_stop": "Arrêter les messages",
    },
    "es": {
        "button_donate": "Donar",
        "button_give": "Donar en Telegram",
        "button_not_now": "Ahora no",
        "button_stop": "No más mensajes",
    },
}
# The languages we speak in full: every English text is translated (command menus, replies).
LANGUAGES = tuple(
    code for code, texts in _TEXTS.items() if texts.keys() >= _TEXTS[DEFAULT_LANGUAGE].keys()
)
SUPPORTER_COMMANDS = ("start", "stop", "privacy", "forget", "share", "help")


def language_tag(code: str | None) -> str | None:
    """Normalise a language code as we store it: "nl_BE", "NL-be" -> "nl-be"; blank -> None."""
    tag = (code or "").strip().lower().replace("_", "-")
    return tag or None


def primary_language(code: str | None) -> str:
    """Give the language without its region: "nl_BE", "nl-BE", "NL" -> "nl"; blank -> "en"."""
    return (language_tag(code) or "").split("-")[0] or DEFAULT_LANGUAGE


def pick_language(code: str | None) -> str:
    """Map a Telegram language code ("nl-BE") to a language we have texts for."""
    primary = primary_language(code)
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november "
    "december",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
}
_LONG_DATES = {"de": "{day}. {month} {year}", "es": "{day} de {month} de {year}"}
_FALLBACK_NAMES = {"en": "friend", "nl": "vriend", "de": "Freund", "fr": "ami", "es": "amigo"}


def month_name(month: int, language: str | None) -> str:
    """Name a month (1-12) in a language, falling back to English."""
    return _MONTHS.get(primary_language(language), _MONTHS["en"]).split()[month - 1]


def long_date(day: date, language: str | None) -> str:
    """Write a date in full as the language does: "1 december 2026", "1. Dezember 2026"."""
    pattern = _LONG_DATES.get(primary_language(language), "{day} {month} {year}")
    return pattern.format(day=day.day, month=month_name(day.month, language), year=day.year)


def fallback_name(language: str | None) -> str:
    """Give the word a message uses for a supporter whose first name we do not know."""
    return _FALLBACK_NAMES.get(primary_language(language), _FALLBACK_NAMES["en"])


def text(key: str, language: str | None = None, **values: object) -> str:
    """Return a text in the supporter's language, with every value HTML-escaped."""
    texts = _TEXTS.get(primary_language(language), {})
    template = texts.get(key) or _TEXTS[DEFAULT_LANGUAGE][key]
    return template.format(**{k: html.escape(str(v)) for k, v in values.items()})


def command_descriptions(language: str) -> list[tuple[str, str]]:
    """Return (command, description) pairs of the supporter commands in a language."""
    return [(cmd, text(f"cmd_{cmd}", language)) for cmd in SUPPORTER_COMMANDS]
