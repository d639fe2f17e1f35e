"""Shared types: what the write path stores and what every surface renders and every eval scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field, computed_field


@dataclass(frozen=True)
class Article:
    """One article's clean text and metadata. `id` is a hash of the clean text."""

    id: str
    text: str
    title: str
    source: str
    url: str
    date: str | None = None
    origin: str = ""  # where it came from: a file path or a URL (the key for update/prune)


@dataclass(frozen=True)
class Chunk:
    """A slice of an article: `article.text[start:end] == text`."""

    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """A sentence of an article with its offsets: `article.text[start:end] == text`."""

    text: str
    start: int
    end: int


@dataclass
class Hit:
    """A retrieved chunk with the scores that ranked it."""

    chunk: Chunk
    article: Article
    score: float
    dense: float | None = None
    bm25: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)


class Citation(BaseModel):
    """A verbatim quote with its exact place: `article_text[start:end] == quote`."""

    n: int
    article_id: str
    chunk_id: str
    title: str
    source: str
    url: str
    quote: str
    start: int
    end: int
    date: str | None = None


class ConflictFigure(BaseModel):
    """One source's figure in a disagreement, with the citation that quotes it."""

    value: str = Field(description="The figure as the article writes it, e.g. '1,200'.")
    n: int = Field(description="The citation number that quotes it.")
    source: str = ""
    title: str = ""
    date: str | None = None


class Conflict(BaseModel):
    """Sources giving different figures for one measure, ordered by date when all are dated."""

    measure: str = Field(description="What the figures count, e.g. 'hostages held'.")
    figures: list[ConflictFigure]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dated(self) -> bool:
        """Every figure has a date and they are not all the same: later reports update earlier
        ones rather than contradict them."""
        dates = [f.date for f in self.figures]
        return all(dates) and len(set(dates)) > 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        """One line every surface shows, e.g. "hostages: 97 [1] (Reuters) vs 129 [2] (AP)"."""
        def one(f: ConflictFigure) -> str:
            who = ", ".join(x for x in (f.source, f.date or "") if x)
            return f"{f.value} [{f.n}]" + (f" ({who})" if who else "")

        if self.dated:
            ordered = sorted(self.figures, key=lambda f: f.date or "")
            return (f"{self.measure}: later reports give {one(ordered[-1])}; earlier, "
                    + ", ".join(one(f) for f in ordered[:-1]))
        return f"{self.measure}: " + " vs ".join(one(f) for f in self.figures)


@dataclass
class Draft:
    """An answer before its last checks: text with [n] markers, its citations, and notes."""

    text: str
    citations: list[Citation]
    refused: bool
    conflicts: list[Conflict] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # sentences removed: no valid citation


class Passage(BaseModel):
    """A retrieved passage as handed to the answerer, numbered as the prompt numbered it."""

    n: int
    article_id: str
    chunk_id: str
    title: str
    score: float
    text: str
    source: str = ""
    url: str = ""
    date: str | None = None
    start: int = 0
    end: int = 0


class Timings(BaseModel):
    retrieve: float = 0.0
    answer: float = 0.0
    total: float = 0.0


class Answer(BaseModel):
    """The one object every surface renders and every eval scores."""

    question: str
    standalone_question: str
    answer: str
    refused: bool
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    backend: str
    timings_ms: Timings = Field(default_factory=Timings)
    unsupported: list[str] = Field(
        default_factory=list,
        description="Sentences the answerer wrote that no valid citation supports (removed).")
    conflicts: list[Conflict] = Field(
        default_factory=list, description="Different figures for one measure in cited sources.")


class Turn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class StreamEvent(BaseModel):
    """What a streaming answer yields: tokens, then exactly one final Answer."""

    type: Literal["token", "answer"]
    text: str = ""
    answer: Answer | None = None
