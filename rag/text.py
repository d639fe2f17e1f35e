"""Pure text helpers shared by the write and read paths: sentences with offsets, normalisation,
content terms. Written by hand because the offsets must be exact: llama-index's splitters
rejoin and strip text, and punkt needs data files downloaded at run time."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache

from rag.types import Sentence

# Abbreviations after which a full stop does not end a sentence (news and wiki prose).
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "gen", "col", "lt", "sgt", "capt", "gov",
    "sen", "rep", "pres", "rev", "hon", "vs", "etc", "inc", "ltd", "corp", "vol",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m", "approx", "est", "dept", "fig", "mt",
}
# Abbreviations that may also close a sentence ("... in the U.S. The talks"): a capitalised
# function word after one starts a new sentence. Titles ("Dr.", "Gen.") and months never end
# one here, and dotted acronyms ("U.S.", "U.N.") count too.
_CAN_END = {"etc", "inc", "ltd", "corp", "co", "jr", "sr", "a.m", "p.m"}
_STARTERS = frozenset({
    "the", "a", "an", "it", "he", "she", "they", "we", "i", "but", "and", "in", "on", "at",
    "this", "that", "these", "those", "there", "his", "her", "its", "their", "our", "as",
    "after", "when", "while", "if", "however", "meanwhile", "then", "yet", "so"})
# Candidate boundary: terminal punctuation, optional closing quotes/brackets, then space.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+)""")
_BREAK = re.compile(r"\n\s*")
_WORD = re.compile(r"[^\W_]+(?:[’'.\-][^\W_]+)*", re.UNICODE)


def paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each non-blank paragraph, whitespace trimmed. A blank line always
    ends a paragraph; a single newline does when the line before ends a sentence or is short
    (a headline), and not when it only wraps a long line.

    Example: list(paragraphs("Title\nBody.")) == [(0, 5), (6, 11)]
    """
    pos = 0
    for m in _BREAK.finditer(text):
        if "\n" not in m.group()[1:] and not _line_ends(text, m.start()):
            continue
        yield from _trimmed(text, pos, m.start())
        pos = m.end()
    yield from _trimmed(text, pos, len(text))


def _line_ends(text: str, nl: int) -> bool:
    line_start = text.rfind("\n", 0, nl) + 1
    line = text[line_start:nl].rstrip()
    return not line or len(line) < 60 or line[-1] in ".!?:;\"'”’)]…"


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def _word_before(text: str, dot: int) -> str:
    m = re.search(r"([\w.]+)\.?$", text[max(0, dot - 12):dot + 1])
    return m.group(1).rstrip(".").lower() if m else ""


def _is_acronym(word: str) -> bool:
    return bool(re.fullmatch(r"(?:\w\.)+\w", word))


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the full stop at `dot` closes an abbreviation or an initial."""
    word = _word_before(text, dot)
    if not word:
        return False
    if word in _ABBREV:
        return True
    # Single initials ("J. Smith") and dotted acronyms ("U.S.").
    return (len(word) == 1 and word.isalpha()) or _is_acronym(word)


def _abbreviation_ends_sentence(text: str, dot: int, after: str) -> bool:
    """True when the abbreviation at `dot` can close a sentence and the text `after` it opens
    one ("in the U.S. The talks": yes; "U.S. Secretary", "Oct. 7", "Dr. Who": no)."""
    word = _word_before(text, dot)
    if word not in _CAN_END and not _is_acronym(word):
        return False
    nxt = re.match(r"[A-Z][a-z]*\b", after)
    return nxt is not None and nxt.group().lower() in _STARTERS


_HEADING_END = ".!?…:;,\"”’')]"
_ITEM_MARK = re.compile(r"^(?:[*•‣▪\-–]|\(?\d{1,2}[.)]|\([a-z]\))\s")


# Characters that act on a display instead of showing: C0/C1 controls, line and paragraph
# separators, and the bidirectional marks, embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f"
                     "\u202a-\u202e\u2066-\u2069]")


# What JSON leaves raw inside strings that still acts on a terminal (JSON escapes C0 controls).
_BIDI = re.compile("[\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown_safe(text: str) -> str:
    """Text for one line of a display (a title, a publisher, a file name): control characters,
    line breaks and bidirectional controls (U+202E) shown escaped, so a name cannot split a
    line, colour a terminal or reorder what is around it. Other characters (accents, a
    no-break space, emoji) are kept.

    Example: shown_safe("new\nline\u202e.txt\xa0é") == "new\\nline\\u202e.txt\xa0é"
    """
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def json_safe(dumped: str) -> str:
    """A JSON text with the bidirectional controls and separators inside its strings written
    as \\u escapes: the same data, but a terminal that prints it is not reordered.

    Example: json_safe('"a\u202eb"') == '"a\\u202eb"'
    """
    return _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def is_heading(text: str, start: int, end: int) -> bool:
    """Is text[start:end] a heading: a line of its own, of at most twelve words, with no
    figure and no closing punctuation, that is neither a list item nor a field ("Author:
    Gordon McMillan"), and that the layout sets apart: the article's first line, or a line
    with a blank line after it (as a Markdown or HTML heading becomes at ingest). A heading
    names what follows; it is not a claim to quote with the sentence after it.

    Example: is_heading("The Tower\n\nIt is tall.", 0, 9) and not is_heading("It is tall.", 0, 11)
    """
    line = text[start:end]
    own_line = (start == 0 or text[start - 1] == "\n") and (end == len(text) or text[end] == "\n")
    set_apart = start == 0 or text.startswith("\n\n", end) or end == len(text)
    return (own_line and set_apart and bool(line) and line[-1] not in _HEADING_END
            and len(line.split()) <= 12 and not any(c.isdigit() for c in line)
            and ": " not in line and not _ITEM_MARK.match(line))


def split_sentences(text: str, base: int = 0) -> list[Sentence]:
    """Split text into sentences that keep exact offsets (`text[s.start-base:s.end-base]`).

    Paragraph breaks always end a sentence; a full stop after a known abbreviation
    does not (unless the abbreviation can end a sentence and a word like "The" follows),
    nor does one followed by a lowercase word.

    Example: [s.text for s in split_sentences("Dr. Who left. It rained.")]
             == ["Dr. Who left.", "It rained."]
    """
    out: list[Sentence] = []
    for p_start, p_end in paragraphs(text):
        start = p_start
        # The paragraph is read in place (no copy of the text before it: a long article's
        # split stays linear in its length).
        for m in _BOUNDARY.finditer(text, p_start, p_end):
            end = m.end()
            rest = text[end:min(p_end, end + 200)].lstrip()
            if (m.group().rstrip("\"'”’)]") == "." and _is_abbreviation(text, m.start())
                    and not _abbreviation_ends_sentence(text, m.start(), rest)):
                continue
            nxt = rest[:1]
            if nxt and (nxt.islower() or nxt in ",;:"):
                continue  # an ellipsis or a stop mid-sentence
            out.extend(_sentence(text, start, end, base))
            start = end
        out.extend(_sentence(text, start, p_end, base))
    return out


def _sentence(text: str, start: int, end: int, base: int) -> list[Sentence]:
    for s, e in _trimmed(text, start, end):
        return [Sentence(text=text[s:e], start=s + base, end=e + base)]
    return []


_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'",
                         "’": "'", "‚": "'", "–": "-", "—": "-", "\u00a0": " "})


def normalize(text: str) -> str:
    """Fold quote marks, dashes and whitespace so near-verbatim quotes compare equal.

    Example: normalize("“Hi”  —\\nthere") == '"Hi" - there'
    """
    # The same output as normalize_with_map, character by character, so a quote and the
    # article it comes from fold the same way; built with str.translate and split (C loops)
    # because scoring evidence calls this thousands of times per question.
    if text.isascii():
        return " ".join(text.split())
    table: dict[int, str] = {}
    for ch in set(text):
        if not ch.isascii():
            c = _fold(ch)
            if len(c) > 1 and not c.isspace() and any(x.isspace() for x in c):
                return normalize_with_map(text)[0]  # a fold mixing spaces and letters
            table[ord(ch)] = c
    return " ".join(text.translate(table).split())


@lru_cache(maxsize=8192)
def _fold(ch: str) -> str:
    """One character decomposed, accents dropped, quote marks and dashes folded.

    Example: _fold("é") == "e"
    """
    return "".join(x for x in unicodedata.normalize("NFKD", ch)
                   if not unicodedata.combining(x)).translate(_QUOTES)


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """normalize() plus, for every output character, its offset in the input.

    Example: normalize_with_map("a  b") == ("a b", [0, 1, 3])
    """
    out: list[str] = []
    where: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        # Decompose and drop accents: "café" and "cafe\u0301" fold alike, one char at a time.
        c = ch if ch.isascii() and not ch.isspace() else _fold(ch)
        if not c:
            continue
        if c.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            where.append(i - 1)
            pending_space = False
        for sub in c:
            out.append(sub)
            where.append(i)
    return "".join(out), where


STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own said same say says she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself
according many much did does tell told
""".split())  # noqa: SIM905 - a long word list reads best as prose


def words(text: str) -> list[str]:
    """Lowercased word tokens (keeps inner apostrophes, dots and hyphens).

    Example: words("U.S. envoy's 11th-hour trip") == ["u.s", "envoy's", "11th-hour", "trip"]
    """
    return [w.lower() for w in _WORD.findall(normalize(text))]


def content_terms(text: str) -> list[str]:
    """Words minus stopwords, with possessives dropped: the terms a question is about.

    Example: content_terms("What did Hamas' three-member team do?")
             == ["hamas", "three-member", "three", "member", "team"]
    """
    out = []
    for word in words(text):
        if word.endswith("'s"):
            word = word[:-2]
        elif word.endswith("'"):
            word = word[:-1]
        # "three-member" also counts as "member": hyphenated compounds match their parts.
        for w in [word, *word.split("-")] if "-" in word else [word]:
            if w and w not in STOPWORDS:
                out.append(w)
    return out


def one_edit_apart(a: str, b: str) -> bool:
    """True when b is a with one letter inserted, deleted, replaced, or two neighbours
    swapped (the typos people make).

    Example: one_edit_apart("hezbolah", "hezbollah") and one_edit_apart("isreali", "israeli")
    """
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long[i]:
        i += 1
    return short[i:] == long[i + 1:]


def correct_typos(text: str, vocabulary: set[str], known: Callable[[str], bool],
                  min_len: int = 5) -> str:
    """Replace each word of `text` that is not `known` (to the corpus) by the one word of
    `vocabulary` (lowercase) a single typo away, when exactly one is, keeping its case;
    other words, every known word and anything with a digit are kept ("killed" never
    becomes "killer", "10000" never "100000").

    Example: correct_typos("is hezbolah willing", {"hezbollah", "willing"}, known)
             == "is hezbollah willing"   # where known("hezbolah") is False
    """
    def fix(m: re.Match[str]) -> str:
        word = m.group()
        low = word.lower()
        if (len(low) < min_len or any(c.isdigit() for c in low) or low in vocabulary
                or low in STOPWORDS or known(low)):
            return word
        # Names differ from each other by one letter (Hamad, Hamas): a capitalised word
        # is only corrected for a letter missing, doubled or swapped, never replaced.
        name = word[:1].isupper()
        near = {v for v in vocabulary if len(v) >= min_len and one_edit_apart(low, v)
                and not (name and len(v) == len(low) and sorted(v) != sorted(low))}
        if len(near) != 1:
            return word
        fixed = near.pop()
        return fixed.upper() if word.isupper() else (fixed.capitalize() if name else fixed)

    return _WORD.sub(fix, text)
