"""Names in text and what they name: a person, an organisation or a place.

Pure and offline. The data comes from maintained packages where one exists:
- places: country names from pycountry (ISO 3166-1), with demonyms ("Egyptian" -> Egypt),
  alternative spellings, capitals and provinces from countryinfo (pycountry has no demonyms);
- people: the title words that precede a person's name ("Prime Minister", "envoy", "Gen.")
  and the name particles ("bin", "al-", "el-") from nameparser's vocabulary.
What no package holds is kept here, small and documented: the words that end an
organisation's name (`ORG_SUFFIXES`) and the words that end a place's name (`PLACE_SUFFIXES`).
Without a tagger, a single unknown capitalised word ("Hamas", "Netanyahu") stays "name":
it counts as a person only when the text also names someone with it as the last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rag.text import STOPWORDS

Kind = Literal["person", "organisation", "place", "name"]


_FOLD = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'",
                       "‚": "'", "–": "-", "—": "-", "\u00a0": " "})
_WORD = re.compile(r"[^\W_]+(?:['.\-][^\W_]+)*")


def fold(text: str) -> str:
    """Quote marks and dashes folded to ASCII, runs of whitespace to one space: a cheap
    rag.text.normalize for matching many sentences (offsets are not kept, accents stay).

    Example: fold("“Hi”  —\nthere") == '"Hi" - there'
    """
    return re.sub(r"\s+", " ", text.translate(_FOLD))


def lower_words(text: str) -> list[str]:
    """Lowercased words of folded text (keeps inner apostrophes, dots and hyphens).

    Example: lower_words("Israel’s three-member War Cabinet") == ["israel's", "three-member",
             "war", "cabinet"]
    """
    return _WORD.findall(fold(text).lower())


def wordset(text: str) -> frozenset[str]:
    """The words of a space-separated list.

    Example: wordset("a b") == frozenset({"a", "b"})
    """
    return frozenset(text.split())


# Words that end an organisation's name ("Relief and Works Agency", "Sahel General Hospital").
ORG_SUFFIXES = wordset("""
agency agencies ministry ministries department council committee commission organization
organisation union nations forces army navy party movement group brigades brigade authority
bank fund court parliament congress senate corporation company inc ltd llc university
institute foundation association office service services guard corps front alliance coalition
bureau network times post news press hospital school college church board administration
government cabinet assembly federation league program programme project centre center
club team institution embassy police
""")
# Words that end a place's name ("Gaza Strip", "Golan Heights", "Red Sea").
PLACE_SUFFIXES = wordset("""
strip bank sea ocean river valley mountains mountain heights peninsula gulf desert island
islands city province region border crossing corridor camp district governorate county
""")
_COMPASS = wordset("north south east west northern southern eastern western central "
                   "middle upper lower")
MONTHS = wordset("january february march april may june july august september october "
                 "november december jan feb mar apr jun jul aug sep sept oct nov dec")
WEEKDAYS = wordset("monday tuesday wednesday thursday friday saturday sunday")
_NOT_NAMES = MONTHS | WEEKDAYS | STOPWORDS | wordset(
    "i mr mrs ms dr however meanwhile moreover although additionally further furthermore yet "
    "despite amid following during since after before while also still")
# Short forms people write for countries that the ISO data lists only as codes.
_ALIASES = {"us": "United States", "usa": "United States", "uk": "United Kingdom",
            "america": "United States", "britain": "United Kingdom",
            "washington": "United States"}

_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W\d_](?:[\w'’.-]*[^\W_])?", re.UNICODE)
_JOINERS = frozenset({"of", "for", "the", "and"})  # inside names of things, not of people
_CONNECT = _JOINERS | {"de", "bin", "ibn", "al", "el", "van", "von", "da"}


@dataclass(frozen=True)
class Name:
    """A name found in text: `text[start:end] == name`; `place` is the country a place
    word points to ("Egyptian" -> "Egypt"), when it points to one."""

    text: str
    kind: Kind
    start: int
    end: int
    place: str = ""


_DEMONYMS: set[str] = set()  # filled with the gazetteer


@lru_cache(maxsize=1)
def _places() -> dict[str, str]:
    """Lowercased place words -> the country they belong to (names, demonyms, capitals,
    provinces)."""
    import pycountry
    from countryinfo import CountryInfo

    out: dict[str, str] = {}
    provinces: dict[str, str] = {}
    for c in pycountry.countries:
        name = getattr(c, "common_name", None) or c.name
        for n in (c.name, name, getattr(c, "official_name", "")):
            if n and "," not in n:
                out[n.lower()] = name
    for info in CountryInfo.all().values():
        iso = info.get("ISO") or {}
        country = pycountry.countries.get(alpha_2=iso.get("alpha2", "")) if iso else None
        name = (getattr(country, "common_name", None) or country.name) if country else ""
        if not name or "," in name:
            name = str(info.get("name", ""))
        if not name or "," in name:
            continue
        for region in (info.get("region"), info.get("subregion")):
            if region:  # "Europe", "Western Asia": places of no one country
                provinces.setdefault(str(region).lower(), "")
        codes = {str(iso.get("alpha2", "")).lower(), str(iso.get("alpha3", "")).lower()}
        if info.get("demonym"):
            _DEMONYMS.add(str(info["demonym"]).lower())
        words = [info.get("demonym"), info.get("capital"), *(info.get("altSpellings") or [])]
        for w in words:
            w = str(w or "").strip(" '")
            if len(w) > 2 and w.lower() not in codes and "," not in w:
                out.setdefault(w.lower(), name)
        for prov in info.get("provinces") or []:
            for w in re.split(r"\s+and\s+|\s*[()]\s*", str(prov)):
                w = w.strip(" '").lower()
                if len(w) > 2 and w not in _COMPASS:
                    # A province name two countries share ("Gaza") is a place of neither.
                    provinces[w] = name if provinces.get(w, name) == name else ""
    for key, owner in provinces.items():
        out.setdefault(key, owner)
    out.update(_ALIASES)
    return out


@lru_cache(maxsize=1)
def _titles() -> frozenset[str]:
    from nameparser.config import CONSTANTS

    return frozenset(t for t in CONSTANTS.titles if t.isalpha()) | {"head", "spokesman",
                                                                    "spokeswoman", "spokesperson"}


def country_of(word: str) -> str | None:
    """The country a place word names or implies: a country's name or short form, its
    demonym, its capital or a province.

    Example: country_of("Egyptian") == "Egypt" and country_of("U.S.") == "United States"
    """
    return _places().get(_key(word)) or None


def is_place(word: str) -> bool:
    """A country, demonym, capital or province, whether or not it points to one country.

    Example: is_place("Gaza") and is_place("lebanese") and not is_place("Hamas")
    """
    return _key(word) in _places()


def _key(word: str) -> str:
    key = fold(word).strip().lower()
    if "." in key and len(key) <= 6:  # "U.S." -> "us"
        key = key.replace(".", "")
    return re.sub(r"['’]s?$", "", key)


def is_demonym(word: str) -> bool:
    """A people's adjective ("Egyptian", "Israeli"), as countryinfo lists them.

    Example: is_demonym("Egyptian") and not is_demonym("Egypt")
    """
    _places()
    return _key(word) in _DEMONYMS


def is_title(word: str) -> bool:
    """A word that stands before a person's name ("minister", "envoy", "Gen.").

    Example: is_title("Minister") and not is_title("Hamas")
    """
    return word.lower().rstrip(".") in _titles()


def _runs(text: str) -> list[list[tuple[str, int, int]]]:
    """Runs of capitalised tokens (with connectors such as 'of', 'bin', 'al-' inside)."""
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    runs: list[list[tuple[str, int, int]]] = []
    cur: list[tuple[str, int, int]] = []
    for i, (tok, s, e) in enumerate(tokens):
        gap = text[cur[-1][2]:s] if cur else ""
        capital = tok[0].isupper() or bool(re.match(r"(?:al|el|bin|ibn)-[A-Z]", tok))
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        joins = not cur or gap.strip() == ""
        name_word = capital and tok.lower().rstrip(".") not in _NOT_NAMES - {"i"}
        connector = bool(cur) and tok.lower() in _CONNECT and nxt[:1].isupper() and \
            (tok.lower() != "and" or _ends_org(text, tokens, i))
        if joins and (name_word or connector):
            cur.append((tok, s, e))
        else:
            if cur:
                runs.append(cur)
            cur = [(tok, s, e)] if capital and tok.lower().rstrip(".") not in _NOT_NAMES \
                else []
        if cur and re.search(r"['’]s?$", tok):  # a possessive closes the name
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return [r for r in (_trim(r) for r in runs) if r]


def _ends_org(text: str, tokens: list[tuple[str, int, int]], i: int) -> bool:
    """'and' joins two capitalised runs only inside an organisation's name."""
    for tok, _s, _e in tokens[i + 1:i + 5]:
        if not tok[0].isupper():
            return False
        if tok.lower() in ORG_SUFFIXES:
            return True
    return False


def _trim(run: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    while run and run[-1][0].lower() in _CONNECT:
        run = run[:-1]
    while run and run[0][0].lower() in _CONNECT:
        run = run[1:]
    return run


def _bare(tok: str) -> str:
    return re.sub(r"['’]s?$", "", tok)


def _kind(words: list[str], after_title: bool) -> tuple[Kind, str]:
    last = _bare(words[-1]).lower().split("-")[-1]
    phrase = " ".join(_bare(w) for w in words)
    if is_place(phrase):
        return "place", country_of(phrase) or ""
    if len(words) > 1 and words[0].lower() in _COMPASS - {"central", "upper", "lower"}:
        return "place", country_of(" ".join(words[1:])) or ""
    if last in ORG_SUFFIXES or (len(words) == 1 and re.fullmatch(r"[A-Z]{2,6}", words[0])):
        return "organisation", ""
    if last in PLACE_SUFFIXES:
        return "place", country_of(_bare(words[0])) or ""
    # Two or more capitalised words with no 'of'/'and' between them, that name no place or
    # organisation, are a person's name ("Benny Gantz", "Mohammed bin Abdulrahman").
    if after_title or (len(words) > 1 and not any(w.lower() in _JOINERS for w in words)):
        return "person", ""
    return "name", ""


def names(text: str, known_people: frozenset[str] = frozenset()) -> list[Name]:
    """The names in a text, each with its kind. Titles and demonyms before a name are split
    off ("Israeli Prime Minister Benjamin Netanyahu" -> Israeli: place, Benjamin Netanyahu:
    person); a lone word is a person when the text, or `known_people` (lowercased last
    names), has a full name ending in it ("Yahya Sinwar ... Sinwar's death").

    Example: [(n.text, n.kind) for n in names("Hamas leader Yahya Sinwar met UNRWA in Cairo")]
             == [("Yahya Sinwar", "person"), ("UNRWA", "organisation"), ("Cairo", "place")]
    """
    return list(_names(text, known_people))


@lru_cache(maxsize=4096)
def _names(text: str, known_people: frozenset[str]) -> tuple[Name, ...]:
    out: list[Name] = []
    for run in _runs(text):
        words = [t for t, _s, _e in run]
        after_title = False
        # Sentence-initial words ("The", "Tuesday") are not names; a lone first word of a
        # sentence is one only when the gazetteer knows it.
        before = text[:run[0][1]].rstrip()
        lead_title = re.search(r"(\w+)\W*$", before)
        if lead_title and is_title(lead_title.group(1)) and not lead_title.group(1)[0].isupper():
            after_title = True
        # Split off leading demonyms/places and titles: the name is what follows the last
        # title word.
        cut = 0
        whole, _c = _kind(words, False)
        if whole not in ("place", "organisation"):
            for i, w in enumerate(words[:-1]):
                if is_title(w) or (w.lower() in _CONNECT and i > 0 and is_title(words[i - 1])):
                    cut, after_title = i + 1, True
            while cut < len(words) and words[cut].lower() in _CONNECT:
                cut += 1
        if cut == 0:
            while whole not in ("place", "organisation") and len(words) - cut > 1 and \
                    is_place(_bare(words[cut])):
                out.append(_name(text, run[cut], run[cut], "place"))
                cut += 1
        else:
            for tok in run[:cut]:
                if is_place(_bare(tok[0])):
                    out.append(_name(text, tok, tok, "place"))
        rest = run[cut:]
        if not rest:
            continue
        rwords = [t for t, _s, _e in rest]
        kind, country = _kind(rwords, after_title)
        if kind in ("person", "name") and all(is_title(t) or t.lower() in _CONNECT
                                              for t in rwords):
            continue  # a role without a name: "the Prime Minister", "Secretary of State"
        sentence_start = not before or before[-1] in ".!?\n\"“:"
        if sentence_start and len(rest) == 1 and kind == "name" and not after_title:
            continue
        out.append(_name(text, rest[0], rest[-1], kind, country))
    full = {n.text.split()[-1].lower() for n in out if n.kind == "person" and " " in n.text}
    people = full | known_people
    return tuple(Name(n.text, "person", n.start, n.end) if n.kind == "name" and
                 n.text.lower() in people else n for n in out)


def _name(text: str, first: tuple[str, int, int], last: tuple[str, int, int], kind: Kind,
          country: str = "") -> Name:
    end = last[2]
    m = re.search(r"['’]s?$", text[first[1]:end])
    if m:
        end -= len(m.group(0))
    if kind == "place" and not country:
        country = country_of(text[first[1]:end]) or ""
    return Name(text[first[1]:end], kind, first[1], end, country)
