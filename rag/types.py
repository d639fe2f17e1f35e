"""Shared types: what the write path stores and what every surface renders and every eval scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field


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
    conflicts: list[str] = Field(
        default_factory=list, description="Disagreements found between cited sources.")


class Turn(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str


class StreamEvent(BaseModel):
    """What a streaming answer yields: tokens, then exactly one final Answer."""

    type: Literal["token", "answer"]
    text: str = ""
    answer: Answer | None = None
