"""What a question asks for.

`analyse` reads the answer type (a quantity of something, a person, an organisation, a
place, a date or time, a list, a reason, what someone said, yes/no, or open) and the focus
(the counted noun, the speaker, the listed noun, or the subject). It works on questions as
people type them: lowercase keyword queries, no question mark, "name the ...".
rag/answer/language/answer_match.py tells whether a sentence holds an answer of that type.

Pure and deterministic. The question words below are a small documented grammar, not data
(no package holds English question patterns); names, places and titles come from
rag/answer/language/entities.py (pycountry, countryinfo, nameparser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rag.answer.language.agency import doer_noun
from rag.answer.language.entities import is_demonym, is_place, is_title, names, wordset
from rag.text import STOPWORDS, normalize, words

AnswerType = Literal["quantity", "person", "organisation", "place", "date", "list", "reason",
                     "said", "yesno", "open"]


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


_AUX = wordset("is are was were be been being am do does did has have had will would can "
               "could should shall may might must isn't aren't wasn't weren't don't doesn't "
               "didn't hasn't haven't won't can't")
_PREP = wordset("in on at from to for by with of about after before during since into over "
                "under against between among across through near within")
_POLITE = re.compile(r"^(?:(?:please|pls|hey|hi|ok|so|and|but)\W+)*(?:(?:can|could|would) you "
                     r"(?:please )?(?:tell me|say|explain|show me)|tell me|do you know|i want "
                     r"to know|i'd like to know|explain)\W+", re.I)
# Words that say a count is of what still is, not of what once happened ("still held").
PERSISTENT = wordset("still remain remains remained remaining currently now left yet "
                     "captivity")
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
        len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s", "’s")))


_IRREGULAR_PLURALS = frozenset({"people", "children", "men", "women", "police", "staff"})


def _plural_noun(word: str) -> bool:
    """'palestinians', 'people': a counted noun that ends its phrase.

    Example: _plural_noun("hostages") and not _plural_noun("crisis")
    """
    return word in _IRREGULAR_PLURALS or (
        len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s", "’s")))


def _noun_phrase(tokens: list[str], counted: bool = False) -> tuple[str, list[str]]:
    """The head noun of the phrase that starts `tokens`, and the words after it. The phrase
    ends at an auxiliary, a preposition or a participle ('how many people killed in')."""
    i = 0
    while i < len(tokens) and tokens[i] in ("the", "a", "an", "of", "all", "total"):
        i += 1
    j = i
    while j < len(tokens) and tokens[j] not in _AUX and tokens[j] not in _PREP and \
            tokens[j] not in PERSISTENT and not (j > i and tokens[j].endswith("ed")):
        j += 1
        if counted and _plural_noun(tokens[j - 1]):  # 'how many palestinians live in ...'
            break
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


@lru_cache(maxsize=512)  # read once per question, not once per candidate sentence
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
        head, rest = _noun_phrase(words(next(g for g in m.groups() if g is not None)), True)
        return ask("quantity", head, _qualifier(rest), True)
    m = re.search(r"\b(death|casualty|fatality) tolls?\b", low)
    if m:
        return ask("quantity", {"death": "deaths"}.get(m.group(1), m.group(1) + "s"), "", True)
    if word == "why" or re.search(r"\b(?:what|which) (?:is|was|are|were) (?:the )?(?:main )?"
                                  r"(?:reasons?|causes?|motives?|purpose|rationale)\b|\bfor what "
                                  r"reason\b|\bwhat (?:caused|led to|prompted|triggered|"
                                  r"motivated)\b|\bhow come\b|\breasons? (?:for|why|behind)\b",
                                  low) or (word != "where" and
                                           re.search(r"(?<!\bof )\borigins?\b", low)):
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
                      r"(?:main |key |specific |new )?(.*)", low)
    listed_head = _listed(words(list_m.group(1))) if list_m else ""
    if listed_head:
        return ask("list", listed_head, plural=True)
    if (noun and _plural(noun)) or listed:
        return ask("list", noun, plural=True)
    if toks and toks[0] in _AUX and not wh:
        return ask("yesno")
    if not wh:
        for i, t in enumerate(toks[:-1]):  # "hostages still held gaza": a count of a state
            if _plural(t) and t not in STOPWORDS and toks[i + 1] in PERSISTENT:
                return ask("quantity", t, _qualifier(toks[i + 1:]), True)
        if doer_noun(toks):  # "python inventor": who invented python
            return ask("person")
        listed_noun = next((t for t in toks if t in _LIST_NOUNS), "")
        if listed_noun:
            return ask("list", listed_noun, plural=True)
    return ask("open")


def _listed(tokens: list[str]) -> str:
    """The plural a "what are ..." question lists: its first word ('the steps israel must
    take'), or the second of a two-word noun ending the question or followed by a preposition
    ('the logging functions for each level'); '' when neither is plural."""
    if tokens[:1] and _plural(tokens[0]):
        return tokens[0]
    if len(tokens) > 1 and _plural(tokens[1]) and tokens[2:3] in ([], *([p] for p in _PREP)):
        return tokens[1]
    return ""


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
                    low[i + 1] in PERSISTENT:
                end = low.index(head, counted) + 1 if head in low[counted:] else counted + 1
                return " ".join(t[counted:end])
        elif i < len(low) and low[i - 1] == "whose":
            return t[i]  # "whose home was targeted"
        elif i < len(low) and low[i - 1] in ("what", "which") and low[i] not in _AUX:
            i += 1  # "which group claimed ...": the rest is about what the group did
    if low[i:i + 2] == ["happened", "to"]:
        return _phrase(t[i + 2:], low[i + 2:], verb_last=False)
    if i < len(low) and low[i] in _BE:
        i += 2 if low[i + 1:i + 2] == ["behind"] else 1  # "who was behind the killing of X"
        return _phrase(t[i:], low[i:], verb_last=False)
    if 0 < i < len(low) - 1 and low[i - 1] == "who" and low[i] in _DO and \
            low[i] not in ("did", "does", "do"):
        i += 1  # "who will replace gantz": past the modal, read as "who replaced gantz"
    elif i < len(low) and low[i] in _DO:
        return _phrase(t[i + 1:], low[i + 1:], verb_last=True)
    if 0 < i < len(low) and (low[i - 1] in ("who", "whom", "what", "which") or
                             (i > 1 and low[i - 2] in ("what", "which", "who"))):
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
    # "the Israeli rescue operation", "the Hamas delegation": after a determiner, a demonym
    # or a name before a noun is an adjective, not the thing itself
    adjective = (is_demonym(t[k]) or (k == 1 and not verb_last)) and k + 1 < len(t) and \
        t[k + 1].islower() and low[k + 1] not in _AUX and low[k + 1] not in _PREP
    if t[k][0].isupper() and low[k] not in _DET and not adjective:
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
        if j > 0 and low[j - 1] not in _DET and (low[j] in PERSISTENT or
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


_DETS = ("the", "a", "an")
# past forms that end no "-ed" but may open the thing a question asks about
_VERB_BEFORE = wordset("wrote made built sent gave took led won paid founded began chose "
                       "brought held bought sold ran drew")
_SECOND_WH = re.compile(r"(?:,\s*|\s+)and\s+(?=(?:what|which|who|whom|when|where|why|how)\b)",
                        re.I)


def split_question(question: str) -> list[str]:
    """The parts of a two-part question, each asked on its own; the question alone when it
    has one part. Two kinds: a second question after "and" ("how many were taken and how
    many are still held": the second borrows the counted noun it lacks), and one question
    about two things ("who wrote the logging howto and the sorting howto"). The second part
    may still lean on the first with a pronoun (the caller resolves it as a follow-up).

    Example: split_question("how many hostages were taken and how many are still held")
             == ["how many hostages were taken", "how many hostages are still held"]
    """
    q = _clean(question)
    first_wh = _WH.match(q.lower())
    if not first_wh:
        return [question]
    m = _SECOND_WH.search(q, first_wh.end())
    if m:
        one, two = q[:m.start()].strip(), q[m.end():].strip()
        # each part a question of its own: "how many hostages and how many prisoners were
        # released" is one question about two counts
        if any(len(words(p)) < 3 or not any(w in _AUX or w in _VERB_BEFORE or w.endswith("ed")
                                            for w in words(p.lower())[1:]) for p in (one, two)):
            return [question]
        counted = re.match(r"(how (?:many|much))\s+(\w+)", two, re.I)
        if counted and counted.group(2).lower() in _AUX:  # "how many are still held"
            a = analyse(one)
            if a.type == "quantity" and a.focus:
                two = f"{counted.group(1)} {a.focus} {two[counted.end(1):].strip()}"
        return [one, two]
    toks = q.split()
    low = [t.lower() for t in toks]
    if low[0] not in ("who", "whom", "which", "what", "when", "where") or low.count("and") != 1:
        return [question]
    k = low.index("and")
    second = toks[k + 1:]
    if not second or low[k + 1] not in _DETS or len(second) > 5 or k < 4 or \
            {"between", "among", "versus", "vs"} & set(low[:k]):  # one thing: a comparison
        return [question]
    # where the first thing starts: its own determiner, else as many words as the second's;
    # right after the verb ("who wrote | the logging howto"), not inside a phrase ("the
    # ratio of deaths and the injuries", "discuss with Netanyahu and the Qatari ...")
    dets = [i for i in range(2, k) if low[i] in _DETS]
    start = dets[-1] if dets else max(2, k - (len(second) - 1))
    if start >= k or low[start - 1] in _PREP or low[start - 1] in _DETS or \
            any(w in _PREP for w in low[start:k]) or \
            not (low[start - 1].endswith("ed") or low[start - 1] in _VERB_BEFORE):
        return [question]
    return [" ".join(toks[:k]), " ".join(toks[:start] + second)]
