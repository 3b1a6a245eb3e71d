"""Reply classification: opt-outs, questions, refusals and sentiment, in English and Dutch."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from bot.domain.classify import (
    CLASSES,
    NEGATIVE,
    OPT_OUT,
    OTHER,
    POSITIVE,
    QUESTION,
    classify_reply,
    is_opt_out,
    normalise,
    polarity,
    read_by_rules,
    read_reply,
)
from bot.domain.i18n import command_descriptions, pick_language, text
from bot.domain.reply_languages import RULES
from bot.domain.reply_model import reply_model
from bot.domain.sentiment import emoji_polarity, split_emoji

CORPUS = Path(__file__).parent / "data" / "replies.tsv"


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # The misses that issue 12 names.
        ("Sorry, deze keer niet", "nl", NEGATIVE),
        ("Ik heb 25 euro overgemaakt", "nl", POSITIVE),
        ("remove me from this list", "en", OPT_OUT),
    ],
)
def test_the_examples_of_the_issue(message: str, language: str, expected: str) -> None:
    assert classify_reply(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("stop", "en"),
        ("STOP", "en"),
        ("Stop.", "en"),
        ("stop!!", "en"),
        ("Please stop", "en"),
        ("stop please", "en"),
        ("Unsubscribe", "en"),
        ("Stop messaging me", "en"),
        ("don't contact me", "en"),
        ("Don’t message me, thanks", "en"),
        ("Please take me off your mailing list", "en"),
        ("I no longer want these messages", "en"),
        ("How do I stop these messages?", "en"),
        ("Delete my number", "en"),
        ("please stop ✋", "en"),
        ("stopp", "nl"),
        ("Afmelden", "nl"),
        ("afmelden aub", "nl"),
        ("Stuur geen berichten meer", "nl"),
        ("stuur me geen berichten meer alsjeblieft", "nl"),
        ("uitschrijven", "nl"),
        ("Haal me van deze lijst", "nl"),
        ("Kunnen jullie stoppen met berichten sturen?", "nl"),
        ("Verwijder mijn gegevens uit jullie bestand", "nl"),
        ("Laat me met rust", "nl"),
        # Words of another language than the supporter's Telegram count too.
        ("afmelden", "en"),
        ("unsubscribe", "nl-BE"),
        ("remove me from your list", "nl_BE"),
    ],
)
def test_opt_outs_in_many_wordings(message: str, language: str) -> None:
    assert is_opt_out(message, language)
    assert classify_reply(message, language) == OPT_OUT


@pytest.mark.parametrize(
    "message",
    [
        "Don't stop the exhibition!",
        "stop by the museum sometime",
        "I can't stop reading your messages!",
        "The bus stop moved to the other side of the square",
        "You send far too many messages",
        "I didn't get your message",
        "Ik heb geen bericht ontvangen",
        "Bij wie kan ik me aanmelden als vrijwilliger",
        "non-stop fun",
        "",
        "   ",
        "🛑",
    ],
)
def test_a_message_merely_about_stopping_or_messages_never_stops_anything(message: str) -> None:
    # The model alone may read "stop" or "messages" as an opt-out; then the bot only offers
    # the Stop button, and the message is handled as its next likeliest class.
    assert not is_opt_out(message, "en")
    reading = read_reply(message, "en")
    assert not reading.sure_opt_out and reading.handled_as != OPT_OUT


@pytest.mark.parametrize(
    ("message", "language"),
    [
        # A stop verb with our messages or the verb for sending them.
        ("can u stop msging me", "en"),
        ("Kindly stop the reminders", "en"),
        ("Stop asking me for money", "en"),
        ("Kappen met die appjes", "nl"),
        ("Hou op met die berichtjes", "nl"),
        # A removal verb with the sender, their data or a list.
        ("Could you delete my phone number", "en"),
        ("Can I be removed from this?", "en"),
        ("get me off this list", "en"),
        ("graag mijn nummer verwijderen", "nl"),
        ("Ik wil uitgeschreven worden", "nl"),
        ("Wil van de lijst af", "nl"),
        # "No more", "don't" and "niet meer" with our messages.
        ("No more fundraising messages please", "en"),
        ("please don't text me again", "en"),
        ("I don't want these texts anymore", "en"),
        ("nie meer appen aub", "nl"),
        ("Ik wil geen herinneringen meer", "nl"),
        ("wil niet meer gebeld of geappt worden", "nl"),
        # A clause that is only a stop word, politeness aside, one letter off or not.
        ("I'm done with these messages, stop", "en"),
        ("enough already, STOP", "en"),
        ("Unsubscibe me", "en"),
        ("Afmelde", "nl"),
        ("uitschrijve graag", "nl"),
    ],
)
def test_opt_outs_are_read_from_their_structure(message: str, language: str) -> None:
    assert classify_reply(message, language) == OPT_OUT


@pytest.mark.parametrize(
    ("message", "language"),
    [
        # A negated stop asks for more.
        ("Don't stop sending me news!", "en"),
        ("Never stop the updates, love them", "en"),
        ("Your newsletter is great, don't ever stop", "en"),
        ("Niet stoppen met die updates, top!", "nl"),
        ("Hou niet op met die mooie verhalen", "nl"),
        # Reports about messages, and stops and removals of something else.
        ("You did not send me a receipt", "en"),
        ("I stopped getting the newsletter, can you resend?", "en"),
        ("The messages stopped arriving", "en"),
        ("don't want to miss any messages", "en"),
        ("Delete the typo in your last message", "en"),
        ("Remove the old display please, it is ugly", "en"),
        ("please keep me on the list", "en"),
        ("Ik krijg geen berichten meer", "nl"),
        ("Ik kreeg geen mail meer sinds mei, klopt dat?", "nl"),
        ("Zet me op de lijst", "nl"),
    ],
)
def test_a_negated_stop_or_a_report_about_messages_is_not_an_opt_out(
    message: str, language: str
) -> None:
    assert not is_opt_out(message, language)


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("Yes, happy to help!", "en", POSITIVE),
        ("Count me in", "en", POSITIVE),
        ("Just gave 15, good luck", "en", POSITIVE),
        ("Transferred 50 euro this morning", "en", POSITIVE),
        ("I already gave last week", "en", POSITIVE),
        ("The ship models were amazing", "en", POSITIVE),
        ("Ja, graag!", "nl", POSITIVE),
        ("Gedoneerd!", "nl", POSITIVE),
        ("Net 20 euro gestort, succes", "nl", POSITIVE),
        ("Ik doe mee", "nl", POSITIVE),
        ("Wat een mooie tentoonstelling!", "nl", POSITIVE),
        ("De kinderen hebben genoten", "nl", POSITIVE),
        ("No thanks", "en", NEGATIVE),
        ("Not now, sorry", "en", NEGATIVE),
        ("Not interested", "en", NEGATIVE),
        ("I'd love to but I can't this month", "en", NEGATIVE),
        ("The queue was way too long", "en", NEGATIVE),
        ("Nee, geen interesse", "nl", NEGATIVE),
        ("Helaas, niet nu", "nl", NEGATIVE),
        ("Ik kan het nu niet missen", "nl", NEGATIVE),
        ("De tentoonstelling viel tegen", "nl", NEGATIVE),
        ("Is the museum open on Sunday?", "en", QUESTION),
        ("how do I pay by bank transfer", "en", QUESTION),
        ("Can I donate by card", "en", QUESTION),
        ("Yes! Can I pay by bank?", "en", QUESTION),
        ("I'd like to know if children get in free", "en", QUESTION),
        ("Wanneer is de tentoonstelling", "nl", QUESTION),
        ("Accepteren jullie PayPal", "nl", QUESTION),
        ("Kan ik met pin betalen", "nl", QUESTION),
        ("Ik vroeg me af of er een lift is", "nl", QUESTION),
        ("I visited in May with my niece", "en", OTHER),
        ("yesterday I was there", "en", OTHER),
        ("Let me think about it", "en", OTHER),
        ("Will talk it over with the family", "en", OTHER),
        ("Mijn opa werkte op de scheepswerf", "nl", OTHER),
        ("Ik overleg even met mijn vrouw", "nl", OTHER),
    ],
)
def test_classify_reply_per_class_and_language(message: str, language: str, expected: str) -> None:
    assert classify_reply(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Refusal frames in both languages are negative, whatever the words around them.
        ("Think I'll sit this one out", "en", NEGATIVE),
        ("Sorry but this isn't for me", "en", NEGATIVE),
        ("Honestly I'm tired of being asked for money", "en", NEGATIVE),
        ("Money's tight this month", "en", NEGATIVE),
        ("I'll pass this time", "en", NEGATIVE),
        ("I've given to three other charities, so no", "en", NEGATIVE),
        ("Ik pas", "nl", NEGATIVE),
        ("Ik doe er niet aan mee", "nl", NEGATIVE),
        ("Helaas lukt het ons niet", "nl", NEGATIVE),
        ("Ik denk niet dat ik deze keer geef", "nl", NEGATIVE),
        ("Geen geld deze maand", "nl", NEGATIVE),
        ("Ik geef al aan drie andere goede doelen, dus nee", "nl", NEGATIVE),
        # Criticism no general lexicon scores.
        ("Very underwhelming exhibition", "en", NEGATIVE),
        ("It was far too noisy in there", "en", NEGATIVE),
        ("De lift was weer stuk", "nl", NEGATIVE),
        ("Zonde van het geld, die verbouwing", "nl", NEGATIVE),
        # Passing something on, and praise that says "couldn't" or "nooit", are no refusals.
        ("I'll pass it on to my book club", "en", OTHER),
        ("couldnt be happier with the new ferry display", "en", POSITIVE),
        ("Nooit zo'n mooie collectie gezien", "nl", POSITIVE),
        # Facts and logistics stay neutral although a lexicon word is in them.
        ("I'm on holiday until the 20th", "en", OTHER),
        ("I'm in Spain till March", "en", OTHER),
        ("Not sure yet, I'll get back to you", "en", OTHER),
        ("Drukke week, ik lees het later", "nl", OTHER),
        ("Dat is de oude veerboot naar Texel", "nl", OTHER),
        ("Ik laat het weten", "nl", OTHER),
        # Dutch drops "ik" and "dat" from statements; a dropped subject is no question.
        ("Ben er morgen met de klas", "nl", OTHER),
        ("Weet ik nog niet", "nl", OTHER),
        ("Mag er een kinderwagen mee naar binnen", "nl", QUESTION),
        ("Hoe laat gaat de deur open zaterdag", "nl", QUESTION),
        ("do u have a gift aid form", "en", QUESTION),
    ],
)
def test_refusal_frames_criticism_and_neutral_statements(
    message: str, language: str, expected: str
) -> None:
    assert classify_reply(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # A negated feeling turns over, in both languages.
        ("good", "en", POSITIVE),
        ("not good", "en", NEGATIVE),
        ("bad", "en", NEGATIVE),
        ("Not bad at all, really enjoyed it", "en", POSITIVE),
        ("I don't like the new layout", "en", NEGATIVE),
        ("No problem, happy to give again", "en", POSITIVE),
        ("Can't wait to see the new wing!", "en", POSITIVE),
        ("leuk", "nl", POSITIVE),
        ("niet leuk", "nl", NEGATIVE),
        ("Ik vond de inrichting helemaal niet leuk", "nl", NEGATIVE),
        ("Niet slecht, echt genoten", "nl", POSITIVE),
        ("Dat vind ik geen goed idee", "nl", NEGATIVE),
        ("Ik steun dit niet", "nl", NEGATIVE),
        ("Geen probleem, ik geef graag weer", "nl", POSITIVE),
        ("Ik kan niet wachten tot de nieuwe vleugel opengaat!", "nl", POSITIVE),
    ],
)
def test_negation(message: str, language: str, expected: str) -> None:
    assert classify_reply(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("👍", "en", POSITIVE),
        ("👍🏽", "en", POSITIVE),
        ("❤️", "nl", POSITIVE),
        ("🙏🙏", "nl", POSITIVE),
        ("😊", "en", POSITIVE),
        ("👎", "en", NEGATIVE),
        ("😡", "nl", NEGATIVE),
        ("😢", "en", NEGATIVE),
        ("🤔", "en", OTHER),
        ("👋", "en", OTHER),
        ("🛑", "nl", OTHER),
        ("💯", "nl", POSITIVE),
        ("😒", "en", NEGATIVE),
        ("🚢", "nl", OTHER),
        ("Done 👍", "en", POSITIVE),
        ("Gedaan 🎉", "nl", POSITIVE),
        ("The lift was broken again 😡", "en", NEGATIVE),
    ],
)
def test_emoji(message: str, language: str, expected: str) -> None:
    assert classify_reply(message, language) == expected


def test_emoji_take_the_product_table_first_then_vaders_descriptions() -> None:
    assert emoji_polarity("👍") == 1.0
    assert emoji_polarity("💩") == -1.0
    assert emoji_polarity("😊") > 0 > emoji_polarity("😢")
    assert emoji_polarity("🚢") == 0.0
    words, found = split_emoji("Top 👍🏽 ❤️!")
    assert (words.split(), found) == (["Top", "!"], ["👍", "❤"])


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Dutch supporters often run Telegram in English, and the other way round.
        ("Ik vond het niet leuk", "en", NEGATIVE),
        ("Geweldig!", "en", POSITIVE),
        ("Thanks a lot", "nl", POSITIVE),
        ("Sorry, deze keer niet", "en", NEGATIVE),
        # "last" is also a Dutch word (a burden): an English message is not read as Dutch.
        ("We came last Sunday", "en", OTHER),
    ],
)
def test_a_message_in_another_language_than_the_supporters(
    message: str, language: str, expected: str
) -> None:
    assert classify_reply(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Families read from batch 7's mistakes, in wordings of their own (none is in the corpus):
        # opt-outs by verbs that are unwanted contact in themselves, polite wishes, compounds
        # ("donatieverzoeken"), split infinitives ("me af te melden") and a verb left out;
        # another cause preferred (but not another way to give); a strong word before a faint
        # one ("belachelijk hoog"); a Dutch statement that drops its subject ("Zit in de trein").
        ("Could you leave me out of your mailings", "en", OPT_OUT),
        ("stop bothering my husband please", "en", OPT_OUT),
        ("Get rid of my details", "en", OPT_OUT),
        ("I wish you'd stop texting me", "en", OPT_OUT),
        ("I want out of your mailing list", "en", OPT_OUT),
        ("Geen donatieverzoeken meer aub", "nl", OPT_OUT),
        ("Hou nou eens op met die mails", "nl", OPT_OUT),
        ("Laat ons er alsjeblieft buiten", "nl", OPT_OUT),
        ("Ik probeer me al weken af te melden", "nl", OPT_OUT),
        ("Mijn nummer uit jullie bestand graag", "nl", OPT_OUT),
        ("Ik wil niets meer ontvangen", "nl", OPT_OUT),
        ("I'd prefer to support the hospice this year", "en", NEGATIVE),
        ("I'll give the gala a miss", "en", NEGATIVE),
        ("Don't think it's a good idea", "en", NEGATIVE),
        ("Ik geef liever aan het asiel", "nl", NEGATIVE),
        ("Heb mijn lidmaatschap stopgezet", "nl", NEGATIVE),
        ("Die parkeerkosten zijn belachelijk hoog", "nl", NEGATIVE),
        ("De lift werkte weer niet", "nl", NEGATIVE),
        ("De catalogus viel meteen uit elkaar", "nl", NEGATIVE),
        ("Count me and the kids in", "en", POSITIVE),
        ("We've doubled our monthly gift", "en", POSITIVE),
        ("Komt wel in orde", "nl", POSITIVE),
        ("Is betaald 👍", "nl", POSITIVE),
        ("Curious how many tickets are left", "en", QUESTION),
        ("Ben benieuwd welke schilderijen er komen", "nl", QUESTION),
        ("Zit in de trein, lees het straks", "nl", OTHER),
        ("Mijn opa was conciërge in die tijd", "nl", OTHER),
        ("I'd rather give by bank transfer", "en", POSITIVE),
        ("Ik geef liever contant", "nl", POSITIVE),
        ("I'd rather donate to the food bank", "en", NEGATIVE),
        ("Ik doneer liever aan de voedselbank", "nl", NEGATIVE),
        ("Can I get rid of my old membership card at the desk?", "en", QUESTION),
        ("I stopped by the shop, lovely mugs", "en", POSITIVE),
        ("Ik heb me gisteren aangemeld voor de rondleiding", "nl", OTHER),
    ],
)
def test_wordings_of_the_families_batch_7_showed(
    message: str, language: str, expected: str
) -> None:
    assert read_by_rules(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Families read from batch 8's mistakes, in wordings of their own (none is in the corpus):
        # opt-outs by losing the sender's data, turning messages off, wanting them to end, or
        # being fine without them, and Dutch list compounds; not a reminder that ends, nor "don't
        # forget me". A gift ended, "say no", other charities, "nie" as "niet", a sad emoji,
        # Dutch refusal idioms ("ik bedank ervoor", not "bedankt ervoor"); "valt niet tegen"
        # praises; a relative clause later in a message ("voor wie ...") asks nothing.
        ("cut it out", "en", OPT_OUT),
        ("Please lose my details, thanks", "en", OPT_OUT),
        ("I'd prefer not to get these appeals", "en", OPT_OUT),
        ("how can I make the reminders stop", "en", OPT_OUT),
        ("How do I switch off these notifications", "en", OPT_OUT),
        ("I'm fine without your newsletters from now on", "en", OPT_OUT),
        ("Zet mijn 06 uit het adressenbestand", "nl", OPT_OUT),
        ("Hoe zet ik die herinneringen uit", "nl", OPT_OUT),
        ("Graag van jullie mails af", "nl", OPT_OUT),
        ("Don't forget me at the gala!", "en", POSITIVE),
        ("The reminders end on Friday?", "en", QUESTION),
        ("Was really disappointed with the café", "en", NEGATIVE),
        ("Not donating anymore after what happened", "en", NEGATIVE),
        ("I never stopped giving, happy to again", "en", POSITIVE),
        ("I'll say no this time, good luck though", "en", NEGATIVE),
        ("Sorry but no, we support other local charities", "en", NEGATIVE),
        ("Those ship models weren't really for me", "en", NEGATIVE),
        ("The ticket price is a joke", "en", NEGATIVE),
        ("💔", "en", NEGATIVE),
        ("That exhibition blew my mind", "en", POSITIVE),
        ("Every little bit helps, sent 5", "en", POSITIVE),
        ("Good evening from Ghent", "en", OTHER),
        ("Ik vind het nie zo mooi", "nl", NEGATIVE),
        ("Ik doneer niks meer sinds de verhuizing", "nl", NEGATIVE),
        ("Ik bedank er feestelijk voor", "nl", NEGATIVE),
        ("Bedankt ervoor!", "nl", POSITIVE),
        ("Na de kerst zit er niks meer in", "nl", NEGATIVE),
        ("Twee keer per week een appje is te veel van het goede", "nl", NEGATIVE),
        ("Gedaan, alle beetjes helpen", "nl", POSITIVE),
        ("Ga ik regelen vanavond", "nl", POSITIVE),
        ("Geef me even bedenktijd", "nl", OTHER),
        ("Merci voor de rondleiding", "nl", POSITIVE),
        ("De lunch viel helemaal niet tegen", "nl", POSITIVE),
        ("Het parkeren is achter het museum, voor wie met de auto komt", "nl", OTHER),
    ],
)
def test_wordings_of_the_families_batch_8_showed(
    message: str, language: str, expected: str
) -> None:
    assert read_by_rules(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Families read from batch 9's mistakes, in wordings of their own (none is in the corpus):
        # DMs, "I want off it", the right to erasure, "mute", a number to bin; Dutch compounds of
        # "gegevens", "verlost van", "niet meer te contacteren"; refusals by limit, budget,
        # "decline" and "pass on"; "made my week", "consider it done", "zit snor", "al gegeven";
        # a greeting before a question; greetings from a place and a wrong chat say nothing.
        ("stop sliding into my dms about money", "en", OPT_OUT),
        ("not sure which list this is but I want off it", "en", OPT_OUT),
        ("Please erase any information you keep on me", "en", OPT_OUT),
        ("I'd rather not get any more of your messages", "en", OPT_OUT),
        ("mute", "en", OPT_OUT),
        ("Who gave you this number? Bin it.", "en", OPT_OUT),
        ("Kunnen jullie al mijn klantgegevens wissen", "nl", OPT_OUT),
        ("Hoe word ik verlost van die mails", "nl", OPT_OUT),
        ("laat ons nou gewoon met rust", "nl", OPT_OUT),
        ("Zet die meldingen van jullie maar uit", "nl", OPT_OUT),
        ("Gelieve ons niet meer te contacteren", "nl", OPT_OUT),
        ("Ik wil niets meer horen over donaties", "nl", OPT_OUT),
        ("Hoe kom je aan dit nummer? Gooi het weg aub", "nl", OPT_OUT),
        ("I'll pass on that one, thanks", "en", NEGATIVE),
        ("The budget doesn't stretch to gifts this year", "en", NEGATIVE),
        ("I must respectfully decline", "en", NEGATIVE),
        ("Three gifts this year, that's my limit", "en", NEGATIVE),
        ("The audio guide was a real let down", "en", NEGATIVE),
        ("Can't complain, lovely afternoon", "en", POSITIVE),
        ("Your newsletter made my week", "en", POSITIVE),
        ("Consider it done 👍", "en", POSITIVE),
        ("🫶", "en", POSITIVE),
        ("hi can I still register for Saturday", "en", QUESTION),
        ("Regards from Utrecht", "en", OTHER),
        ("Oops, wrong group", "en", OTHER),
        ("Daar doen we niet aan mee", "nl", NEGATIVE),
        ("Niet deze keer, volgend jaar misschien", "nl", NEGATIVE),
        ("We kunnen het nu echt niet missen", "nl", NEGATIVE),
        ("Zit snor, morgen overgemaakt", "nl", POSITIVE),
        ("Heb ik vorige maand al gegeven hoor", "nl", POSITIVE),
        ("die rondleiding was echt vet", "nl", POSITIVE),
        ("hoi kan ik ook met pin betalen", "nl", QUESTION),
        ("Groetjes uit Gent", "nl", OTHER),
        ("sorry verkeerde chat", "nl", OTHER),
        ("Mijn broer staat op de foto, tweede van links", "nl", OTHER),
    ],
)
def test_wordings_of_the_families_batch_9_showed(
    message: str, language: str, expected: str
) -> None:
    assert read_by_rules(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Families read from batch 10's mistakes, in wordings of their own (none is in the
        # corpus): muting, tagging and mentioning, "so they stop", "from now on skip me",
        # blocking the bot, Dutch "mn", "voortaan overslaan" and compounds of "herinnering";
        # membership not renewed, "niet te volgen", "vond er niks aan", "balen", "pff", "neej";
        # a Dutch clause ending in "nie" or "wel" states; a verb before "jullie" asks; spoken
        # punctuation; receipts ("ok noted") and facts ("as well", "right outside") say nothing.
        ("can you mute me for the fundraising stuff", "en", OPT_OUT),
        ("please stop mentioning me in the group", "en", OPT_OUT),
        ("what do I do so they stop", "en", OPT_OUT),
        ("boot me off your list", "en", OPT_OUT),
        ("From now on please skip me in your appeals", "en", OPT_OUT),
        ("I'll block this bot if it goes on", "en", OPT_OUT),
        ("kunnen jullie ons muten", "nl", OPT_OUT),
        ("nou kappen met dat gemail", "nl", OPT_OUT),
        ("verwijder mn gegevens", "nl", OPT_OUT),
        ("Graag mij voortaan overslaan bij de acties", "nl", OPT_OUT),
        ("Die betalingsherinneringen mogen stoppen", "nl", OPT_OUT),
        ("Jullie hoeven mij niet meer te taggen", "nl", OPT_OUT),
        ("neej sorry", "nl", NEGATIVE),
        ("Wij verlengen dit jaar niet", "nl", NEGATIVE),
        ("Ik zeg mijn donatie op", "nl", NEGATIVE),
        ("De rondleider was niet te volgen", "nl", NEGATIVE),
        ("Mijn zoon vond er niks aan", "nl", NEGATIVE),
        ("Balen, uitverkocht", "nl", NEGATIVE),
        ("pff, weer dicht", "nl", NEGATIVE),
        ("The workshop was poorly organised", "en", NEGATIVE),
        ("😣", "en", NEGATIVE),
        ("Helemaal mee eens, mooi gemaakt", "nl", POSITIVE),
        ("Ik zat vooraan en heb genoten", "nl", POSITIVE),
        ("dat kan deze week nie", "nl", NEGATIVE),
        ("horen we dan wel", "nl", OTHER),
        ("Moet er even over slapen", "nl", OTHER),
        ("steunen jullie ook het weeshuis", "nl", QUESTION),
        ("zeg, klopt het dat de zaal dicht is", "nl", QUESTION),
        ("hello comma is the café open on Monday question mark", "en", QUESTION),
        ("have to ask my husband first", "en", OTHER),
        ("We came with the care home last week as well", "en", OTHER),
        ("ok noted", "en", OTHER),
        ("oké, gelezen", "nl", OTHER),
        ("Slides are online for anyone who missed the talk", "en", OTHER),
        ("fyi the tram stops right outside now", "en", OTHER),
    ],
)
def test_wordings_of_the_families_batch_10_showed(
    message: str, language: str, expected: str
) -> None:
    assert read_by_rules(message, language) == expected


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        # Families read from batch 11's mistakes, in wordings of their own (none is in the
        # corpus): "not to be contacted", opting out of messages, an off button, "told you to
        # stop", erasure of "everything on me", blocking, stretched letters ("stooop"), Dutch
        # "weg met", "mag weg", "op stil", "geen ... meer" around a phrase; not "niet missen".
        # Lapsed memberships, "laat het zitten", "blijft niks over"; "looking forward" (not in
        # the past), "kijk er naar uit"; "any idea if", "wilde vragen of"; greetings say nothing.
        ("This phone is not to be messaged again", "en", OPT_OUT),
        ("I'm opting out of your appeals", "en", OPT_OUT),
        ("Is there an off button for this?", "en", OPT_OUT),
        ("I already told you to stop", "en", OPT_OUT),
        ("please scrap me from your mailing", "en", OPT_OUT),
        ("Please wipe everything you have on me", "en", OPT_OUT),
        ("I'll block you if this goes on", "en", OPT_OUT),
        ("going forward please leave me out", "en", OPT_OUT),
        ("pleeease stooop", "en", OPT_OUT),
        ("Weg met mijn nummer", "nl", OPT_OUT),
        ("Gooi dat nummer maar weg", "nl", OPT_OUT),
        ("Wat jullie over mij bewaren mag weg", "nl", OPT_OUT),
        ("zet dit ff op stil", "nl", OPT_OUT),
        ("Ik blokkeer deze bot", "nl", OPT_OUT),
        ("Ik wil geen donatieverzoeken via de app meer", "nl", OPT_OUT),
        ("ik wil die meldingen niet", "nl", OPT_OUT),
        ("stuur hier niets meer heen", "nl", OPT_OUT),
        ("hoe kan ik dit uitschakelen, die meldingen", "nl", OPT_OUT),
        ("Ik wil die berichten niet missen", "nl", POSITIVE),
        ("We're letting our membership lapse this year", "en", NEGATIVE),
        ("Not going to renew, sorry", "en", NEGATIVE),
        ("I won't be donating anymore", "en", NEGATIVE),
        ("None of the dates appeal to me", "en", NEGATIVE),
        ("The café was noisy and half empty", "en", NEGATIVE),
        ("Looking forward to Saturday!", "en", POSITIVE),
        ("We were looking forward to it, now it's cancelled, a pity", "en", NEGATIVE),
        ("Any idea if the shop is open on Sunday", "en", QUESTION),
        ("I wanted to ask whether dogs are allowed", "en", QUESTION),
        ("Hello everyone, new here", "en", OTHER),
        ("I'm in the car full stop will look later", "en", OTHER),
        ("Mijn abonnement laat ik verlopen", "nl", NEGATIVE),
        ("Na drie pogingen laat ik het zitten", "nl", NEGATIVE),
        ("Van mijn uitkering blijft niks over", "nl", NEGATIVE),
        ("Jammer dat het regende", "nl", NEGATIVE),
        ("De prijzen zijn te gortig", "nl", NEGATIVE),
        ("We kijken er erg naar uit", "nl", POSITIVE),
        ("Wat een plaatje!", "nl", POSITIVE),
        ("Iemand enig idee hoe laat het begint", "nl", QUESTION),
        ("Ik wilde vragen of er een lift is", "nl", QUESTION),
        ("Sinds gisteren lid van deze groep", "nl", OTHER),
        ("De laatste trein gaat om 23 uur", "nl", OTHER),
    ],
)
def test_wordings_of_the_families_batch_11_showed(
    message: str, language: str, expected: str
) -> None:
    assert read_by_rules(message, language) == expected


def test_dutch_inflections_find_their_lexicon_entry() -> None:
    assert polarity("mooie foto's", "nl") > 0
    assert polarity("saaie lezing", "nl") < 0
    assert polarity("een heerlijke middag", "nl") > 0


@pytest.mark.parametrize("language", ["nl", "nl-BE", "nl_BE", "NL"])
def test_regional_dutch_codes_use_the_dutch_rules(language: str) -> None:
    # "geen interesse" is refused only by the Dutch rules' refusals; "niet leuk" scored Dutch.
    assert classify_reply("Niet leuk", language) == NEGATIVE
    assert classify_reply("geen interesse", language) == NEGATIVE


def test_an_unknown_language_falls_back_to_english_and_dutch() -> None:
    assert classify_reply("Not interested", "de") == NEGATIVE
    assert classify_reply("Ik heb 25 euro overgemaakt", "fr") == POSITIVE


def test_every_language_has_one_rules_object() -> None:
    assert sorted(RULES) == ["en", "nl"]
    assert all(code == rules.code for code, rules in RULES.items())


def test_normalise_drops_punctuation_and_emoji_keeps_apostrophes() -> None:
    assert normalise("  Don’t   STOP!! ❤ ") == "don't stop"


def _corpus() -> list[dict[str, str]]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_the_labelled_corpus_is_well_formed() -> None:
    rows = _corpus()
    assert len(rows) >= 300
    assert all(list(row) == ["text", "language", "label", "split"] for row in rows)
    assert all(row["text"].strip() and None not in row.values() for row in rows)
    assert {row["label"] for row in rows} == set(CLASSES)
    assert {row["split"] for row in rows} <= {"dev", "train", "test", "holdout12", "holdout13"}
    assert {"dev", "test"} <= {row["split"] for row in rows}
    languages = Counter(row["language"] for row in rows)
    assert set(languages) == {"en", "nl"}
    assert min(languages.values()) >= 0.4 * len(rows)  # roughly half each
    pairs = [(row["text"], row["language"]) for row in rows]
    assert len(pairs) == len(set(pairs)), "a message is labelled twice"
    for language in ("en", "nl"):
        labels = {row["label"] for row in rows if row["language"] == language}
        assert labels == set(CLASSES), f"{language} lacks a class"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("nl", "nl"), ("nl-BE", "nl"), ("EN", "en"), ("de", "en"), (None, "en"), ("", "en")],
)
def test_pick_language_falls_back_to_english(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected


def test_texts_escape_values_and_exist_in_every_language() -> None:
    greeting = text("greeting", "nl", name="<b>Ann</b> & co")
    assert greeting.startswith("Hallo &lt;b&gt;Ann&lt;/b&gt; &amp; co!")
    assert text("staff_only", "fr") == "Sorry, this command is for the organisation's staff."
    assert [c for c, _ in command_descriptions("nl")] == [
        "start", "stop", "privacy", "forget", "share", "help"
    ]  # fmt: skip


def test_an_opt_out_the_rules_find_stands_and_is_sure() -> None:
    for message, language in [("stop", "en"), ("Stuur geen berichten meer aub", "nl")]:
        reading = read_reply(message, language)
        assert (reading.label, reading.handled_as, reading.sure_opt_out) == (
            OPT_OUT,
            OPT_OUT,
            True,
        )


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("I would rather you left me out of these from now on", "en"),
        ("Please forget about me", "en"),
        ("Ik zit niet te wachten op jullie berichtjes", "nl"),
    ],
)
def test_an_opt_out_only_the_model_reads_is_a_maybe_handled_as_another_class(
    message: str, language: str
) -> None:
    assert read_by_rules(message, language) != OPT_OUT
    reading = read_reply(message, language)
    assert reading.label == OPT_OUT and reading.maybe_opt_out and not reading.sure_opt_out
    assert reading.handled_as in CLASSES and reading.handled_as != OPT_OUT


@pytest.mark.parametrize(
    ("message", "language"), [("bad", "en"), ("so bad", "en"), ("bad idea", "en")]
)
def test_the_model_never_turns_the_rules_negative_into_a_positive(
    message: str, language: str
) -> None:
    # The model alone reads these as positive: the corpus says "not bad at all" far more
    # often than "bad".
    assert reply_model().probabilities(message, language)[POSITIVE] > 0.5
    assert read_by_rules(message, language) == NEGATIVE
    assert classify_reply(message, language) == NEGATIVE
