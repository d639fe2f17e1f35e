"""The `support` judge, ALCE-style: every cited sentence of an answer is checked against the
concatenation of its citations' quotes (premise) by an entailment judge, and an answer's
support is the share of its cited sentences the judge finds entailed.

A claim whose words are its quote's own (after an attribution such as "Reuters: ") is
entailed by definition and is not sent to a model: extractive answers are mostly such
claims. Every other claim goes to an LLM behind the product's own `Generator` interface
(RAG_JUDGE=openai for OpenAI or any OpenAI-compatible server, RAG_JUDGE=local for a GGUF
file in-process), asked an NLI question and read for yes/no. Claim extraction, the
verbatim rule, verdict parsing and the score are pure functions; only `LLMJudge.check`
calls a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import BackendError, ConfigError
from rag.settings import Settings
from rag.text import normalize, split_sentences
from rag.types import Answer

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+")
_VERDICT = re.compile(r"\b(not (?:entailed|supported|true)|unsupported|yes|no|true|false|"
                      r"entailed|supported)\b", re.I)

SYSTEM = """You check claims against evidence. Say yes only when the evidence states \
everything the claim says, or directly implies it. Say no when the claim adds anything \
the evidence does not say, or contradicts it. Reply with one word: yes or no."""


@dataclass(frozen=True)
class Claim:
    """A cited sentence of an answer (markers removed) and the quotes it cites."""

    sentence: str
    citations: tuple[int, ...]
    quotes: tuple[str, ...]
    sources: tuple[str, ...] = ()  # the cited articles' publishers, for attributions


@dataclass(frozen=True)
class Check:
    """The verdict on one claim: True (entailed), False, or None when the judge failed (its
    error is in `reply`); `by` is "verbatim" or the judge's name."""

    sentence: str
    citations: tuple[int, ...]
    entailed: bool | None
    reply: str
    by: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cited_claims(answer: Answer) -> list[Claim]:
    """The sentences of the answer that carry citation markers, each with its cited quotes.
    A marker opening a sentence (`... Gaza. [1] Another ...`) belongs to the sentence
    before it; sentences without markers (connectives such as "The sources give different
    figures.") are not claims; a refusal has none.

    Example: [c.sentence for c in cited_claims(a)] == ["Gantz resigned.", "He left."]
             for a.answer == "Gantz resigned [1]. He left. [2]"
    """
    if answer.refused:
        return []
    by_n = {c.n: c for c in answer.citations}
    pieces: list[str] = []
    for s in split_sentences(answer.answer):
        text = s.text
        lead = _LEADING_MARKERS.match(text)
        if lead and pieces:
            pieces[-1] += " " + lead.group().strip()
            text = text[lead.end():].strip()
        if text:
            pieces.append(text)
    claims = []
    for piece in pieces:
        numbers = tuple(dict.fromkeys(int(x) for m in _MARKER.finditer(piece)
                                      for x in m.group(1).split(",")))
        cited = [by_n[n] for n in numbers if n in by_n]
        if not cited:
            continue
        sentence = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", piece))
        claims.append(Claim(" ".join(sentence.split()), numbers,
                            tuple(c.quote for c in cited),
                            tuple(c.source for c in cited if c.source)))
    return claims


_ATTRIBUTION = re.compile(r"^(?P<who>[^:]{1,80}?)(?: \([^)]*\))?: ")
_GENERIC_WHO = {"one report", "another report"}


def is_verbatim(claim: Claim) -> bool:
    """The claim is, word for word, one or more whole sentences of one of its quotes (quote
    marks, dashes, spacing and case folded), after at most an attribution naming a cited
    source ("Reuters: ", "One report (2024-10-22): "). Anything less (a part of a sentence,
    which can drop a "No" or a "denied that"; words spanning two quotes; another speaker's
    name) goes to the judge.

    Example: is_verbatim(Claim("Reuters: “Gantz resigned.”", (1,), ("Gantz resigned.",),
                               ("Reuters",))) is True
    """
    bodies = [claim.sentence]
    m = _ATTRIBUTION.match(claim.sentence)
    if m and m.group("who").strip().casefold() in (
            _GENERIC_WHO | {x.casefold() for x in claim.sources}):
        bodies = [claim.sentence[m.end():]]
    targets = {t for t in map(_fold, bodies) if len(t.split()) >= 4}
    for quote in claim.quotes:
        spans = split_sentences(quote)
        for i, first in enumerate(spans):
            for last in spans[i:]:
                if _fold(quote[first.start:last.end]) in targets:
                    return True
    return False


def _fold(text: str) -> str:
    return " ".join(normalize(text).casefold().replace('"', " ").split()).strip(" .,;:!?")


def judge_messages(claim: Claim) -> list[dict[str, str]]:
    """The NLI question for one claim: premise (its quotes), hypothesis (the sentence).

    Example: judge_messages(claim)[1]["content"].startswith("Evidence:\n- ")
    """
    evidence = "\n".join(f"- {q}" for q in claim.quotes)
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Evidence:\n{evidence}\n\nClaim: {claim.sentence}\n\n"
                                        "Does the evidence support the claim? Answer yes or no."}]


def parse_verdict(reply: str) -> bool | None:
    """The judge's first yes/no word (negated forms read first); None when the reply holds
    none, so an unreadable reply is left out of `support` rather than counted either way.

    Example: parse_verdict("Yes.") is True; parse_verdict("Not supported.") is False;
             parse_verdict("<think>") is None
    """
    m = _VERDICT.search(reply)
    if m is None:
        return None
    return m.group(1).lower() in {"yes", "true", "entailed", "supported"}


def support(checks: Sequence[Check]) -> float | None:
    """Share of the decided checks that are entailed; None when nothing was decided (no
    cited sentence, or every judge call failed).

    Example: support([Check("a", (1,), True, "yes", "j"), Check("b", (2,), False, "no", "j")])
             == 0.5
    """
    decided = [c.entailed for c in checks if c.entailed is not None]
    return round(sum(decided) / len(decided), 4) if decided else None


class LLMJudge:
    """Entailment by an LLM: one short chat call per claim, temperature 0."""

    def __init__(self, settings: Settings) -> None:
        from rag.answer.llm.clients import get_generator

        self._gen = get_generator(judge_settings(settings))
        self.name = self._gen.name

    def check(self, claim: Claim) -> Check:
        if is_verbatim(claim):
            return Check(claim.sentence, claim.citations, True, "", "verbatim")
        try:
            reply = "".join(self._gen.stream(judge_messages(claim), max_tokens=8)).strip()
        except BackendError as exc:
            return Check(claim.sentence, claim.citations, None, f"judge failed: {exc}",
                         self.name)
        verdict = parse_verdict(reply)
        return Check(claim.sentence, claim.citations, verdict,
                     reply if verdict is not None else f"no yes/no in the reply: {reply!r}",
                     self.name)

    def check_answer(self, answer: Answer) -> list[Check]:
        return [self.check(c) for c in cited_claims(answer)]


def judge_settings(settings: Settings) -> Settings:
    """The settings the judge's LLM backend is built from: RAG_JUDGE names the backend and
    RAG_JUDGE_MODEL its model, falling back to the answering model's settings."""
    if settings.judge == "local":
        path = settings.judge_model or settings.local_model
        if path is None:
            raise ConfigError("RAG_JUDGE=local needs RAG_JUDGE_MODEL (or RAG_LOCAL_MODEL), the "
                              "path of a .gguf file")
        if not Path(path).is_file():
            raise ConfigError(f"RAG_JUDGE_MODEL: no model file at {path}")
        return settings.model_copy(update={"llm": "local", "local_model": Path(path)})
    if not settings.openai_api_key and not settings.openai_base_url:
        raise ConfigError("RAG_JUDGE=openai needs OPENAI_API_KEY, or OPENAI_BASE_URL for a "
                          "compatible server")
    return settings.model_copy(update={
        "llm": "openai", "openai_model": settings.judge_model or settings.openai_model})


_PROBE = Claim("The harbour reopened on 3 March.", (1,), ("The harbour was closed all year.",))


def make_judge(settings: Settings) -> LLMJudge | None:
    """The configured judge, or None when RAG_JUDGE is off. It is asked one question first,
    so a judge that cannot answer fails the run before any question is answered."""
    if settings.judge == "off":
        return None
    judge = LLMJudge(settings)
    probe = judge.check(_PROBE)
    if probe.entailed is None:
        raise BackendError(f"RAG_JUDGE={settings.judge}: {probe.reply}")
    if probe.entailed:
        raise BackendError(f"RAG_JUDGE={settings.judge}: {judge.name} called a claim the "
                           "evidence contradicts supported; it cannot judge support")
    return judge
