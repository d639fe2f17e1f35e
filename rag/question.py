"""What a question asks for, and whether a sentence holds an answer of that kind.

`analyse` reads the answer type (a quantity of something, a person, an organisation, a
place, a date or time, a list, a reason, what someone said, yes/no, or open) and the focus
(the counted noun, the speaker, the listed noun, or the subject). It works on questions as
people type them: lowercase keyword queries, no question mark, "name the ...".
`match` tells how well a sentence holds an answer of that type, `announces_list` whether a
sentence promises a list that the next sentences give.

Pure and deterministic. The question words below are a small documented grammar, not data
(no package holds English question patterns); names, places and titles come from
rag/entities.py (pycountry, countryinfo, nameparser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from rag.entities import MONTHS, WEEKDAYS, Name, is_place, is_title, names, wordset
from rag.text import STOPWORDS, normalize, words

AnswerType = Literal["quantity", "person", "organisation", "place", "date", "list", "reason",
                     "said", "yesno", "open"]

# At or above this `match` score a sentence holds an answer of the asked type; below it the
# sentence is at best partial evidence (a number not attached to the counted noun, a list
# only announced) and nothing at 0.
HOLDS = 0.75


@dataclass(frozen=True)
class Ask:
    """What a question asks for.

    type: the kind of answer; focus: the counted noun (quantity), the speaker (said), the
    listed noun (list), else the subject; qualifier: what narrows the focus ("still held",
    or what a speaker spoke about); plural: more than one answer is wanted ("which
    countries"); subject: what the question is about, as typed ("the head of UNRWA",
    "Yahya Sinwar"); terms: the question's own words, lowercased (an answer is what it
    lacks).
    """

    question: str
    type: AnswerType
    focus: str = ""
    qualifier: str = ""
    plural: bool = False
    subject: str = ""
    terms: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Match:
    """How well a sentence holds an answer of the asked type (0..1; `HOLDS` and above is an
    answer of that type), and the spans that show it ("97 hostages", "Israel")."""

    score: float
    found: tuple[str, ...] = ()


_AUX = wordset("is are was were be been being am do does did has have had will would can "
                 "could should shall may might must isn't aren't wasn't weren't don't doesn't "
                 "didn't hasn't haven't won't can't")
_PREP = wordset("in on at from to for by with of about after before during since into over "
                  "under against between among across through near within")
_POLITE = re.compile(r"^(?:(?:please|pls|hey|hi|ok|so|and|but)\W+)*(?:(?:can|could|would) you "
                     r"(?:please )?(?:tell me|say|explain|show me)|tell me|do you know|i want "
                     r"to know|i'd like to know|explain)\W+", re.I)
_PERSISTENT = wordset("still remain remains remained remaining currently now left yet "
                        "captivity")
_TAKEN = wordset("take took taken taking abduct abducted kidnap kidnapped seize seized "
                   "capture captured initially originally")
_FREED = wordset("release released releasing freed free freeing rescue rescued returned "
                   "return")
_EVENT = _TAKEN | _FREED
# Nouns that name a kind of place, person or organisation after "which/what" ("which
# countries", "which official", "what group"); titles ("minister", "envoy") count as people.
_PLACE_NOUNS = wordset("country countries city cities town towns place places region regions "
                         "nation nations capital capitals location locations state states area "
                         "areas village villages border borders")
_ORG_NOUNS = wordset("group groups organisation organisations organization organizations "
                       "agency agencies party parties company companies faction factions body "
                       "bodies institution institutions department ministry militia militias "
                       "movement movements newspaper outlet")
_PERSON_NOUNS = wordset("person people man woman official officials leader leaders member "
                          "members politician politicians diplomat diplomats envoy spokesman "
                          "commander")
# Keyword queries ("hamas conditions ceasefire") ask for a list when they name one of these.
_LIST_NOUNS = wordset("conditions demands terms steps members requirements objectives goals "
                        "aims priorities measures proposals points options stages phases "
                        "obstacles provisions ingredients components")
_SAY = (r"(?:say|said|tell|told|announce|announced|warn|warned|claim|claimed|state|stated|"
        r"write|wrote|reply|replied|respond|responded|argue|argued|mention|mentioned|post|"
        r"tweet|comment|commented|declare|declared|think)")
_WH = re.compile(r"^(?:(?:in|on|at|from|to|for|by|of|with|since|until|during)\s+)?"
                 r"(what|which|who|whom|whose|when|where|why|how)\b")


def _clean(question: str) -> str:
    q = normalize(question).strip()
    q = _POLITE.sub("", q)
    return re.sub(r"[\s?!.]+$", "", q).strip()


def _plural(word: str) -> bool:
    return word in ("people", "children", "women", "men", "police") or (
        len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")))


def _noun_phrase(tokens: list[str]) -> tuple[str, list[str]]:
    """The head noun of the phrase that starts `tokens`, and the words after it. The phrase
    ends at an auxiliary, a preposition or a participle ('how many people killed in')."""
    i = 0
    while i < len(tokens) and tokens[i] in ("the", "a", "an", "of", "all", "total"):
        i += 1
    j = i
    while j < len(tokens) and tokens[j] not in _AUX and tokens[j] not in _PREP and \
            tokens[j] not in _PERSISTENT and not (j > i and tokens[j].endswith("ed")):
        j += 1
    head = tokens[j - 1] if j > i else ""
    return head, tokens[j:]


def _qualifier(rest: list[str]) -> str:
    """'are still held in gaza' -> 'still held': the verb phrase after the focus."""
    out: list[str] = []
    for t in rest:
        if t in _PREP and out:
            break
        if t not in _AUX and t not in _PREP:
            out.append(t)
    return " ".join(out[:4])


def analyse(question: str) -> Ask:
    """The answer type and focus of a question, typed however people type.

    Example: analyse("how many hostages are still held") == Ask(
             "how many hostages are still held", "quantity", "hostages", "still held", True,
             "hostages", frozenset({"how", "many", "hostages", "are", "still", "held"}))
    """
    q = _clean(question)
    low = q.lower()
    toks = words(low)
    terms = frozenset(re.sub(r"'s?$", "", t) for t in toks)
    subject = _subject(q)

    def ask(kind: AnswerType, focus: str = "", qualifier: str = "",
            plural: bool = False) -> Ask:
        return Ask(question, kind, focus.strip() or subject.lower(), qualifier.strip(), plural,
                   subject, terms)

    wh = _WH.match(low)
    word = wh.group(1) if wh else ""
    m = re.search(r"\bhow (?:many|much)\s+(.*)|\b(?:number|count|percentage|share|amount) of\s+"
                  r"(.*)|\bwhich number\s+(.*)", low)
    if m:
        head, rest = _noun_phrase(words(next(g for g in m.groups() if g is not None)))
        return ask("quantity", head, _qualifier(rest), True)
    m = re.search(r"\b(death|casualty|fatality) tolls?\b", low)
    if m:
        return ask("quantity", {"death": "deaths"}.get(m.group(1), m.group(1) + "s"), "", True)
    if word == "why" or re.search(r"\b(?:what|which) (?:is|was|are|were) (?:the )?(?:main )?"
                                  r"(?:reasons?|causes?|motives?|purpose|rationale)\b|\bfor what "
                                  r"reason\b|\bwhat (?:caused|led to|prompted|triggered|"
                                  r"motivated)\b|\bhow come\b|\breasons? (?:for|why|behind)\b",
                                  low):
        return ask("reason")
    m = re.match(rf"(?:what|how) (?:did|does|do|has|have|had|is|was) (.+?) (?:{_SAY}|"
                 rf"(?:respond|react)(?:ed)?)\b(?:\s+(?:about|on|regarding|of|to|in)\s+(.*))?",
                 low)
    m = m or re.match(r"what (?:was|is|were) (.+?)'s? (?:reaction|response|message|statement|"
                      r"comments?|words|answer)\b(?:\s+(?:about|on|to|regarding)\s+(.*))?", low)
    if m:
        return ask("said", m.group(1), m.group(2) or "")
    if word == "when" or re.search(r"\b(?:what|which) (?:date|day|year|month|time)\b|"
                                   r"\bin what year\b|\bhow long\b|\bsince when\b", low):
        return ask("date")
    # "which countries", "what group", "which official", "name the leader", "list the steps"
    m = re.match(r"(?:(?:in|on|at|from|to|for|by|of|with) )?(?:which|what) (?:of the )?(\w+)",
                 low)
    listed = re.match(r"(?:name|list|enumerate|give)(?: me)?\s+(.*)", low)
    named = re.search(r"\bname of (?:the )?(.*)", low)
    noun = m.group(1) if m and m.group(1) not in _AUX else ""
    if listed or named:
        noun = _kind_noun(words((named or listed).group(1)))  # type: ignore[union-attr]
    if word == "where" or noun in _PLACE_NOUNS:
        return ask("place", "" if word == "where" else noun,
                   plural=_plural(noun) or bool(listed and _plural(noun)))
    if noun in _ORG_NOUNS:
        return ask("organisation", noun, plural=_plural(noun))
    if word in ("who", "whom", "whose") or noun in _PERSON_NOUNS or (noun and is_title(noun)) \
            or named or (not wh and toks[:1] == ["who"]):
        plural = bool(re.match(r"who (?:are|were)\b", low)) or _plural(noun)
        return ask("person", noun if noun and word != "who" else "", plural=plural)
    list_m = re.match(r"(?:what|which) (?:are|were) (?:the |its |his |her |their |[\w-]+'s? )?"
                      r"(?:main |key |specific |new )?(\w+)", low)
    if list_m and _plural(list_m.group(1)):
        return ask("list", list_m.group(1), plural=True)
    if (noun and _plural(noun)) or listed:
        return ask("list", noun, plural=True)
    if toks and toks[0] in _AUX and not wh:
        return ask("yesno")
    if not wh:
        for i, t in enumerate(toks[:-1]):  # "hostages still held gaza": a count of a state
            if _plural(t) and t not in STOPWORDS and toks[i + 1] in _PERSISTENT:
                return ask("quantity", t, _qualifier(toks[i + 1:]), True)
        listed_noun = next((t for t in toks if t in _LIST_NOUNS), "")
        if listed_noun:
            return ask("list", listed_noun, plural=True)
    return ask("open")


def _kind_noun(tokens: list[str]) -> str:
    """The noun that says what is listed or named: the first kind noun, title or plural of
    the phrase ('the steps israel must take' -> 'steps'), else its head."""
    head, _rest = _noun_phrase(tokens)
    phrase = tokens[:tokens.index(head) + 1] if head in tokens else tokens
    kinds = [t for t in phrase if t in _PLACE_NOUNS | _ORG_NOUNS | _PERSON_NOUNS or
             is_title(t)]
    plurals = [t for t in phrase if _plural(t) and not is_place(t)]
    return (kinds or plurals or [head])[0]


_CASED = re.compile(r"[^\W_]+(?:[’'.\-][^\W_]+)*")
_DO = wordset("did does do will would can could should has have had must may might shall "
                "didn't doesn't don't won't can't")
_BE = wordset("is are was were")
_DET = wordset("the a an his her its their this that these those our my your")


def _subject(q: str) -> str:
    """What the question is about, as typed: 'Who is the head of UNRWA' -> 'the head of
    UNRWA'; 'who killed Yahya Sinwar' -> 'Yahya Sinwar'; 'when did the war begin' -> 'the
    war'; 'how many hostages did Hamas take' -> 'Hamas'."""
    t = _CASED.findall(q)
    low = [w.lower() for w in t]
    i = 0
    if low[:1] and low[0] in ("name", "list", "enumerate", "give"):
        return _phrase(t[1:], low[1:], verb_last=False)
    if low[:1] and low[0] in _PREP:
        i += 1
    if i < len(low) and low[i] in ("what", "which", "who", "whom", "whose", "when", "where",
                                   "why", "how"):
        i += 1
        if i < len(low) and low[i - 1] == "how" and low[i] in ("many", "much", "long", "far",
                                                              "old", "often"):
            i += 1
            counted = i
            head, _rest = _noun_phrase(low[counted:])
            while i < len(low) and low[i] not in _AUX:  # "how many hostages did ..."
                i += 1
            # "how many hostages are held", "how much aid has reached": the counted thing;
            # "how many hostages did Hamas take": what comes after the auxiliary.
            if i + 1 >= len(low) or low[i] in _BE or low[i + 1].endswith("ed") or \
                    low[i + 1] in _PERSISTENT:
                end = low.index(head, counted) + 1 if head in low[counted:] else counted + 1
                return " ".join(t[counted:end])
        elif i < len(low) and low[i - 1] == "whose":
            return t[i]  # "whose home was targeted"
        elif i < len(low) and low[i - 1] in ("what", "which") and low[i] not in _AUX:
            i += 1  # "which group claimed ...": the rest is about what the group did
    if low[i:i + 2] == ["happened", "to"]:
        return _phrase(t[i + 2:], low[i + 2:], verb_last=False)
    if i < len(low) and low[i] in _BE:
        return _phrase(t[i + 1:], low[i + 1:], verb_last=False)
    if i < len(low) and low[i] in _DO:
        return _phrase(t[i + 1:], low[i + 1:], verb_last=True)
    if 0 < i < len(low) and (low[i - 1] in ("who", "whom", "what", "which") or
                             (i > 1 and low[i - 2] in ("what", "which"))):
        # "who killed X", "which official resigned from X": what the verb was done to
        j = i + 1
        while j < len(low) and low[j] in _PREP:
            j += 1
        return _phrase(t[j:], low[j:], verb_last=False)
    if 0 < i < len(low):  # "why gantz resigned": no inversion, the subject comes first
        return _phrase(t[i:], low[i:], verb_last=False)
    names_ = [n.text for n in names(q)]
    return names_[0] if names_ else next((w for w, lw in zip(t, low, strict=True)
                                          if lw not in STOPWORDS), "")


def _phrase(t: list[str], low: list[str], verb_last: bool) -> str:
    """The noun phrase that opens `t`: a capitalised name run, a determiner and its noun,
    or one word. With `verb_last`, the phrase is followed by the bare verb of a
    do-question ('did the war begin'), which is left out."""
    if not t:
        return ""
    k = 1 if low[0] in _DET and len(t) > 1 and t[1][0].isupper() else 0
    if t[k][0].isupper() and low[k] not in _DET:
        j = k + 1
        while j < len(t) and (t[j][0].isupper() or (low[j] in ("of", "bin", "al", "el") and
                                                    j + 1 < len(t) and t[j + 1][0].isupper())):
            j += 1
        if not re.search(r"['’]s?$", t[j - 1]):
            return " ".join(t[:j])
        if verb_last or j == len(t) or low[j] in _AUX or low[j] in _PREP:
            return re.sub(r"['’]s?$", "", " ".join(t[:j]))  # "Netanyahu's" -> "Netanyahu"
        return " ".join(t[:j]) + " " + _phrase(t[j:], low[j:], verb_last)
    j = 0
    while j < len(t) and low[j] not in _AUX and (low[j] not in _PREP or
                                                (low[j] == "of" and j > 0)):
        # "sinwar killed", "the war spreading", "the hostages still alive": the verb
        # (a participle, or 'still') after a noun ends the phrase.
        if j > 0 and low[j - 1] not in _DET and (low[j] in _PERSISTENT or
                                                 re.search(r"..(?:ed|ing)$", low[j])):
            break
        j += 1
    if verb_last:
        # 'did the war begin': the bare verb ends the phrase; nouns ('mediation') do not.
        if j > 1 and (j == len(t) or low[j] in _PREP) and \
                not re.search(r"(?:ion|ment|ness|ity|ship|ance|ence|ism)$", low[j - 1]):
            j -= 1
        j = min(j, (4 if "of" in low[:j] else 3) if low[0] in _DET else 1)
    elif low[0] not in _DET:
        j = min(j, 4)
    return " ".join(t[:j])


# --- matching sentences ------------------------------------------------------------------

_NUMWORD = sorted(wordset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety "
    "hundred hundreds thousand thousands million millions billion dozen dozens first second "
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"), key=len, reverse=True)
_NUM = re.compile(r"^(?:\d[\d,.]*(?:st|nd|rd|th|%)?|(?:" + "|".join(_NUMWORD) + r")(?:-\w+)?)$")
# Words for one measure: a question about deaths is answered by "killed 17 people".
_SAME = {"death": "death", "kill": "death", "dead": "death", "die": "death", "casualti": "death",
         "fatal": "death", "toll": "death", "live": "death",
         "hostag": "hostag", "captiv": "hostag", "abduct": "hostag", "kidnap": "hostag",
         "visit": "trip", "trip": "trip", "journey": "trip", "mission": "trip",
         "peopl": "peopl", "civilian": "peopl", "person": "peopl"}


@lru_cache(maxsize=8192)
def _root(word: str) -> str:
    """A word's stem (PyStemmer, as the BM25 index stems), with one measure's words as one
    root ("killed", "deaths" -> "death")."""
    stem = str(_stemmer().stemWord(word.lower()))
    for prefix, root in _SAME.items():
        if stem.startswith(prefix):
            return root
    return stem


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def _tokens(text: str) -> list[str]:
    return re.findall(r"\d[\d,.]*\d(?:st|nd|rd|th|%)?|\d(?:st|nd|rd|th|%)?|[^\W\d_][\w'’-]*",
                      normalize(text))


def _not_a_count(low: list[str], i: int) -> bool:
    """Years and days of the month are not counts ('Oct. 7 attack', 'in 2023')."""
    t = low[i]
    if re.fullmatch(r"(?:19|20)\d\d", t):
        return True
    return i > 0 and low[i - 1].rstrip(".") in MONTHS and t.isdigit()


def _quantity(ask: Ask, text: str) -> Match:
    toks = _tokens(text)
    low = [t.lower().rstrip(".,") for t in toks]
    focus = {_root(w) for w in words(ask.focus)} | (
        {"death"} if {"kill", "killed", "die", "died", "dead"} & set(words(ask.qualifier))
        else set())
    wants_now = bool(_PERSISTENT & set(words(ask.qualifier))) or "still" in ask.terms
    events = [e for e in (_TAKEN, _FREED) if e & ask.terms]
    best, found, any_number = 0.0, [], False
    for i, t in enumerate(low):
        parts = t.split("-")
        if not _NUM.match(parts[0]) or _not_a_count(low, i):
            continue
        any_number = True
        # The counted noun within three words after the number ("97 Israeli hostages",
        # "three-member"), or just before it ("killed 17", "toll of 770").
        near = parts[1:] + low[i + 1:i + 4]
        near = near[:next((k for k, w in enumerate(near) if _NUM.match(w)), len(near))]
        before = low[max(0, i - 2):i]
        if not ({_root(w) for w in near + before} & focus):
            continue
        window = set(low[max(0, i - 5):i + 6])
        score = 1.0
        if wants_now and not (window & _PERSISTENT):
            # "250 hostages taken" does not say how many are still held.
            score = 0.25 if window & _EVENT else 0.6
        elif events and not any(window & e for e in events) and \
                (window & (_EVENT | _PERSISTENT)):
            score = 0.5  # asked how many were taken, told how many were freed or remain
        span = next((k for k, w in enumerate(low[i + 1:i + 4]) if _root(w) in focus), -1)
        if {_root(w) for w in parts[1:]} & focus:  # "three-member"
            text_span = toks[i]
        elif span >= 0:
            text_span = " ".join(toks[i:i + 2 + span])
        else:
            text_span = " ".join(toks[max(0, i - 2):i + 1])
        if score > best:
            best, found = score, [text_span]
        elif score == best:
            found.append(text_span)
    if best:
        return Match(best, tuple(found))
    return Match(0.3 if any_number else 0.0)


# Quoted speech, also cut by the sentence splitter: an opening quote that runs to the end,
# or a closing quote with no opening one.
_QUOTE = re.compile(r"[“\"«]([^”\"»]{12,})(?:[”\"»]|$)|^([^“\"«]{12,})[”\"»]")
_ATTRIB = re.compile(r"\b(?:said|says|say|told|tells|stated|stating|added|adding|warned|noted|"
                     r"wrote|declared|announced|urged|stressed|insisted|posted|tweeted|saying|"
                     r"echoing|according to|in a statement|called for|pleaded|argued)\b", re.I)
_CAUSE = re.compile(r"\b(?:because|due to|as a result|owing to|in order to|so that|since|amid|"
                    r"in response to|in retaliation|following|after|seeking|aimed at|to "
                    r"(?:secure|ensure|avoid|prevent|stop|protect|press|push|allow|help)|"
                    r"blamed|caused|led to|prompted|triggered|reason)\b", re.I)
_MONTH_RE = "|".join(m.capitalize() for m in sorted(MONTHS, key=len, reverse=True))
_DAY_RE = "|".join(w.capitalize() for w in WEEKDAYS)
_DATE = re.compile(rf"\b(?:{_MONTH_RE})\b\.?(?:\s+\d{{1,2}}\b)?|\b(?:{_DAY_RE})\b"
                   r"|\b(?:1[89]|20)\d\d\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b|\b\d{1,2}(?::\d\d)?\s?"
                   r"(?:a\.m\.|p\.m\.|am|pm)\b")
_RELATIVE = re.compile(r"\b(?:yesterday|today|tonight|this (?:week|month|year|morning)|last "
                       r"(?:week|month|year|night)|next (?:week|month|year)|\w+ (?:days?|weeks?|"
                       r"months?|years?) ago|earlier this \w+|recently|for (?:\w+ )?(?:days|"
                       r"weeks|months|years|hours)|over the past \w+ \w+)\b", re.I)


def enumeration(text: str, longest: int = 10) -> list[str]:
    """The items of a list the sentence gives: three or more short parts separated by
    commas or semicolons, the last opened by 'and' or 'or' (an item has at most `longest`
    words; the words before the list are not an item).

    Example: enumeration("They demand a ceasefire, a withdrawal, and aid.")
             == ["They demand a ceasefire", "a withdrawal", "aid"]
    """
    parts = [p.strip() for p in re.split(r"[,;:][\"”’']?\s+", normalize(text).rstrip(" .!?\"”'"))]
    best: list[str] = []
    for end, part in enumerate(parts):
        m = re.match(r"(?:and|or)\s+(.+)", part)
        if not m or len(m.group(1).split()) > longest:
            continue
        items = [m.group(1)]
        k = end - 1
        while k >= 0 and len(parts[k].split()) <= longest:
            items.insert(0, parts[k])
            k -= 1
        if k >= 0 and len(items) >= 2:  # the first item ends the words before the list
            items.insert(0, " ".join(parts[k].split()[-longest:]))
        if len(items) > len(best):
            best = items
    # "A, B and C": the last two joined by "and" in one part
    if not best and len(parts) >= 2:
        m = re.match(r"(.+?)\s+(?:and|or)\s+(.+)", parts[-1])
        if m and all(len(p.split()) <= longest for p in parts[-2:]) and \
                len(m.group(2).split()) <= longest:
            best = [" ".join(parts[-2].split()[-longest:]), m.group(1), m.group(2)]
    return best if len(best) >= 3 else []


def announces_list(text: str) -> bool:
    """Does the sentence promise a list that the next sentences give (so a list question
    should read on)? A colon at the end, "the following", "as follows", or conditions,
    demands or terms said to be met or set without being named.

    Example: announces_list("Hamas is ready to stop if specific conditions are met.")
             and not announces_list("Hamas demanded a ceasefire, a withdrawal and aid.")
    """
    t = normalize(text).strip()
    if t.endswith(":") or re.search(r"\b(?:the following|as follows|these (?:are|include|"
                                    r"were))\b", t, re.I):
        return True
    return bool(re.search(r"\b(?:if|when|once|provided|unless|until)\b[^.]{0,40}\b(?:conditions|"
                          r"demands|terms|requirements|criteria)\s+(?:are|were|is|have been)\s+"
                          r"(?:met|fulfilled|satisfied|accepted|agreed)|\b(?:set|laid|spelled) "
                          r"out (?:its|his|her|their|the|several|a series of) (?:conditions|"
                          r"demands|terms)\s*[.:]?$", t, re.I))


def _new(ask: Ask, found: list[Name]) -> list[Name]:
    """Names the question does not already contain."""
    return [n for n in found
            if not set(words(n.text)) <= ask.terms and words(n.text)[-1] not in ask.terms]


def _names_score(new: list[Name], kinds: dict[str, float], plural: bool) -> Match:
    scored = sorted(((kinds.get(n.kind, 0.0), n.text) for n in new), reverse=True)
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return Match(0.0)
    top = scored[0][0]
    if plural and len(scored) < 2:
        top = min(top, 0.7)
    return Match(top, tuple(t for _s, t in scored))


def match(ask: Ask, text: str) -> Match:
    """How well `text` (one sentence, or a sentence and its follower) holds an answer of the
    asked type: 1 for a clear answer, `HOLDS` and above for an answer, less for partial
    evidence, 0 for none. Open and yes/no questions take any sentence (1).

    Example: match(analyse("how many hostages are still held"),
                   "the remaining 97 hostages held in Gaza").found == ("97 hostages",)
    """
    kind = ask.type
    if kind == "quantity":
        return _quantity(ask, text)
    if kind in ("person", "organisation", "place"):
        new = _new(ask, names(text))
        if kind == "person":
            # Any name the question lacks answers a who-question; a person named outright
            # best, then a group or a lone name, then a country ("Who killed Sinwar?" -
            # "Israel's killing of Yahya Sinwar").
            return _names_score(new, {"person": 1.0, "organisation": 0.8, "name": 0.8,
                                      "place": 0.75}, ask.plural)
        if kind == "organisation":
            # A lone unknown name ("Hezbollah") is most often the group asked about.
            return _names_score(new, {"organisation": 1.0, "name": 0.75}, ask.plural)
        countries = ask.focus in ("country", "countries", "nation", "nations")
        out = _names_score([n for n in new if n.kind == "place"],
                           {"place": 1.0}, ask.plural)
        if countries and out.score:
            named = [n for n in new if n.kind == "place" and n.place]
            out = _names_score(named, {"place": 1.0}, ask.plural) if named else \
                Match(0.5, out.found)
        if not out.score:
            prep = re.findall(r"\b(?:in|to|from|at|near|into)\s+((?:[A-Z][\w’'-]+\s?)+)", text)
            prep = [p.strip() for p in prep if not set(words(p)) <= ask.terms
                    and p.split()[0].lower() not in MONTHS | WEEKDAYS]
            return Match(0.6, tuple(prep)) if prep else Match(0.0)
        return out
    if kind == "date":
        found = [m.group(0) for m in _DATE.finditer(text)]
        if found:
            return Match(1.0, tuple(found))
        rel = [m.group(0) for m in _RELATIVE.finditer(text)]
        return Match(0.7 if "how long" not in ask.question.lower() else 1.0, tuple(rel)) \
            if rel else Match(0.0)
    if kind == "said":
        quote = _QUOTE.search(text.strip())
        attrib = _ATTRIB.search(text)
        if quote and attrib:
            return Match(1.0, (quote.group(0),))
        speaker = [w for w in words(ask.focus) if w not in STOPWORDS and len(w) > 2]
        if attrib:
            by_speaker = any(w in words(text) for w in speaker)
            return Match(0.8 if by_speaker else 0.6, (attrib.group(0),))
        return Match(0.5, (quote.group(0),)) if quote else Match(0.0)
    if kind == "list":
        items = enumeration(text)
        if len(items) >= 3:
            return Match(1.0, tuple(items))
        if announces_list(text):
            return Match(0.5, ())
        pair = re.search(r"\b\w+[^,.;]{0,60}\s(?:and|or)\s[^,.;]{3,}", text)
        return Match(0.4, (pair.group(0),)) if pair else Match(0.0)
    if kind == "reason":
        cause = _CAUSE.search(text)
        return Match(1.0, (cause.group(0),)) if cause else Match(0.5)
    return Match(1.0)


def matches_type(ask: Ask, text: str) -> float:
    """The score of `match`: 0 (nothing of the asked type) to 1; `HOLDS` and above holds an
    answer of the asked type.

    Example: matches_type(analyse("When did the war begin?"), "It began in October 2023.") == 1.0
    """
    return match(ask, text).score
