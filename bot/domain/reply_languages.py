"""How each language says the classes of a reply: one LanguageRules object per language.

bot/domain/classify.py applies them; a new language is one more object in RULES. Patterns
run on normalised text (lower case, punctuation and emoji gone, apostrophes kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain import reply_opt_outs as opt_outs
from bot.domain.reply_opt_outs import OptOutRules
from bot.domain.sentiment import PatternScorer, Scorer, VaderScorer


@dataclass(frozen=True)
class LanguageRules:
    """How one language says each class; patterns run on normalise()d text."""

    code: str
    opt_outs: OptOutRules  # how it asks to stop our messages (bot/domain/reply_opt_outs.py)
    question_words: frozenset[str]  # "how", "wanneer"
    question_verbs: frozenset[str]  # an inverted verb opening a yes/no question
    modal_verbs: frozenset[str]  # of those, the ones that need their subject right after them
    plural_ending: str  # a word with it may be that subject ("do members get"); "" for none
    subject_pronouns: frozenset[str]  # a verb (by its ending) before one opens a question
    addressees: frozenset[str]  # of those, the ones that ask us ("geven jullie ...")
    verb_endings: tuple[str, ...]
    subjects: frozenset[str]  # after a question verb later in a message, one of these must follow
    not_subjects: frozenset[str]  # a word after such a verb that makes it a statement
    # Dutch drops "ik" or "dat" from statements: "(Ik) ben er morgen", "(Dat) weet ik niet".
    # After one of these verbs, "er" (the expletive) is no subject; after "verb ik" (the first
    # person), these words end a statement.
    expletive: str
    first_person: str
    dropped_subject_verbs: frozenset[str]
    dropped_object_cues: frozenset[str]
    prepositions: frozenset[str]  # may stand before a question word ("bij wie")
    openers: frozenset[str]  # a greeting before a question ("hey, does ...", "hoi, kan ik ...")
    exclamations: frozenset[str]  # after a question word: an exclamation ("what a")
    indirect_questions: tuple[re.Pattern[str], ...]
    refusals: tuple[re.Pattern[str], ...]
    idioms: tuple[tuple[re.Pattern[str], float], ...]  # fixed phrases, first match wins a span
    markers: frozenset[str]  # common words of this language alone: a message is likely in it
    gift: re.Pattern[str]  # a sum given without a currency ("sent 35"), counted as money
    sentiment: Scorer


def _patterns(*sources: str) -> tuple[re.Pattern[str], ...]:
    """Compile patterns."""
    return tuple(re.compile(source) for source in sources)


def _idioms(*pairs: tuple[str, float]) -> tuple[tuple[re.Pattern[str], float], ...]:
    """Compile idioms with their polarity."""
    return tuple((re.compile(source), polarity) for source, polarity in pairs)


# "nie" is how many write and say "niet" (Flemish, informal).
_NL_NEGATIONS = frozenset(
    {"niet", "nie", "geen", "nooit", "niks", "niets", "allerminst", "nergens"}
)

ENGLISH = LanguageRules(
    code="en",
    opt_outs=opt_outs.ENGLISH,
    question_words=frozenset(
        {"how", "what", "when", "where", "why", "who", "whom", "whose", "which"}
        | {"what's", "how's", "where's", "when's", "who's", "whats", "hows"}
    ),
    question_verbs=frozenset(
        {"can", "could", "do", "does", "did", "is", "are", "was", "were", "will", "would"}
        | {"should", "shall", "may", "might", "have", "has", "any", "isn't", "aren't"}
    ),
    # English inverts only auxiliaries ("do you"); "thank you" is no question.
    modal_verbs=frozenset(
        {"can", "could", "do", "does", "did", "will", "would", "should", "shall", "may"}
        | {"might", "am"}
    ),
    plural_ending="s",
    subject_pronouns=frozenset(),
    addressees=frozenset({"you"}),
    verb_endings=(),
    subjects=frozenset(
        {"i", "you", "we", "they", "it", "he", "she", "there", "this", "that", "these", "those"}
        | {"the", "a", "an", "my", "your", "our", "their", "his", "her", "its", "anyone"}
        | {"anybody", "someone", "somebody", "everyone", "one", "children", "kids", "u", "ya"}
    ),
    not_subjects=frozenset(
        {"do", "be", "have", "not", "never", "definitely", "gladly", "happily", "too", "so"}
        | {"only", "always", "also", "sure", "try", "send", "give", "pay", "donate"}
        | {"transfer", "come", "see", "check", "more", "good"}
        # A dropped subject, not a question: "Was very disappointed", "Is really lovely".
        | {"very", "really", "quite", "pretty", "super", "totally", "absolutely", "extremely"}
        | {"truly", "a", "just", "already", "still", "well", "fine", "great", "lovely", "to"}
    ),
    expletive="",
    first_person="",
    dropped_subject_verbs=frozenset(),
    dropped_object_cues=frozenset(),
    prepositions=frozenset({"to", "with", "from", "for", "at", "in", "until", "since", "by"}),
    openers=frozenset({"hey", "hi", "hello", "hiya", "yo", "morning", "ok", "okay", "so", "oh"}),
    exclamations=frozenset({"a", "an", "not"}),  # "What a show", "Why not"
    indirect_questions=_patterns(
        r"\b(?:i'd|i would|id) (?:like|love) to know\b",
        r"\bi (?:would )?(?:like|want) to know\b",
        r"\b(?:i )?wonder(?:ing)? (?:if|whether|how|what|when|where|why|who)\b",
        r"\b(?:any|anyone have an?|no) idea (?:if|whether|how|what|when|where|why|who|which)\b",
        r"\b(?:like|want|wanted|need) to ask (?:if|whether|how|what|when|where|why|who|which)\b",
        r"\b(?:curious|keen to (?:know|hear)|interested to (?:know|hear)) (?:to (?:know|hear) )?"
        r"(?:if|whether|how|what|when|where|why|who|which)\b",
        r"\b(?:does )?any(?:one|body) know\b",
        r"^any chance (?:of|to|that|you)\b",
        r"\b(?:let me know|tell me) (?:if|whether|how|what|when|where|why|who)\b",
    ),
    refusals=_patterns(
        r"^(?:no|nope|nah)\b(?! (?:problem|worries|doubt|question))",
        r"\b(?:sadly|unfortunately|sorry|so) no\b",
        r"\bno (?:thanks|thank you)\b",
        r"\bnot (?:now|today|this (?:time|month|year|round)|interested|for me|really|again"
        r"|a fan|keen|able)\b",
        r"\b(?:can't|cannot|can not|cant|won't|wont|will not|couldn't|unable)\b"
        r"(?! (?:wait|stop|believe|say no|resist|complain))",
        r"\b(?:rather|prefer) not\b",
        r"\b(?:i'm|im|i am|count me) out\b",
        r"\bnot in a position\b",
        r"\bnot (?:at the moment|right now|currently|at present)\b",
        r"\bnot my (?:thing|cup of tea)\b",
        r"(?:^|\b(?:i'll|i will|ill|i|we'll|we) )pass\b(?! (?:it|this on|that on|on|along|the|them"
        r"|by|through))",
        r"\bskip (?:me|us)\b|\b(?:i'll|i will|ill|we'll|i) skip\b",
        r"\b(?:given|gave|donated|done|did) (?:enough|my bit|my share)\b|\btapped out\b",
        r"\b(?:my|our) limit\b|\b(?:doesn't|does not|won't|wont|can't|doesnt) stretch\b",
        # Not renewing: "letting the membership lapse", "not going to renew", "giving anymore".
        r"\blet(?:ting)? (?:\w+ ){0,2}?(?:membership|subscription|donation|gift|direct debit)"
        r" lapse\b",
        r"\bnot (?:going to|gonna) (?:renew|rejoin)\b",
        r"\b(?:giving|donating|renewing|supporting) any ?more\b",
        r"\bpass on (?:this|that|it)(?: one| time| year| round)?\b|\bdeclin(?:e|ing)\b",
        # A gift ended: "I'm not giving anymore", "no longer donating".
        r"\b(?:not|no longer|never|won't be|(?<!never )(?<!not )(?<!haven't )stopped)"
        r" (?:be )?(?:giving|donating|renewing|paying|supporting)\b(?! up)(?! \w+ up)",
        r"(?<!could )(?<!would )(?<!can't )(?<!cannot )(?<!cant )\b(?:say|saying|said) no\b"
        r"|\b(?:thanks|thank you|sorry|afraid|so) but no\b",
        # Refusal frames: "isn't for me", "sit this one out", "tired of", "can't afford".
        r"\b(?:not|isn't|is not|isnt|wasn't|wasnt|weren't|werent|aren't|arent|were not|are not)"
        r" (?:really |quite )?(?:for me|for us"
        r"|my (?:thing|cup of tea)|worth)\b",
        r"\bsit (?:this|it|that)(?: one)? out\b",
        r"\b(?:tired|sick|weary) of\b|\bfed up\b",
        r"\b(?:don't|dont|do not) think (?:i|we)\b(?: \w+){0,3} (?:give|donate|join|make it"
        r"|afford|help|can|will|manage)\b",
        r"\b(?:no|not the) (?:money|budget|spare cash|cash)\b|\bbroke\b|\bskint\b"
        r"|\b(?:money|budget|things)(?:'s| is| are) tight\b",
        r"\b(?:maybe|probably|perhaps) not\b|\bdon't think so\b",
        r"\bother (?:\w+ )?(?:priorities|commitments|causes|charities|organi[sz]ations)\b",
        # Another cause preferred: "I'd rather give to the food bank".
        # Not "I'd rather give by card": a way to give is no refusal.
        r"\b(?:rather|prefer to|prefer) (?:(?:give|giving|donate|donating|spend|put)(?: \w+)?"
        r" (?:to|elsewhere|somewhere)|support|supporting|help|sponsor)\b",
        r"\bgive (?:\w+ ){0,2}?a miss\b",
        r"\b(?:don't|dont|do not) think (?:it's|its|it is|that's|thats|it'd|it would be) (?:\w+ )?"
        r"(?:worth|a good idea|necessary|for me)\b",
        r"(?:^|\b(?:so|then|sorry|sry|but|afraid|thanks|i'm afraid)) (?:no|nope|nah)$",
    ),
    idioms=_idioms(
        # "I'm in" alone, not "I'm in Spain".
        (r"\bcount me in\b|\b(?:i'm|im|i am|we're) in\b(?= (?:for|too|again|as well)\b|$)", 0.6),
        (
            r"\b(?:couldn't|couldnt|could not|can't|cant) (?:be|get|have been) (?:any )?(?:happier"
            r"|better|prouder|more \w+)\b",
            0.6,
        ),
        (r"\bsign me up\b", 0.6),
        (
            r"\b(?:blew|blow|blown|blowing) (?:my|our|his|her|their) minds?\b|\bmind ?blowing\b"
            r"|\bblown away\b",
            0.6,
        ),
        (
            r"\b(?:is|was|are|were) (?:\w+ )?(?:a joke|a scandal|a disgrace|daylight robbery)\b",
            -0.6,
        ),
        (r"\bevery (?:little )?(?:bit )?helps\b", 0.6),
        (r"\b(?:made|makes|make) (?:my|our) (?:whole )?(?:day|week|month|year|weekend)\b", 0.6),
        (r"\bconsider it done\b|\b(?:already|all) (?:done|sorted|paid)\b", 0.6),
        (r"\b(?:can't|cannot|cant) complain\b", 0.3),
        (r"\blet ?down\b", -0.5),
        (r"\bpoorly (?:organi[sz]ed|run|managed|signposted|explained|lit)\b", -0.6),
        # Not "we were looking forward to it and now it's cancelled".
        (
            r"(?<!were )(?<!was )\blooking forward\b|\bnext level\b|\byou (?:guys |all "
            r"|lot )?rock\b",
            0.6,
        ),
        (r"\b(?:doesn't|don't|didn't|does not|do not|none of\b(?: \w+){0,3}) appeal\w*\b", -0.5),
        (r"\bto be honest\b|\bhello (?:everyone|all)\b|\bnew (?:member|here)\b", 0.0),
        (r"\b(?:wouldn't|would not|don't want to|do not want to|never want to) miss\b", 0.6),
        # Facts, not feelings: "as well", "right in front", "the care home", "the top photo".
        (r"\bas well\b|\bright (?:in front|next|outside|behind|by|at)\b|\bcare home\b", 0.0),
        (r"\btop (?:photo|picture|row|floor|left|right|shelf)\b", 0.0),
        # Receipts: "ok noted"; and "for anyone who missed it".
        (r"\b(?:ok|okay|okey) (?:noted|received|got it|understood|seen)\b", 0.0),
        (r"\b(?:anyone|those|whoever|people) who missed\b", 0.0),
        (r"\b(?:greetings|regards) from\b", 0.0),
        (r"\b(?:sorry|oops|sry)\b(?: \w+){0,2} wrong (?:chat|group|person|number|thread)\b", 0.0),
        (r"\bgood (?:morning|afternoon|evening|night|day)\b", 0.0),
        (
            r"\b(?:will|i'll|let me|need to|have to|i'd like to) (?:\w+ )?"
            r"(?:decide|think|see|check)\b",
            0.0,
        ),
        (r"\bcount (?:me|us)\b(?: \w+){1,3} in\b", 0.6),
        # A gift raised: "I've upped my monthly to 10".
        (
            r"\b(?:upped|raised|increased|doubled|bumped up) (?:my|our) (?:\w+ )?(?:monthly|gift"
            r"|donation|pledge|contribution|support|membership)\b",
            0.6,
        ),
        (r"\bhalf (?:finished|done|baked|empty)\b", -0.5),
        (r"\bgreat (?:uncle|aunt|grand\w*|grandparents)\b", 0.0),
        (r"\bsorry (?:for|about) (?:the |my |any )?typos?\b", 0.0),
        (r"\bwill do\b", 0.6),
        (r"\bof course\b", 0.6),
        (r"\bchip(?:ped|ping)? in\b", 0.6),
        (r"\bput (?:me|us) down for\b", 0.6),
        (r"\bcount on (?:me|us)\b", 0.6),
        (r"\bhad a (?:blast|ball|great time)\b", 0.6),
        (r"\bnot (?:\w+ )?convinced\b", -0.6),
        (
            r"\b(?:standing order|direct debit|(?:monthly|regular|recurring) (?:gift|payment"
            r"|donation|donor))\b",
            0.5,
        ),
        (r"\brip ?off\b", -0.6),
        (r"\bexpected (?:more|better|a lot more)\b", -0.5),
        (r"\bhappy to\b", 0.6),
        (r"\bkeep it up\b", 0.6),
        (r"\bcan't wait\b", 0.6),
        (r"\bmade my day\b", 0.6),
        (r"\bno (?:problem|worries)\b", 0.5),
        # "Too" before a word is a complaint ("too crowded"), unless it praises ("too kind").
        (
            r"(?<!me )(?<!you )(?<!us )\b(?:way |far |much |a bit |bit )?too (?!(?:kind|good|sweet"
            r"|generous|lovely|cute|and|but|so|i|we|the|a|my|for|x+|haha)\b)\w+",
            -0.4,
        ),
        (r"\bnot sure\b|\bdepends on\b", 0.0),
        (r"\b(?:that's|thats|what|such|it's|its) a (?:shame|pity)\b", -0.6),
        (r"(?<!not )\bworth (?:the|a|every|it)\b", 0.5),
        (r"\b(?:a bit|a little|bit) (?:much|too much)\b", -0.4),
    ),
    markers=frozenset(
        {"i", "the", "you", "my", "it", "is", "not", "and", "this", "that", "of", "for", "me"}
        | {"a", "to", "your", "are", "was", "will", "just", "so", "thanks", "thank", "please"}
        | {"yes", "i'm", "i'll", "can't", "don't", "love", "great", "good"}
    ),
    gift=re.compile(
        r"\b(?:sent|gave|paid|donated|transferred|pledged?|pledging|put|chip|chipped|add|added)\b"
        r"(?: \w+){0,2} \d+\b"
    ),
    sentiment=VaderScorer(
        {
            **dict.fromkeys(("donate", "donated", "donating", "donation", "pledge"), 0.5),
            **dict.fromkeys(("pledged", "pledging", "gave", "give", "giving", "paid"), 0.4),
            **dict.fromkeys(("transfer", "transferred", "sending"), 0.3),
            **dict.fromkeys(("crashed", "crashing", "overpriced"), -0.4),
            **dict.fromkeys(("bravo", "kudos", "congrats"), 0.6),
            "gem": 0.5,
            **dict.fromkeys(("thnx", "tnx", "thanx", "incredible", "unreal", "smashing"), 0.6),
            **dict.fromkeys(("donor", "renewed", "member", "membership", "goodluck"), 0.4),
            **dict.fromkeys(("underwhelming", "letdown", "filthy", "overcrowded"), -0.5),
            **dict.fromkeys(("pricey", "crowded", "meh", "tired"), -0.3),
            **dict.fromkeys(("rushed", "unfinished", "shoddy", "sloppy", "chaotic"), -0.4),
            "payed": 0.4,
            "holidays": 0.0,
            "fyi": 0.0,
            "stops": 0.0,  # "the bus stops here"; a lone "Stop" keeps VADER's reading
            "pay": 0.0,
            "nightmare": -0.6,
            **dict.fromkeys(("noisy", "empty", "deserted"), -0.4),
            "merci": 0.6,
            # Facts, not feelings, in a supporter's message ("I'm on holiday until the 20th",
            # "honestly the fee is ridiculous", "my number changed").
            **dict.fromkeys(("holiday", "honestly", "number", "friends", "tbh", "pretty"), 0.0),
            # VADER reads "alert" as attentive (+1.2); in a message it is a notice or a tag.
            "alert": 0.0,
        }
    ),
)

DUTCH = LanguageRules(
    code="nl",
    opt_outs=opt_outs.DUTCH,
    question_words=frozenset(
        {"hoe", "wat", "wanneer", "waar", "waarom", "wie", "wiens", "welke", "welk"}
        | {"hoeveel", "hoelang", "hoezo", "waarvoor", "waarheen", "waarmee", "waarover"}
    ),
    question_verbs=frozenset(
        {"kan", "kun", "kunt", "kunnen", "mag", "mogen", "moet", "moeten", "is", "zijn"}
        | {"ben", "bent", "heeft", "hebben", "hebt", "krijg", "krijgt", "krijgen", "komt"}
        | {"komen", "accepteren", "accepteert", "staan", "staat", "gaat", "gaan", "wil"}
        | {"wilt", "willen", "zal", "zullen", "zou", "zouden", "weet", "weten", "werkt"}
        | {"geldt", "doen", "doet", "bestaat", "zit", "zitten", "ligt", "sluit", "begint"}
        | {"wordt", "worden", "was", "waren", "klopt"}
    ),
    # Dutch inverts every verb ("nemen jullie ... aan?"), so the pronoun after it tells.
    # With the first person ("ben er al mee bezig") Dutch drops the subject of statements too.
    modal_verbs=frozenset(
        {"kan", "kun", "kunt", "mag", "moet", "wil", "wilt", "zal", "zou", "ben", "heb", "kom"}
    ),
    plural_ending="",  # Dutch infinitives end like plurals ("kan ophalen")
    subject_pronouns=frozenset(
        {"jullie", "je", "jij", "u", "ik", "we", "wij", "ze", "zij", "hij"}
    ),
    addressees=frozenset({"jullie", "u"}),
    verb_endings=("en", "t"),
    subjects=frozenset(
        {"jullie", "je", "jij", "u", "ik", "we", "wij", "ze", "zij", "hij", "het", "de"}
        | {"dit", "dat", "deze", "die", "mijn", "uw", "jouw", "onze", "ons", "een", "iemand"}
        | {"men", "iedereen", "kinderen", "er"}
    ),
    not_subjects=frozenset(
        {"nu", "niet", "even", "wel", "ook", "zeker", "helaas", "graag", "gewoon", "mee"}
        | {"net", "al", "gelukt", "gedaan", "klaar", "benieuwd", "dus", "toch", "in"}
        | {"nog", "geregeld", "betaald", "overgemaakt", "prima", "goed"}
    ),
    expletive="er",
    first_person="ik",
    dropped_subject_verbs=frozenset(
        {"ben", "heb", "kom", "kan", "ga", "zit", "doe", "sta", "moet", "wil"}
    ),
    dropped_object_cues=frozenset({"niet", "nie", "wel", "zeker"}),
    prepositions=frozenset({"bij", "met", "tot", "vanaf", "voor", "naar", "van", "om", "aan"}),
    openers=frozenset(
        {"hoi", "hallo", "hey", "hee", "hi", "dag", "goedemorgen", "oké", "ok", "oh", "zeg"}
    ),
    exclamations=frozenset({"een", "niet"}),  # "Wat een show", "Waarom niet"
    indirect_questions=_patterns(
        r"\bik (?:vraag|vroeg) me af\b",
        r"\bweet (?:iemand|u|je|jij|jullie) (?:of|hoe|wat|wanneer|waar|waarom|wie)\b",
        r"\b(?:ik )?(?:wil|zou) (?:graag )?(?:willen )?weten\b",
        r"\bgraag (?:zou ik )?(?:willen )?weten\b",
        r"\bbenieuwd (?:naar )?(?:of|hoe|hoeveel|hoelang|wat|wanneer|waar|waarom|wie|welke)\b",
        r"\b(?:enig|geen|een) idee (?:of|hoe|hoeveel|wat|wanneer|waar|waarom|wie|welke)\b",
        r"\b(?:wil|wilde|zou) (?:graag |even )?(?:willen )?vragen (?:of|hoe|hoeveel|wat"
        r"|wanneer|waar"
        r"|waarom|wie|welke)\b",
    ),
    refusals=_patterns(
        r"^(?:nee|neen|neej|neuh|nope|nah)\b",
        r"\b(?:sorry|sry|helaas|dus|maar|nou) nee\b|\bnee (?:bedankt|dank je|dankje|hoor)\b",
        r"\b(?:niet nu|nu niet|nu even niet|deze keer niet|dit keer niet|dit jaar niet"
        r"|deze maand niet|liever niet|helaas niet|echt niet|geen interesse|niet geinteresseerd"
        r"|niet geïnteresseerd|niks voor mij|niets voor mij|niet voor mij|niet mijn ding"
        r"|doe niet mee|niet mee)\b",
        r"\bkan\b(?: \w+){0,4} (?:niet|nie|niks|niets)\b(?! (?:wachten|genoeg))",
        r"\bsla\b(?: \w+){0,4} over\b",
        r"\b(?:deze|dit|die) (?:keer|ronde|maand|jaar|week|actie) (?:niet|nie)\b",
        r"\b(?:ik|we|wij) doe\w* (?:het |dat )?niet\b",
        # Refusal frames: "ik pas", "doe er niet aan mee", "lukt niet", "geen geld", "beu".
        r"(?:^|\b(?:ik|wij|we) )pas\b(?! (?:op|goed|even|wel|nog|aan))",
        r"\bdoe\w* (?:ik |we |wij )?(?:er |hier |daar )?(?:niet|nie) (?:aan )?mee\b",
        r"\b(?:niet|nie) (?:deze|dit|die) (?:keer|maand|jaar|week|ronde)\b",
        # Membership not renewed: "ik verleng niet", "dit jaar verlengen we niet", "we zeggen het
        # lidmaatschap op".
        r"\b(?:verleng|verlengen|vernieuw|vernieuwen)\w* (?:ik |we |wij )?(?:\w+ )?(?:niet|nie)\b",
        r"\bzeg\w* (?:\w+ ){0,3}?(?:lidmaatschap|donatie|bijdrage|machtiging|steun) op\b",
        r"\b(?:lidmaatschap|abonnement|donatie|machtiging|bijdrage)\b(?: \w+){0,3} verlopen\b",
        r"\blaat (?:ik |we )?(?:het|dat|dit) (?:\w+ )?zitten\b",
        r"\bblijft (?:er )?(?:\w+ )?(?:niks|niets|weinig) over\b",
        r"\b(?:kunnen|kunt|kun)\b(?: \w+){0,3} (?:niet|nie|niks|niets) (?:missen"
        r"|betalen|geven|doneren"
        r"|veroorloven|bijdragen|meedoen)\b",
        r"\blukt\b(?: \w+){0,3} (?:niet|nie)\b|\bgaat (?:\w+ ){0,2}niet lukken\b",
        r"\b(?:denk|geloof) (?:niet|nie) dat (?:ik|we|wij)\b",
        r"\bgeen (?:geld|budget|ruimte|cent|zin|goesting)\b|\bkrap bij kas\b|\bblut\b",
        # "Ik bedank ervoor": no, thank you. "Er zit niks meer in": no money left.
        # Not "bedankt ervoor", which thanks.
        r"\bbedank (?:er|daar)(?: \w+)? ?voor\b",
        r"\bzit (?:er )?(?:\w+ )?(?:niks|niets|geen (?:geld|ruimte|budget)) meer in\b",
        # A gift ended: "ik geef niks meer", "doneer niet meer".
        r"\b(?:geef|geven|doneer|doneren|steun|steunen|betaal)\w* (?:\w+ )?(?:niks|niets|niet|nie"
        r"|geen \w+) meer\b(?! dan)",
        r"\bniet (?:nodig|de moeite|waard)\b",
        r"\bbegin (?:ik |we )?(?:er |daar )?(?:niet|nie) aan\b|\bandere prioriteiten\b",
        r"\b(?:er|daar|hier) (?:\w+ )?(?:niet|nie) aan (?:beginnen|meedoen)\b",
        # Another cause preferred: "Ik steun liever de voedselbank".
        # Not "Ik geef liever contant": a way to give is no refusal.
        r"\b(?:steun|steunen|help|helpen|sponsor)\w* (?:\w+ )?liever\b|\b(?:geef|geven|doneer"
        r"|doneren) (?:\w+ )?liever (?:\w+ )?(?:aan|naar|elders|ergens)\b",
        # A gift ended: "mn bijdrage stopgezet", "lidmaatschap opgezegd".
        r"\b(?:stopgezet|opgezegd|beëindigd|beeindigd)\b",
        r"^doe (?:\w+ )?maar (?:niet|nie)\b",
        r"\bniet (?:echt |helemaal |zo )?(?:mijn|m'n|mn) (?:smaak|ding|stijl)\b",
        r"\bhet (?:beu|zat)\b|\b(?:ben|zijn) (?:\w+ )?(?:beu|zat)\b",
        r"\b(?:al genoeg|genoeg gegeven|genoeg gedoneerd)\b",
        r"\bnooit weer\b",
    ),
    idioms=_idioms(
        (r"\bkan niet wachten\b", 0.6),
        (r"\bnooit (?:zo'n|zo n|zoiets|zo) (?:\w+ )?(?:mooi|goed|leuk|prachtig|mooie)\w*\b", 0.6),
        (r"\bkan (?:niet|nie) (?:beter|mooier|leuker)\b", 0.6),
        (r"\b(?:is|was|weer|alweer|ging|gaat) (?:\w+ )?(?:stuk|kapot)\b", -0.5),
        (r"\bzonde\b", -0.5),
        (r"\bte veel van het goede\b", -0.6),
        (r"\balle beetjes helpen\b", 0.6),
        (r"\b(?:helemaal |volledig |het )?mee eens\b", 0.6),
        (r"\b(?:ok|oké|oke) (?:gelezen|ontvangen|gezien|genoteerd|begrepen)\b", 0.0),
        (
            r"\bniet te (?:verstaan|volgen|zien|horen|lezen|doen|vinden|begrijpen"
            r"|betalen|genieten)\b",
            -0.6,
        ),
        (r"\b(?:vond|vonden)\b(?: \w+){0,4} (?:niks|niets) aan\b", -0.6),
        (r"\b(?:balen|baal)\b|\bjammer dat\b|\bte gortig\b|\bhet spijt me\b", -0.6),
        (r"\b(?:is|zijn) (?:\w+ )?te (?:klein|krap|laag|weinig) voor\b", -0.5),
        (r"\bkijk\w* (?:er )?(?:\w+ )?naar uit\b|\bnext level\b|\bwat een plaatje\b", 0.6),
        (
            r"\b(?:wil|willen|zou|zouden)\b(?: \w+){0,3} (?:niet|nie|nooit) (?:willen )?missen\b",
            0.6,
        ),
        (r"\b(?:nieuw )?lid van (?:deze|de|die) (?:groep|chat|app)\b|\bmorgen allemaal\b", 0.0),
        (r"^(?:pf+|zucht)\b", -0.5),
        (r"\bzit (?:wel |helemaal )?snor\b|\bkomt eraan\b", 0.6),
        (r"\bal (?:gedaan|betaald|overgemaakt|geregeld|gegeven)\b", 0.6),
        (r"\b(?:groeten|groetjes) (?:uit|van)\b", 0.0),
        (
            r"\b(?:sorry|oeps|oops|sry)\b(?: \w+){0,2} verkeerde? (?:chat|groep|persoon"
            r"|nummer|app)\b",
            0.0,
        ),
        (r"\bga (?:ik|we) (?:\w+ )?(?:doen|regelen|overmaken|betalen|geven|doneren)\b", 0.5),
        (
            r"\bgeef (?:me|mij|ons) (?:\w+ ){0,3}?(?:bedenktijd|tijd|dagen|weken)\b"
            r"|\bbedenktijd\b",
            0.0,
        ),
        (
            r"\buit elkaar (?:gevallen|viel|vallen|valt)\b|\b(?:valt|viel|vielen|vallen) (?:\w+ )?"
            r"uit elkaar\b",
            -0.5,
        ),
        (r"\bvoor geen (?:meter|cent|zak|moer)\b", -0.6),
        (r"\b(?:werkt|werkte|werkten|deed het|doet het) (?:\w+ ){0,2}?(?:niet|nie)\b", -0.5),
        (r"\bgeen (?:vertrouwen|goed gevoel)\b", -0.6),
        (r"\bniet (?:kunnen|ok|oké|done)\b", -0.6),
        (r"\b(?:komt|is) (?:\w+ )?in orde\b", 0.5),
        (r"\bdoe(?:n)? (?:ik |we )?mee\b", 0.6),
        (r"\bdoe ik\b", 0.5),
        (r"\bga zo door\b", 0.6),
        (r"\b(?:houden zo|petje af)\b", 0.6),
        (r"\b(?:reken|rekenen) op (?:me|mij|ons)\b|\bop (?:me|mij|ons) (?:\w+ )?rekenen\b", 0.6),
        (r"\bniet (?:\w+ ){0,2}?overtuigd\b", -0.6),
        (r"\bmet (?:alle )?(?:plezier|liefde|genoegen)\b", 0.6),
        (
            r"\b(?:periodieke (?:gift|overboeking|donatie)|machtiging|incasso|maandelijks\w* "
            r"(?:gift|bijdrage|donatie|donateur|bedrag))\b",
            0.5,
        ),
        (r"\bafzetterij\b", -0.6),
        (r"\b(?:meer|beter) (?:van )?verwacht\b", -0.5),
        (r"\bvind\w*\b(?: \w+){0,4} (?:niks|niets)\b", -0.5),
        (r"\bniet onder de indruk\b", -0.5),
        (r"\bonder de indruk\b", 0.6),
        # "Valt echt nie tegen" praises; first match wins, so it stands before "valt tegen".
        (r"\b(?:valt|viel|vielen) (?:\w+ ){0,2}?(?:niet|nie|helemaal niet) tegen\b", 0.6),
        (r"\b(?:valt|viel|vielen) (?:\w+ ){0,2}?tegen\b", -0.6),
        (r"\bgek van\b", -0.6),
        (r"\bmaak\b(?: \w+){1,3} over\b", 0.5),
        (r"\b(?:veel )?te (?:veel|lang|duur|weinig|laat|druk|vol|koud|warm)\b", -0.4),
        (r"\b(?:een beetje|wat) (?:veel|te veel)\b", -0.4),
    ),
    markers=frozenset(
        {"ik", "het", "de", "een", "niet", "van", "jullie", "je", "mijn", "dat", "die", "maar"}
        | {"ook", "wel", "heb", "ben", "nog", "voor", "geen", "mij", "graag", "dit", "zijn"}
    ),
    gift=re.compile(
        r"\b\d+\b(?: \w+){0,2} (?:gestuurd|gegeven|betaald|gedoneerd|overgemaakt|gestort)\b"
        r"|\b\d+ (?:euro )?van (?:mij|ons)\b"
    ),
    sentiment=PatternScorer(
        {
            **dict.fromkeys(("bedankt", "dank", "dankjewel", "dankuwel", "ja", "jazeker"), 0.6),
            **dict.fromkeys(("jep", "jup", "yes"), 0.5),
            **dict.fromkeys(("overgemaakt", "gedoneerd", "gestort", "betaald", "top"), 0.6),
            **dict.fromkeys(("doneer", "doneren", "donatie", "steun", "steunen", "gesteund"), 0.5),
            **dict.fromkeys(("natuurlijk", "tuurlijk", "graag", "succes", "gelukt"), 0.5),
            **dict.fromkeys(("gefeliciteerd", "proficiat", "bravo", "chapeau"), 0.6),
            **dict.fromkeys(("balen", "baal", "bah"), -0.6),
            **dict.fromkeys(("gegeven", "geef", "geven", "gift", "vriend", "zeker"), 0.4),
            **dict.fromkeys(("oké", "oke", "ok"), 0.3),
            "trots": 0.6,  # the lexicon averages "proud" with "arrogant"
            **dict.fromkeys(("helaas", "jammer", "teleurgesteld"), -0.6),
            **dict.fromkeys(("probleem", "crashte", "gecrasht"), -0.4),
            "sorry": -0.3,
            # Listed as adjectives ("naar": nasty), but nearly always a preposition or adverb.
            **dict.fromkeys(("naar", "even", "net", "later"), 0.0),
            "link": 0.0,  # "risky" in the lexicon; a web link here
            # Facts, not feelings, in a message ("hoe laat", "drukke week", "de grote zaal",
            # "eerlijk gezegd", "de oude veerboot").
            **dict.fromkeys(("laat", "druk", "drukke", "grote", "groot", "oude", "oud"), 0.0),
            **dict.fromkeys(("eerlijk", "gelezen", "lezen"), 0.0),
            **dict.fromkeys(("donateur", "verlengd", "lid", "lidmaatschap"), 0.4),
            **dict.fromkeys(("tegenvallend", "tegenvaller", "beu", "vies", "smerig"), -0.6),
            **dict.fromkeys(("pareltje", "parel"), 0.5),
            # Nouns the adjective lexicon lacks.
            **dict.fromkeys(("drama", "ramp", "fiasco", "schande", "aanfluiting"), -0.6),
            **dict.fromkeys(("uitgemolken", "uitgebuit", "opgelicht"), -0.6),
            "geregeld": 0.5,
            "merci": 0.6,
            "vet": 0.6,  # "echt vet": cool
            "gemaakt": 0.0,  # "knap gemaakt": made, not affected
            "laatste": 0.0,  # "de laatste boot": the last one
            "foutmelding": -0.5,
            "zat": 0.0,  # "ik zat": sat; "het zat zijn" is a refusal frame
            **dict.fromkeys(("links", "rechts"), 0.0),  # a side, not "sly"
        },
        _NL_NEGATIONS,
    ),
)

RULES: dict[str, LanguageRules] = {rules.code: rules for rules in (ENGLISH, DUTCH)}
