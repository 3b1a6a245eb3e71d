"""How each language asks us to stop: opt-outs as structure, not a list of sentences.

A supporter rarely words an opt-out the way the last one did, so each language says it with
word families put together, on normalised text (see bot/domain/classify.py):

- a clause that is nothing but a stop word, politeness aside ("Stop.", "pls remove",
  "afmelde graag": one letter off a long stop word still counts);
- a stop verb (stop, quit, cease; stoppen, ophouden, kappen) near our messages or the verb for
  sending them ("stop texting me", "stop met die appjes");
- a removal verb (remove, delete, take off; verwijderen, wissen, halen, afmelden) with an
  object that is the sender or their data ("remove this number", "mijn gegevens verwijderen"),
  or a list ("take my name off the list", "haal het van de lijst");
- "no more", "no longer", "don't send me", "niet meer", "geen ... meer" with our messages, and
  wanting to be off ("I want off this list", "ik wil hier vanaf").

A negated stop is turned into "keep" first, so "don't stop sending me news" and "niet stoppen
met die updates" ask for more, not less. The check runs in every language we know (a missed
opt-out is the costlier mistake), and is precise enough that a supporter asking about stops or
messages is not silenced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class OptOutRules:
    """How one language asks to stop our messages."""

    stop_words: frozenset[str]  # a clause that is only one of these opts out
    politeness: frozenset[str]  # stripped from either end of a clause before that check
    keep: re.Pattern[str]  # a negated stop ("don't stop"): replaced by "keep" first
    patterns: tuple[re.Pattern[str], ...]
    # Or a word that ends something together with a word for our messages, in any order:
    # "Stop, I'm not interested in these messages", "uit uw contacten verwijderen".
    stop_cue: re.Pattern[str]
    message_cue: re.Pattern[str]


def _patterns(*sources: str) -> tuple[re.Pattern[str], ...]:
    """Compile patterns."""
    return tuple(re.compile(source) for source in sources)


# English word families.
_EN_STOP = r"(?:stop|stopp|quit|cease)"
# Our messages, by name: "stop the reminders", "no more appeals".
_EN_MESSAGES = (
    r"(?:messag\w*|msg\w*|texts?|texting|sms\w*|reminders?|appeals?|asks|asking|requests?"
    r"|updates?|e?mails?|e?mailings?|dms?|newsletters?|notifications?|spam\w*|pings?|contact\w*"
    r"|solicitations?|begging|nagging|fundraising)"
)
# Sending them, as a verb in the form an imperative or "stop ...ing" takes.
_EN_SEND = (
    r"(?:send(?:ing)?|messag(?:e|ing)|msg(?:ing)?|text(?:ing)?|contact(?:ing)?"
    r"|e?mail(?:ing)?|writ(?:e|ing)"
    r"|ping(?:ing)?|tag(?:ging)?|mention(?:ing)?|bug(?:ging)?|bother(?:ing)?"
    r"|pester(?:ing)?|hassl(?:e|ing)|spam(?:ming)?"
    r"|ask(?:ing)?|nag(?:ging)?|call(?:ing)?|harass(?:ing)?|chas(?:e|ing))"
)
_EN_RECEIVE = r"(?:get|getting|receive|receiving)"
# The sender or their data as the object of a removal.
_EN_ME = (
    r"(?:me|us|myself|this number|this account|my (?:\w+ )?(?:number|details|data|name|contact"
    r"|info\w*|phone|account|address|email))"
)
_EN_LIST = (
    r"(?:lists?|contacts|system|database|records|bot|group|channel|register|files?|mailings?)"
)

ENGLISH = OptOutRules(
    stop_words=frozenset(
        {"stop", "stopp", "stop all", "stop it", "unsubscribe", "unsub", "opt out", "optout"}
        | {"quit", "remove", "remove me", "delete me", "take me off", "stop sending"}
        | {"stop this", "stop that", "cut it out", "knock it off", "mute"}
    ),
    politeness=frozenset(
        {"please", "pls", "plz", "thanks", "thank you", "thx", "now", "ok", "kindly", "just"}
        | {"enough", "already", "seriously", "i said", "again", "ty"}
    ),
    keep=re.compile(
        r"\b(?:don't|do not|dont|never|can't|cannot|can not|cant|won't|wont|shouldn't|not"
        r"|didn't|didnt|did not)(?: ever| you)? (?:stop|quit|cease)\w*"
    ),
    patterns=_patterns(
        r"\bunsub\w*\b",
        r"\bopt(?:ing)?(?: me| us)? ?out\b(?! of (?:the|a|this) (?!list))",
        rf"\bopt(?:ing|ed)?(?: me| us)? ?out of (?:\w+ ){{0,2}}?{_EN_MESSAGES}\b",
        # "this number is not to be contacted again", "the off switch for this bot", "how many
        # times do I have to say stop".
        r"\bnot to be (?:contacted|messaged|texted|called|e?mailed|bothered|asked)\b",
        r"\boff (?:switch|button)\b",
        r"\b(?:say|said|saying|told you|asked you|asking you|asked) (?:to )?stop\b",
        rf"\b(?:remove|delete|erase|drop|wipe|scratch|scrap|strike|unlist|get rid of)"
        rf" (?:\w+ )?{_EN_ME}\b",
        rf"\b{_EN_ME} (?:\w+ ){{0,2}}?(?:removed|deleted|erased|wiped|taken off)\b",
        r"\b(?:be|been|get|getting|got) (?:\w+ )?(?:removed|deleted|erased|unsubscribed"
        r"|taken off)\b",
        rf"\b(?:take|get|cross|strike|keep|kick|boot|throw) {_EN_ME} (?:\w+ )?off\b",
        # Silencing us: "mute me", "can I silence this donation bot".
        rf"\b(?:mute|silence|block)\b(?: \w+){{0,2}} (?:me|us|you|bot|{_EN_MESSAGES})\b",
        r"\b(?:so|make|want|until|till) (?:these|they|them|those) (?:\w+ )?(?:stop|end|cease)\b",
        r"\b(?:from now on|in future|in the future"
        r"|going forward)\b(?: \w+){0,4} (?:skip (?:me|us)|leave (?:me|us) out|leave out"
        r" (?:me|us))\b|\b(?:skip|leave out|leave) (?:me"
        r"|us)(?: out)?\b(?: \w+){0,4} (?:from now on|in future"
        r"|in the future|going forward)\b",
        rf"\b(?:want|get|be|go|stay) (?:\w+ )?(?:off|out of) (?:the|this|your|that|ur|of|these"
        rf"|those|all) (?:\w+ ){{0,2}}?{_EN_LIST}\b",
        # "leave me off future appeals", "keep me out of your mailings"
        rf"\b(?:leave|keep) (?:me|us|this number) (?:off|out of)\b(?: \w+){{0,3}}"
        rf" (?:{_EN_MESSAGES}|{_EN_LIST})\b",
        r"\b(?:remove|delete|take|erase|strike|drop|cross|scrap"
        rf"|kick)\b(?: \w+){{0,3}} (?:from|off|out of)"
        rf" (?:your|the|this|that|all|any|ur|these|those) (?:\w+ ){{0,2}}?{_EN_LIST}\b",
        r"\bleave (?:me|us) (?:alone|be|out of (?:it|this|that))\b",
        rf"\b{_EN_STOP}\b(?: \w+){{0,3}} {_EN_MESSAGES}\b",
        rf"\b{_EN_STOP} (?:{_EN_SEND}|{_EN_RECEIVE}) (?:me |us )?(?:\w+ )?"
        r"(?:me|us|these|them|this|those|all|anything|stuff|things)\b",
        rf"\b{_EN_STOP} {_EN_SEND} (?:me|us)\b",
        # Contact that is unwanted by its very verb, whoever it reaches: "stop pestering my mum".
        r"\b(?:stop|quit) (?:pester|bother|hassl|harass|spamm|nagg|badger)\w*\b",
        # A wish put politely: "I'd appreciate it if you stopped writing to me".
        rf"\b(?:if you|wish you(?: would|'d)?|you to|could you) (?:please |just |kindly )?"
        rf"(?:stopped|stop) {_EN_SEND}(?: to)? (?:me|us|this number)\b",
        rf"\b(?:no more|no further|not any ?more|no longer)\b(?: \w+){{0,3}}? {_EN_MESSAGES}\b",
        # Not "you did not send me a receipt": a request, not a report.
        rf"(?<!you )(?<!they )(?<!did )(?<!does )(?<!has )(?<!have )(?<!had )\b(?:don't|do not"
        rf"|dont|never|not) (?:ever )?(?:again )?{_EN_SEND} (?:me|us|this number)\b",
        rf"\b(?:can|could|will|would) you (?:please )?not {_EN_SEND} (?:me|us|this number)\b",
        rf"\b(?:don't|do not|dont|no longer|never) (?:want|wish|need|care)\b"
        rf"(?: (?!miss)\w+){{0,4}} (?:{_EN_MESSAGES}|these|them|any ?more"
        r"|this (?:any ?more|again))\b",
        rf"\b(?:rather not|prefer not to) (?:\w+ ){{0,3}}?(?:{_EN_MESSAGES}|these|them)\b",
        # The right to erasure: "delete all personal data you hold about me".
        r"\b(?:delete|erase|remove|wipe|destroy)\b(?: \w+){0,3} (?:data|details|information|info"
        r"|records)\b(?: \w+){0,4} (?:about|on|of) (?:me|us)\b"
        r"|\bright to (?:be forgotten|erasure)\b",
        r"\b(?:delete|erase|remove|wipe|destroy)\b(?: \w+){0,2} (?:everything|all|anything)\b"
        r"(?: \w+){0,3} (?:on|about|of) (?:me|us)\b",
        # "so these fundraising pings end", "make the reminders stop"
        # Wanted, not reported: not "the reminders end on Friday".
        rf"\b(?:so|make|want|wish|let|until|till|need) (?:these|the|your|those|all|this) (?:\w+ )?"
        rf"{_EN_MESSAGES} (?:\w+ )?(?:end|stop|cease|go away)\b",
        # Not "don't forget me" or "you lost me": only the sender's data is lost or forgotten.
        r"\b(?:lose|forget|bin|shred) (?:\w+ )?my (?:\w+ )?(?:number|details|data|contact\w*"
        r"|info\w*|e?mail|address)\b",
        rf"\b(?:turn|switch|shut) off (?:\w+ ){{0,2}}?{_EN_MESSAGES}\b|\b(?:turn|switch|shut)"
        rf" (?:\w+ ){{0,2}}?{_EN_MESSAGES} off\b|\bmute (?:\w+ ){{0,2}}?{_EN_MESSAGES}\b",
        rf"\b(?:good|fine|better|happier|ok|okay) without (?:\w+ ){{0,2}}?{_EN_MESSAGES}\b",
        r"\bno more (?:of )?(?:these|them)\b",
        rf"\b(?:cancel|end|terminate|stop)\b(?: \w+){{0,2}} (?:subscription|membership of"
        rf"|{_EN_MESSAGES})\b",
    ),
    stop_cue=re.compile(
        r"\b(?:stop|quit|cease|no longer|unsubscrib\w*|remov\w*|delet\w*|eras\w*|wipe"
        r"|not interested in|rather not|want off|want out|throw (?:it|that) away"
        r"|bin (?:it|that))\b"
    ),
    message_cue=re.compile(
        r"\b(?:messages|texts|updates|asks|requests|e?mails|spam|lists?|contacts"
        r"|reminders|appeals|(?:my|this) (?:number|details|data))\b"
    ),
)

# Dutch word families.
_NL_STOP = r"(?:stop|stopp|stoppen|ophouden|houd? (?:\w+ ){0,2}?op|kap\w*)"
# Dutch writes compounds as one word: "geldverzoeken", "donatieoproepen", "bedelmails".
_NL_MESSAGES = (
    r"(?:\w*bericht\w*|appjes?|app's|appen|sms\w*|\w*mails?|mailtjes?|mailen|\w*herinnering\w*"
    r"|\w*oproep\w*|\w*verzoek\w*|nieuwsbrie\w*|updates?|spam\w*|meldingen|notificaties"
    r"|sturen|versturen|benader\w*|lastig\w*|contact|bedel\w*|gebedel|geapp\w*|gemail\w*|gebel)"
)
_NL_ME = (
    r"(?:me|mij|mezelf|ons|(?:mijn|mn|m'n) (?:\w+ )?(?:nummer|\w*gegevens|naam|adres"
    r"|telefoonnummer|06)"
    r"|dit nummer)"
)
# Compounds and diminutives too: "verzendlijst", "lijstje", "adressenbestand"; not the
# waiting list or the guest list of an event.
_NL_LIST = (
    r"(?:(?:verzend|mailing|adressen|contact|bel|donateurs|leden|mail)?(?:lijst|lijstje|lijsten"
    r"|bestand|bestanden)|systeem|contacten|app|groep|bot|database)"
)

DUTCH = OptOutRules(
    stop_words=frozenset(
        {"stop", "stopp", "stoppen", "stop ermee", "hou op", "afmelden", "uitschrijven"}
        | {"opzeggen", "afmelding", "verwijderen", "verwijder me", "verwijder mij", "kappen"}
        | {"kap ermee", "ophouden", "uitschrijving", "stop hiermee", "hou ermee op"}
    ),
    politeness=frozenset(
        {"aub", "a u b", "alsjeblieft", "alstublieft", "graag", "bedankt", "dank je", "svp"}
        | {"nu", "please", "pls", "dankjewel", "ok", "oké", "ajb", "asjeblieft", "nou"}
        | {"genoeg", "echt", "gewoon", "even", "ff", "nu meteen", "maar", "wel"}
    ),
    keep=re.compile(
        r"\b(?:niet|nooit) (?:\w+ )?(?:stoppen|ophouden)\b|\b(?:stop|hou|houd) (?:\w+ )?"
        r"(?:niet|nooit)\b(?! meer)"
    ),
    patterns=_patterns(
        r"\b(?:afmelden|uitschrijven|afmelding|opzeggen|uitschrijving)\b(?! voor (?!de|het|deze"
        r"|die|alle|jullie))",
        r"\b(?:meld|schrijf|mld) (?:ik |je |u |jullie )?(?:me|mij|mezelf|ons) (?:\w+ ){0,3}?"
        r"(?:af|uit)\b",
        rf"\b(?:verwijder|wis|schrap)\w* (?:\w+ ){{0,2}}?{_NL_ME}\b",
        rf"\b{_NL_ME} (?:\w+ ){{0,3}}?(?:verwijderen|verwijderd|wissen|gewist|schrappen"
        r"|geschrapt|afhalen|eraf halen|uitschrijven|afmelden)\b",
        rf"\bhaal (?:{_NL_ME}|het|dit) (?:\w+ ){{0,3}}?(?:af|eraf|van|uit|weg)\b",
        r"\blaat (?:me|mij|ons) (?:\w+ ){0,2}?(?:met rust|gerust|erbuiten)\b",
        r"\blaat (?:me|mij|ons) (?:er|daar|hier) (?:\w+ ){0,2}?buiten\b",
        # The infinitive splits the verb: "om me af te melden", "mij eraf te halen".
        r"\b(?:me|mij|ons|mezelf) (?:\w+ ){0,3}?(?:af te melden|uit te schrijven|te verwijderen"
        r"|eraf te halen|af te halen)\b",
        # "Kan dit nummer van jullie lijst?": the verb left out.
        rf"\b{_NL_ME} (?:\w+ ){{0,2}}?(?:van|uit) (?:jullie|de|deze|die|uw|je|het|dit|jouw)"
        rf" (?:\w+ )?{_NL_LIST}\b",
        rf"\b(?:haal|halen|gehaald|verwijder\w*|zet|schrap\w*|wis)\b(?: \w+){{0,3}} (?:van|uit|af)"
        rf" (?:jullie|de|deze|die|uw|je|het|dit|jouw) (?:\w+ )?{_NL_LIST}\b",
        rf"\b(?:van|uit) (?:jullie|de|deze|die|uw|je|het|dit|jouw) (?:\w+ )?{_NL_LIST}"
        r" (?:\w+ )?(?:af|gehaald|halen|verwijderd|worden)\b",
        rf"\bwil (?:\w+ )?(?:hier|er|ervan|eruit|daar|van (?:\w+ ){{0,2}}?{_NL_LIST}) ?"
        r"(?:vanaf|af|eraf|uit|weg)\b",
        rf"\b{_NL_STOP}\b(?: \w+){{0,3}} {_NL_MESSAGES}\b",
        rf"\b{_NL_MESSAGES}\b(?: \w+){{0,2}} (?:stoppen|ophouden|kappen)\b",
        rf"\b(?:niet meer|nie meer|nooit meer|nooit weer)\b(?: \w+){{0,3}} {_NL_MESSAGES}\b",
        r"\b(?:uitgeschreven|afgemeld|verwijderd|geschrapt) (?:te )?(?:worden|zijn)\b",
        rf"\b{_NL_MESSAGES}\b(?: \w+){{0,3}} (?:liever |graag )?(?:niet|nooit) meer\b"
        r"(?! (?:gekregen|ontvangen|gezien|binnen))",
        rf"(?<!krijg )(?<!ontvang )(?<!kreeg )(?<!zie )\bgeen (?:\w+ )?{_NL_MESSAGES}\b"
        r"(?: \w+){0,3}? meer\b(?! (?:gekregen|ontvangen|gezien|binnen))",
        r"^stuur (?:me|mij|ons) (?:geen|niks|niets)\b",
        r"\bstuur (?:\w+ ){0,2}?(?:niks|niets|geen \w+) meer\b",
        # "Weg met mijn gegevens", "gooi mijn nummer maar weg", "alles wat jullie over mij
        # opgeslagen hebben mag weg", "zet me ff op stil", "ik blokkeer jullie".
        rf"\bweg met {_NL_ME}\b|\bgooi (?:{_NL_ME}|het|dat|dit) (?:\w+ ){{0,2}}?weg\b",
        r"\bover (?:mij|me|ons)\b(?: \w+){0,4} (?:mag|mogen|moet|moeten|kan|kunnen) (?:\w+ )?"
        r"(?:weg|verwijderd|gewist)\b",
        r"\bzet (?:me|mij|ons|dit|deze \w+|die \w+) (?:\w+ )?op stil\b",
        r"\bblokkeer\w* (?:jullie|je|u|deze bot|dit nummer|dit|de bot)\b",
        # "wil geen vragen om geld meer", "ik wil deze meldingen niet"
        rf"\b(?:wil|hoef)\b (?:\w+ ){{0,2}}?geen (?:\w+ ){{0,3}}?(?:{_NL_MESSAGES}|\w*vragen|geld"
        r"|giften|donatie\w*|\w*acties)\b(?: \w+){0,3}? meer\b",
        r"\b(?:wil|hoef)\b (?:\w+ )?(?:deze|die|jullie"
        rf"|die \w+) {_NL_MESSAGES} (?:\w+ )?(?:niet|nie)$",
        r"\b(?:wil|hoef)\b(?: \w+){0,3} (?:niet meer|geen \w+ meer|niks meer|niets meer"
        r"|nie meer)\b(?: \w+){0,2}? "
        r"(?:ontvangen|krijgen|hebben|benaderd|gebeld|geappt|gemaild|horen)\b",
        r"\bvraag (?:me|mij|ons) (?:\w+ )?niet meer\b",
        rf"\b(?:wil|hoef)\b (?:\w+ ){{0,3}}?(?:{_NL_MESSAGES}|deze \w+|dit|die \w+) (?:\w+ )?"
        r"(?:niet|nie) meer\b",
        r"\bzeg (?:\w+ ){0,2}?abonnement\b",
        r"\b(?:app|sms|mail|bel|stuur|bericht|benader)\w* (?:me|mij|ons) (?:\w+ )?(?:niet|nooit)"
        r" (?:meer|weer)\b",
        r"\bneem\b(?: \w+){0,3} geen contact\b",
        # "Hoe zet ik deze bedelberichten uit", "hoe raak ik van jullie berichten af"
        rf"\bzet\w*\b(?: \w+){{0,3}} {_NL_MESSAGES} (?:\w+ ){{0,3}}?uit\b|\b{_NL_MESSAGES}"
        r" (?:\w+ )?uit(?:zetten|te zetten)\b",
        rf"\bvan (?:\w+ ){{0,2}}?{_NL_MESSAGES} af\b|\b(?:verlost"
        rf"|bevrijd) (?:\w+ )?van (?:\w+ ){{0,2}}?"
        rf"{_NL_MESSAGES}\b",
        rf"\bmute\w* (?:\w+ )?(?:me|mij|ons|bot|{_NL_MESSAGES})\b|\b(?:me|mij"
        r"|ons) (?:\w+ )?muten\b",
        # "Wilt u mij voortaan overslaan bij uw inzamelacties"
        r"\b(?:voortaan|vanaf nu|in het vervolg|in de toekomst)\b(?: \w+){0,4} (?:overslaan"
        r"|over te slaan|buiten laten)\b|\b(?:me|mij|ons) (?:\w+ )?(?:voortaan|vanaf nu|in het"
        r" vervolg) (?:\w+ ){0,3}?overslaan\b",
        # "gelieve mij niet meer te contacteren"
        r"\b(?:me|mij|ons) (?:\w+ )?(?:niet|nooit|nie) meer (?:te )?(?:contacteren"
        r"|benaderen|bellen"
        r"|mailen|e-?mailen|appen|sms'en|berichten|lastig te vallen|lastigvallen|noemen|taggen"
        r"|vermelden)\b",
        rf"\bgeen (?:zin|behoefte|interesse) (?:meer )?in\b(?: \w+){{0,2}} {_NL_MESSAGES}\b",
    ),
    stop_cue=re.compile(
        r"\b(?:stop|stoppen|ophouden|hou op|verwijder\w*|schrap\w*|afmelden|uitschakel\w*"
        r"|uitgeschakeld"
        r"|uitschrijven|geen interesse in|haal|halen|gehaald|liever niet|gooi (?:het"
        r"|dat|dit) weg)\b"
    ),
    message_cue=re.compile(
        r"\b(?:berichte?n?|appjes?|updates|verzoeken|lijst|contacten|mails?|sms\w*|nieuwsbrief"
        r"|meldingen|notificaties"
        r"|(?:mijn|dit|mn|m'n) (?:nummer|\w*gegevens)|sturen|versturen|appen|mailen"
        r"|benaderen|spam)\b"
    ),
)

RULES: dict[str, OptOutRules] = {"en": ENGLISH, "nl": DUTCH}

_CLAUSES = re.compile(r"[^,.;:!?…]+")
_TYPO_MIN = 6  # a word this long may be one letter off a stop word ("afmelde", "unsubscibe")


def _strip_politeness(words: str, politeness: frozenset[str]) -> str:
    """Remove politeness words at either end ("please stop", "stop thanks")."""
    changed = True
    while changed and words:
        changed = False
        for word in politeness:
            if words == word:
                return ""
            if words.startswith(word + " "):
                words, changed = words[len(word) + 1 :], True
            elif words.endswith(" " + word):
                words, changed = words[: -len(word) - 1], True
    return words


def _one_letter_off(word: str, target: str) -> bool:
    """Tell whether two words differ by one letter dropped, added or changed."""
    if abs(len(word) - len(target)) > 1 or word == target:
        return False
    short, long = (word, target) if len(word) <= len(target) else (target, word)
    # Past the first difference the rest must match: after the changed letter, or after the
    # one the longer word has more (dropping any earlier letter of a run is the same).
    at = 0
    while at < len(short) and short[at] == long[at]:
        at += 1
    return short[at + (len(short) == len(long)) :] == long[at + 1 :]


@dataclass(frozen=True)
class _Joined:
    """Several languages' word sets joined once, with what tells most clauses apart fast."""

    politeness: frozenset[str]
    stop_words: frozenset[str]
    opening: frozenset[str]  # the first word of each politeness word
    closing: frozenset[str]  # and the last
    typos: dict[int, tuple[str, ...]]  # the long stop words a word of this length may miss

    def core(self, clause: str) -> str:
        """Return a clause without politeness words at either end (as _strip_politeness)."""
        # A clause that starts no politeness word, ends none and is none keeps its words.
        first, last = clause.partition(" ")[0], clause.rpartition(" ")[2]
        if first in self.opening or last in self.closing or clause in self.politeness:
            return _strip_politeness(clause, self.politeness)
        return clause

    def is_stop_word(self, core: str) -> bool:
        """Tell whether a clause's core is a stop word, or a long one with a typo."""
        if core in self.stop_words:
            return True
        return (
            len(core) >= _TYPO_MIN
            and " " not in core
            and any(_one_letter_off(core, word) for word in self.typos.get(len(core), ()))
        )


# Joined word sets by the identity of the rules joined (kept alive here, so never reused).
_JOINED: dict[tuple[int, ...], tuple[tuple[OptOutRules, ...], _Joined]] = {}


def _joined(every: list[OptOutRules]) -> _Joined:
    key = tuple(id(rules) for rules in every)
    found = _JOINED.get(key)
    if found is None:
        politeness = frozenset().union(*(rules.politeness for rules in every))
        stop_words = frozenset().union(*(rules.stop_words for rules in every))
        typos: dict[int, list[str]] = {}
        for word in sorted(stop_words):
            if len(word) >= _TYPO_MIN:
                for size in (len(word) - 1, len(word), len(word) + 1):
                    typos.setdefault(size, []).append(word)
        joined = _Joined(
            politeness,
            stop_words,
            frozenset(word.split(" ")[0] for word in politeness),
            frozenset(word.split(" ")[-1] for word in politeness),
            {size: tuple(words) for size, words in typos.items()},
        )
        found = _JOINED[key] = (tuple(every), joined)
    return found[1]


def asks_to_stop(clauses: list[str], every: list[OptOutRules]) -> bool:
    """Tell whether normalised clauses ask to stop our messages, by any language's rules."""
    joined = _joined(every)
    if any(joined.is_stop_word(joined.core(c)) for c in clauses):
        return True
    # A negated stop in any language asks for more, whichever language's rules read it.
    kept = " ".join(clauses)
    for rules in every:
        kept = rules.keep.sub("keep", kept)
    for rules in every:
        if any(pattern.search(kept) for pattern in rules.patterns) or (
            rules.stop_cue.search(kept) and rules.message_cue.search(kept)
        ):
            return True
    return False


def split_clauses(text: str) -> list[str]:
    """Return the raw clauses of a message, split at punctuation."""
    return _CLAUSES.findall(text)
