"""Harm signals beside the swear words: phrase and pattern rules, in the languages of the
word lists (en, es, fr, de, pt), for what hurts people rather than what merely offends.

It owns the rules and what each hit means:

- `THREAT`: threats of violence ("I'm going to stab you", "te voy a matar");
- `DOXXING`: "I know where you live", asking a stranger for their address or school;
- `SELF_HARM_ENCOURAGEMENT`: telling someone to hurt or kill themselves;
- `SELF_HARM_IDEATION`: someone saying they think of hurting themselves. Never reported:
  the speaker is offered help (`support_frame`), quietly, and only they see it;
- `SLUR_INSULT`: a listed slur (the word lists' `## slur` category) aimed at the partner;
- `MINOR_AGE`, `SEXUAL`, `AGE_PROBE`, `GROOMING`: context signals. None is harm by itself;
  `minor_safety` follows from them per conversation (`minor_safety`), e.g. sexual talk toward
  someone who said they are under 18, or "what school do you go to, how old are you" after
  sexual talk.

The rules run on the line folded by `filtering.filters` (lower case, accents and zero-width
characters gone), inline on every line, and never mask anything: ordinary talk about these
topics ("my school is hard") is left alone, and a hit only files or raises an automatic report
(`moderation.analysis`), each category with its own reason and therefore priority.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import ahocorasick
from django.conf import settings

THREAT = "threat"
DOXXING = "doxxing"
SELF_HARM_ENCOURAGEMENT = "self_harm_encouragement"
SELF_HARM_IDEATION = "self_harm_ideation"
SLUR_INSULT = "slur_insult"
MINOR_AGE = "minor_age"
SEXUAL = "sexual"
AGE_PROBE = "age_probe"
GROOMING = "grooming"
MINOR_SAFETY = "minor_safety"

# Categories that file or raise an automatic report by themselves, with the report's reason
# (moderation.models.Report.Reason values; moderation.priority orders them).
REPORTED = MappingProxyType({
    MINOR_SAFETY: "minor_safety",
    SELF_HARM_ENCOURAGEMENT: "self_harm",
    SLUR_INSULT: "hate",
    THREAT: "harassment",
    DOXXING: "harassment",
})
# Categories whose meaning depends on what else was said in the conversation.
CONTEXT = frozenset({MINOR_AGE, SEXUAL, AGE_PROBE, GROOMING})
SLUR_CATEGORY = "slur"  # the word lists' category name

_Q = r"['’]?"  # an optional apostrophe, straight or curly
_YOU = r"(?:you|u|ya|yu)"
_I_WILL = (rf"(?:i{_Q}ll|i will|i{_Q}m (?:going to|gonna|gunna)|im (?:going to|gonna)|"
           rf"i am (?:going to|gonna)|i shall|we{_Q}ll|we will|we{_Q}re (?:going to|gonna)|"
           rf"imma|ima|i{_Q}ma)")
_VIOLENT = (r"(?:kill|murder|stab|shoot|hurt|beat|strangle|choke|rape|behead|punch|smash|"
            r"break|slit|cut|burn|bash|torture|destroy|end)")
# Words that, right before "kill yourself", turn it into ordinary advice.
NOT_ADVICE = ("don't", "dont", "do not", "never", "not", "no need to")


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{alternative})".replace("{Q}", _Q)
                               for alternative in alternatives))


RULES: Mapping[str, re.Pattern[str]] = MappingProxyType({
    THREAT: _rx(
        rf"\b{_I_WILL} (?:\w+ ){{0,2}}?{_VIOLENT} (?:{_YOU}|your (?:face|head|family|"
        rf"mom|mother|kids?|throat|legs?|neck|house|car))\b"
        r"(?! (?:a|an) (?:message|text|e?mail|dm|pm|line|note|link|pic|photo)\b)",
        rf"\b(?:{_YOU}{_Q}re|{_YOU} are|ur|{_YOU} r) (?:so |fucking |already )?dead(?: meat)?\b"
        rf"(?! (?:tired|serious|wrong|right|inside|on))",
        rf"\b{_YOU}{_Q}(?:re| are) (?:going to|gonna) die\b",
        r"\bwatch your back\b", r"\bsleep with one eye open\b",
        r"\bi (?:will|{Q}ll) (?:find|hunt) (?:you|u) (?:down|and)\b",
        # es
        r"\bte (?:voy a|vamos a) (?:matar|apunalar|pegar|violar|reventar|partir la cara|"
        r"buscar y)\b", r"\bte (?:mato|matare|reviento)\b", r"\b(?:estas|vas a estar) muert[oa]\b",
        r"\bvas a morir\b",
        # fr
        r"\bje (?:vais|vai) te (?:tuer|buter|frapper|poignarder|violer|defoncer|egorger|"
        r"retrouver)\b", r"\bje (?:te|t{Q}) ?(?:tue|tuerai|bute|buterai|egorge)\b",
        r"\b(?:t{Q}es|tu es) (?:un )?(?:homme )?mort\b",
        r"\btu vas mourir\b",
        # de
        r"\bich (?:werde|will|wird|)\s?dich (?:umbringen|toten|abstechen|verpr[uü]geln|"
        r"schlagen|finden|vergewaltigen|abknallen)\b", r"\bich (?:bring|bringe|tote|toete) dich"
        r"(?: um)?\b", r"\bdu bist (?:so )?tot\b", r"\bdu wirst sterben\b",
        # pt
        r"\b(?:eu )?vou te (?:matar|esfaquear|bater|estuprar|encontrar|pegar|quebrar)\b",
        r"\b(?:eu )?te mato\b", r"\b(?:voce|vc|tu) (?:vai|vais) morrer\b",
        r"\b(?:voce|vc|tu) (?:esta|ta|estas) mort[oa]\b",
    ),
    DOXXING: _rx(
        r"\bi (?:know|found|found out|have|got) where (?:you|u) (?:live|stay|sleep)\b",
        rf"\b(?:{_I_WILL}|i can|i could) (?:\w+ ){{0,2}}?(?:find|find out|figure out|track|look "
        rf"up|get|post|leak|dox{{1,2}}) (?:where (?:you|u) live|your (?:address|ip|location|"
        rf"school|house|real name|family|parents))\b",
        rf"\b(?:what{_Q}?s|what is|whats|tell me|give me|send me|send|gimme|drop|need|want) "
        rf"(?:me )?(?:your|ur|yo) (?:home |house |street |full |real |exact |postal )?"
        r"(?:address|addy|location|postcode|zip code|zip)\b",
        r"\bwhere (?:exactly|precisely) do (?:you|u) live\b", r"\bwhat street do (?:you|u) live\b",
        r"\b(?:what|which|wat|wich) (?:school|high school|middle school|college) (?:do|r|are) "
        r"(?:you|u) (?:go to|at|in|attend)\b",
        r"\b(?:what{Q}?s|what is|whats|tell me) (?:the name of )?(?:your|ur) school\b",
        r"\bwhere do (?:you|u) go to school\b", r"\bi (?:will|{Q}ll) dox{1,2}\b",
        r"\bi have your (?:ip|address)\b",
        # es
        r"\bse donde vives\b", r"\b(?:cual es|dame|pasame|mandame|dime) tu (?:direccion|"
        r"domicilio|colegio|escuela)\b", r"\ba (?:que|cual) (?:escuela|colegio|instituto) vas\b",
        r"\bdonde vives exactamente\b",
        # fr
        r"\bje sais (?:ou|où) tu (?:habites|vis|dors)\b", r"\b(?:quelle est|donne moi|donne-moi|"
        r"envoie moi|envoie-moi|c{Q}est quoi) ton adresse\b",
        r"\b(?:tu vas|t{Q}es|tu es) (?:a|dans) quel(?:le)? (?:ecole|college|lycee)\b",
        r"\btu habites (?:ou|où) exactement\b",
        # de
        r"\bich wei(?:ss|ß) wo du wohnst\b", r"\b(?:was ist|gib mir|schick mir|sag mir) "
        r"deine (?:adresse|anschrift|schule)\b", r"\bauf welche schule gehst du\b",
        r"\bwo genau wohnst du\b",
        # pt
        r"\b(?:eu )?sei onde (?:voce|vc|tu) (?:mora|moras)\b", r"\b(?:qual|qual e|qual o|me "
        r"passa|me da|manda) (?:o )?(?:teu|seu) endereco\b", r"\b(?:em )?(?:que|qual) escola "
        r"(?:voce|vc|tu) (?:estuda|estudas|vai)\b",
    ),
    SELF_HARM_ENCOURAGEMENT: _rx(
        r"\b(?:go |just |pls |please )?(?:kill|hang|neck|hurt|cut) "
        r"(?:yourself|urself|yoself|your self|ur self)\b",
        r"\bkys\b", r"\bgo (?:and )?die\b(?! (?:in|on|for) (?:the|a|this) (?:game|match|level))",
        r"\b(?:you|u) should (?:just |really )?(?:die|kill yourself|end it|end your life|"
        r"cut yourself|hang yourself|not exist|off yourself)\b",
        r"\bnobody (?:would|will) miss (?:you|u)\b", r"\b(?:the )?world (?:would be|is) better "
        r"(?:off )?without (?:you|u)\b", r"\bdo (?:us|everyone|the world) a favou?r and "
        r"(?:die|disappear|kill yourself|end it)\b", r"\bend your (?:own )?life\b",
        r"\bdrink bleach\b", r"\bjump off a (?:bridge|building|cliff)\b",
        # es
        r"\b(?:matate|suicidate|muerete|ahorcate|cortate las venas)\b",
        r"\bdeberias (?:morirte|matarte|suicidarte)\b",
        # fr
        r"\b(?:suicide|tue|pends)[ -]toi\b", r"\bva te (?:pendre|tuer|suicider)\b",
        r"\b(?:va )?creve\b", r"\btu devrais (?:mourir|te tuer|te suicider)\b",
        # de
        r"(?<!ich )(?<!ich werde )\bbring dich um\b", r"\b(?:tote|toete) dich(?: selbst)?\b",
        r"\bgeh sterben\b", r"\bh[aä]ng dich auf\b", r"\bdu solltest (?:sterben|dich umbringen)\b",
        # pt
        r"\b(?:se mata|se mate|vai se matar|se enforca|morre logo)\b",
        r"\b(?:voce|vc|tu) deveria (?:morrer|se matar)\b",
    ),
    SELF_HARM_IDEATION: _rx(
        r"\bi (?:want|wanna|wish i could|just want) (?:to )?die\b(?! (?:my|your|her|his) hair)"
        r"(?! of (?:laughter|laughing|embarrassment|cringe))",
        rf"\bi{_Q}?(?:m| am) (?:thinking|think|thought) (?:about|of) (?:killing myself|"
        rf"suicide|ending it|ending my life|hurting myself|cutting(?: myself)?|self harm|"
        rf"dying)\b",
        rf"\bi(?: want| wanna| am going| might| will|{_Q}m going|{_Q}ll|m going) (?:to )?(?:kill|"
        rf"hurt|cut) myself\b(?! (?:laughing|if|when))",
        r"\bi (?:want|wanna) (?:to )?end (?:it all|my life|everything)\b",
        rf"\bi (?:don{_Q}?t|do not) want to (?:live|be alive|exist|wake up)(?: anymore)?\b"
        r"(?! (?:early|tomorrow|at|on|in|so|this|for|with|there|here|like)\b)",
        rf"\bi{_Q}?(?:ve| have) been (?:cutting|hurting) myself\b", r"\bi{Q}?(?:m| am) suicidal\b",
        r"\bi (?:have|get|keep having) suicidal thoughts\b",
        r"\bno reason to (?:live|keep going)\b",
        # es
        r"\b(?:quiero|me quiero) (?:morir(?:me)?|matar(?:me)?|suicidar(?:me)?)\b",
        r"\bme quiero (?:morir|matar|suicidar)\b", r"\bpienso en (?:suicidarme|matarme|"
        r"el suicidio)\b", r"\bno quiero (?:vivir|seguir viviendo)\b",
        # fr
        r"\bje (?:veux|voudrais) (?:mourir|me tuer|me suicider|en finir)\b",
        r"\bj{Q}ai envie (?:de mourir|de me tuer|de me suicider|d{Q}en finir)\b",
        r"\bje pense (?:au suicide|a me tuer|a me suicider)\b",
        # de
        r"\bich (?:will|mochte|moechte) (?:sterben|mich umbringen|nicht mehr leben)\b",
        r"\bich denke an (?:selbstmord|suizid)\b", r"\bich bringe mich um\b",
        # pt
        r"\b(?:eu )?(?:quero|queria) (?:morrer|me matar|sumir pra sempre)\b",
        r"\bpenso em (?:suicidio|me matar)\b", r"\bnao quero mais viver\b",
    ),
    MINOR_AGE: _rx(
        rf"\b(?:i{_Q}?m|i am|im only|i{_Q}m only|i am only|just turned|age|aged) "
        r"(?:1[0-7]|[89]|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)"
        r"(?=\s*(?:$|[.,!?;:)]|years?\b|yrs?\b|y/?o\b|and\b|btw\b|lol\b|[fm]\b|too\b|"
        r"now\b|but\b|so\b|haha\b|tho\b|though\b))",
        r"^(?:1[0-7]) ?[fm]\b", r"\bi{Q}?(?:m| am) (?:in|at) (?:middle school|junior high|"
        r"[6-9]th grade|1[01]th grade|year [7-9]|year 1[01])\b",
        r"\bi{Q}?(?:m| am) (?:a minor|under ?18|underage|not 18 yet)\b",
        # es / fr / de / pt
        r"\btengo (?:1[0-7]|[89]|trece|catorce|quince|dieciseis|diecisiete) anos\b",
        r"\bj{Q}ai (?:1[0-7]|[89]|treize|quatorze|quinze|seize|dix-sept) ans\b",
        r"\bich bin (?:erst )?(?:1[0-7]|[89]|dreizehn|vierzehn|funfzehn|sechzehn|siebzehn)"
        r"(?: jahre alt)?(?=\s*(?:$|[.,!?;:)]|jahre\b|und\b))",
        r"\btenho (?:1[0-7]|[89]|treze|catorze|quatorze|quinze|dezesseis|dezessete) anos\b",
    ),
    SEXUAL: _rx(
        r"\bsend (?:me )?(?:nudes|noodz|nudez|pics of your body|naked pics|a nude)\b",
        r"\b(?:nudes|naked|horny|sexy|sext|sexting|boobs|tits|pussy|dick pic|blowjob|"
        r"your body|ur body|panties|bra size|virgin|turn me on|turned on|make love|"
        r"touch yourself|touching yourself|in bed together|cum|orgasm|lingerie)\b",
        r"\b(?:wanna|want to|let{Q}?s|lets) (?:have )?(?:sex|fuck|hook up|sext|cyber)\b",
        # es / fr / de / pt
        r"\b(?:desnuda|desnudo|fotos? sin ropa|caliente|cachonda|sexo|tetas|tu cuerpo)\b",
        r"\b(?:nue|nues|toute nue|excitee?|sexe|seins|ton corps|baiser)\b",
        r"\b(?:nackt|nacktbilder|geil|sex|titten|deinen korper|deinen koerper)\b",
        r"\b(?:pelada|pelado|nua|nudes|sexo|tesao|tesuda|peitos|teu corpo|seu corpo)\b",
    ),
    AGE_PROBE: _rx(
        r"\bhow old (?:are|r) (?:you|u)\b", r"\b(?:your|ur) age\b", r"\basl\b",
        r"\bwhat (?:grade|year) (?:are|r) (?:you|u) in\b",
        r"\b(?:are|r) (?:you|u) (?:still )?in (?:high |middle )?school\b",
        r"\b(?:are|r) (?:you|u) (?:under|over) ?18\b", r"\b(?:are|r) (?:you|u) a minor\b",
        r"\b(?:what|which) school\b", r"\bwhere do (?:you|u) go to school\b",
        r"\b(?:cuantos anos tienes|que edad tienes|a que colegio vas)\b",
        r"\b(?:quel age (?:as[ -]tu|tu as|t{Q}as)|t{Q}as quel age)\b",
        r"\bwie alt bist du\b", r"\bquantos anos (?:voce tem|vc tem|tens|tem)\b",
    ),
    GROOMING: _rx(
        rf"\bdon{_Q}?t tell (?:your |ur )?(?:mom|mum|dad|parents|anyone|family)\b",
        r"\bour (?:little )?secret\b", r"\b(?:are|r) (?:you|u) home alone\b",
        r"\b(?:are|r) (?:your|ur) parents (?:home|around|asleep)\b",
        r"\bsend (?:me )?a (?:pic|photo|picture|selfie) of (?:you|yourself|ur body|your body)\b",
        r"\bdelete (?:this|our) (?:chat|messages|conversation)\b",
        r"\b(?:can|could|wanna|want to) (?:we )?meet (?:up|in person|irl)\b",
        r"\bno le digas a (?:tus padres|nadie)\b", r"\bne dis rien a tes parents\b",
        r"\bsag es nicht deinen eltern\b", r"\bnao conta (?:pros seus pais|pra ninguem)\b",
    ),
})
# Words (folded stems) without which a rule cannot match: one Aho-Corasick pass over the line
# picks the few rules worth running, so that an ordinary line costs a few microseconds.
TRIGGERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    THREAT: (
        "kill", "murder", "stab", "shoot", "hurt", "beat", "strangl", "chok", "rape", "behead",
        "punch", "smash", "break", "slit", "cut", "burn", "bash", "tortur", "destroy", "end",
        "dead", "die", "watch your back", "eye open", "find", "hunt", "matar", "apunal",
        "pegar", "violar", "revent", "partir", "buscar", "mato", "muert", "morir", "tuer",
        "bute", "frapp", "poignard", "defonc", "egorg", "retrouv", "tue", "mort", "umbring",
        "toten", "abstech", "verpr", "schlag", "finden", "vergewalt", "abknall", "bring",
        "tote", "toet", "tot", "sterben", "esfaque", "bater", "estupr", "encontr", "quebr",
        "mourir", "morrer"),
    DOXXING: (
        "live", "stay", "sleep", "address", "addy", "location", "postcode", "zip", "school",
        "college", "dox", "ip", "real name", "family", "parents", "vives", "direccion",
        "domicilio", "colegio", "escuela", "instituto", "habite", "vis", "dors", "adresse",
        "ecole", "lycee", "wohnst", "anschrift", "schule", "mora", "endereco", "escola"),
    SELF_HARM_ENCOURAGEMENT: (
        "yourself", "urself", "yoself", "your self", "ur self", "kys", "die", "miss", "without",
        "favo", "end your", "bleach", "jump", "matate", "suicid", "muerete", "ahorcate",
        "cortate", "morir", "matar", "toi", "pendre", "tuer", "crev", "mourir", "bring dich",
        "tote", "toete", "sterben", "hang dich", "solltest", "se mat", "vai se", "enforca",
        "morre", "deveria", "exist"),
    SELF_HARM_IDEATION: (
        "die", "kill", "hurt", "cut", "end", "live", "alive", "exist", "wake", "suicid",
        "reason", "morir", "matar", "vivir", "mourir", "tuer", "finir", "sterben", "umbring",
        "leben", "selbstmord", "suizid", "bringe mich", "morrer", "sumir", "viver"),
    # Every age rule starts with one of these, or is a line starting "15 f" (see `scan`).
    MINOR_AGE: ("i'm", "i’m", "im ", "i am", "just turned", "age", "tengo", "j'ai", "j’ai",
                "ich bin", "tenho"),
    SEXUAL: (
        "send", "nud", "noodz", "naked", "horn", "sex", "boob", "tits", "puss", "dick",
        "blowjob", "body", "pant", "bra size", "virgin", "turn", "make love", "touch",
        "in bed", "cum", "orgasm", "linger", "fuck", "hook up", "cyber", "desnud", "ropa",
        "calient", "cachond", "teta", "cuerpo", "nue", "exci", "sein", "corps", "baiser",
        "nackt", "geil", "titten", "korper", "koerper", "pelad", "nua", "tesa", "peito",
        "corpo"),
    AGE_PROBE: (
        "old", "age", "asl", "grade", "year", "school", "under", "over", "minor", "anos",
        "edad", "colegio", "wie alt", "quant", "quel age"),
    GROOMING: (
        "tell", "secret", "alone", "parents", "pic", "photo", "selfie", "delete", "meet",
        "digas", "dis rien", "eltern", "conta"),
})


@lru_cache(maxsize=1)
def _triggers() -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    found: dict[str, set[str]] = {}
    for category, words in TRIGGERS.items():
        for word in words:
            found.setdefault(word, set()).add(category)
    for word, categories in found.items():
        automaton.add_word(word, frozenset(categories))
    automaton.make_automaton()
    return automaton


# A slur aimed at the partner: second person, or a slur that is the whole line.
_AIMED = re.compile(
    rf"\b(?:you|u|ur|your|you{_Q}re|youre|ya|yall|y{_Q}all|go back|eres|sos|tu|vos|"
    rf"t{_Q}es|espece de|sale|du|dich|dein|voce|vc|seu|sua)\b")
_MENTIONED = re.compile(
    r"\b(?:called me|call me|calls me|the word|is a slur|a slur|say the|said the|"
    r"n-word|f-word)\b")


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    url: str


def scan(folded: str, categories: Iterable[str] = ()) -> frozenset[str]:
    """The harm categories of one folded line; `categories` are the word lists' hits in it."""
    text = " ".join(folded.split())
    candidates: set[str] = set()
    for _, triggered in _triggers().iter(text):
        candidates |= triggered
    if text[:1] == "1":  # "15 f": an age given the way chat rooms ask for it
        candidates.add(MINOR_AGE)
    hits = {name for name in candidates if _matches(name, text)}
    if SLUR_CATEGORY in categories and not _MENTIONED.search(text) and (
            _AIMED.search(text) or len(text.split()) <= 3):
        hits.add(SLUR_INSULT)
    return frozenset(hits)


def _matches(category: str, text: str) -> bool:
    for match in RULES[category].finditer(text):
        before = text[:match.start()].rstrip()
        if category != SELF_HARM_ENCOURAGEMENT or not before.endswith(NOT_ADVICE):
            return True
    return False


def minor_safety(sender: int, line_hits: frozenset[str],
                 conversation_hits: Iterable[tuple[int, frozenset[str]]]) -> set[int]:
    """Who, by this line from `sender`, puts a minor at risk: user ids to report for
    `minor_safety`.

    `conversation_hits` are (sender, hits) of the conversation's other lines, in any order:
    - sexual talk or grooming toward someone who said they are under 18;
    - asking age or school, or grooming, after (or with) one's own sexual talk;
    - someone saying they are under 18 to a person who talked sexually to them."""
    said_minor = {who for who, hits in conversation_hits if MINOR_AGE in hits and who != sender}
    sexual_by = {who for who, hits in conversation_hits if SEXUAL in hits}
    if SEXUAL in line_hits:
        sexual_by.add(sender)
    offenders: set[int] = set()
    if line_hits & {SEXUAL, GROOMING} and said_minor:
        offenders.add(sender)
    if line_hits & {AGE_PROBE, GROOMING, DOXXING} and sender in sexual_by:
        offenders.add(sender)
    if MINOR_AGE in line_hits:
        offenders.update(who for who in sexual_by if who != sender)
    return offenders


def support_resources() -> list[Resource]:
    """The help lines offered to someone who says they think of hurting themselves."""
    resources = []
    for entry in settings.SUPPORT_RESOURCES:
        name, _, url = entry.partition("|")
        if name.strip() and url.strip().startswith("https://"):
            resources.append(Resource(name.strip(), url.strip()))
    return resources


def support_frame() -> dict[str, object]:
    """The server extension frame `support` (docs/protocol-extensions.md)."""
    return {"type": "support",
            "resources": [{"name": r.name, "url": r.url} for r in support_resources()]}
