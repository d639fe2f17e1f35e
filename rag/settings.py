"""One typed, frozen Settings, read from the environment and `.env` once per entry point.

Every field has a default and help text; `.env.example` lists them all (a test checks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError


def _env(name: str, default: Any, help: str, **kw: Any) -> Any:
    """A field read from exactly the environment variable `name`."""
    return Field(default, validation_alias=AliasChoices(name), description=help, **kw)


EXTRACTIVE_CONTEXT = 6000  # tokens; chosen from the budget curve in the README
LLM_CONTEXT = 6000


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True,
        populate_by_name=True,
    )

    # --- store
    store_dir: Path = _env("RAG_STORE_DIR", Path(".rag-store"),
                           "Folder of the embedded Chroma store and the BM25 index.")
    collection: str = _env("RAG_COLLECTION", "articles", "Chroma collection name (chunks).")
    chroma_host: str | None = _env("CHROMA_HOST", None,
                                   "Chroma server host; when set, the store is that server.")
    chroma_port: int = _env("CHROMA_PORT", 8000, "Chroma server port.", ge=1, le=65535)

    # --- embeddings
    embed_backend: Literal["minilm", "minilm-int8", "openai"] = _env(
        "RAG_EMBED", "minilm",
        "Embedding backend: minilm (bundled all-MiniLM-L6-v2, offline), minilm-int8 (the same, "
        "int8 per-channel: faster, cosine >= 0.97 to minilm) or openai.")
    embed_model_path: Path | None = _env(
        "RAG_EMBED_MODEL_PATH", None,
        "Local sentence-transformers model folder; default: the one bundled in the package.")
    openai_embed_model: str = _env("RAG_OPENAI_EMBED_MODEL", "text-embedding-3-small",
                                   "OpenAI embedding model when RAG_EMBED=openai.")
    model_cache: Path | None = _env(
        "RAG_MODEL_CACHE", None,
        "Folder for the locally built ONNX embedder; default `.rag-models` beside the store.")
    embed_batch: int = _env("RAG_EMBED_BATCH", 64, "Texts per embedding batch.", ge=1)
    threads: int = _env("RAG_THREADS", 0, "CPU threads for embedding/LLM (0: all cores).", ge=0)

    # --- chunking / ingestion
    chunk_tokens: int = _env("RAG_CHUNK_TOKENS", 180,
                             "Chunk budget in tiktoken tokens (kept under the embedder's limit).",
                             ge=32, le=2000)
    chunk_overlap: int = _env("RAG_CHUNK_OVERLAP", 40, "Overlap between chunks, in tokens.",
                              ge=0)
    max_file_mb: float = _env("RAG_MAX_FILE_MB", 20.0,
                              "Files, and web pages counted unpacked, larger than this are "
                              "skipped.", gt=0)
    max_chunks_per_file: int = _env("RAG_MAX_CHUNKS_PER_FILE", 1500,
                                    "Chunks one file or page may make; a longer one is stored "
                                    "and searchable up to there, and the ingest says so (it "
                                    "bounds the worst file's time: about a minute on 2 cores).",
                                    ge=1)
    fetch_timeout: float = _env("RAG_FETCH_TIMEOUT", 15.0,
                                "Seconds a URL fetch may take in all (not per read), "
                                "redirects included.", gt=0)
    near_dup_threshold: float = _env("RAG_NEAR_DUP", 0.8,
                                     "Shingle Jaccard above which two articles are reported "
                                     "as near-duplicates.", ge=0, le=1)

    # --- retrieval
    top_k: int = _env("RAG_TOP_K", 6,
                      "Best-ranked passages that enter the answerer's context first, before "
                      "any passage's neighbours (the budget, RAG_CONTEXT_TOKENS, decides the "
                      "rest).", ge=1, le=50)
    context_tokens: int | None = _env(
        "RAG_CONTEXT_TOKENS", None,
        "The answerer's context budget in tiktoken tokens: the reranked passages grown by "
        "their neighbouring sentences, merged per article. Unset: per backend (see "
        "context_budget).", ge=100, le=200_000)
    context_window: int = _env("RAG_CONTEXT_WINDOW", 2,
                               "Neighbouring sentences each passage may take on either side.",
                               ge=0, le=20)
    candidate_k: int = _env("RAG_CANDIDATE_K", 30,
                            "Candidates taken from each retriever before fusion.", ge=1)
    rerank_pool: int = _env("RAG_RERANK_POOL", 10,
                            "Fused candidates reranked by their best evidence sentence.",
                            ge=1, le=100)
    rrf_k: int = _env("RAG_RRF_K", 60, "Reciprocal rank fusion constant.", ge=1)
    lexical_refresh_s: float = _env(
        "RAG_LEXICAL_REFRESH_S", 1.0,
        "How often `rag serve` checks the store's version stamp and catches its BM25 index "
        "up with articles another process ingested (seconds).", gt=0, le=3600)
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = _env(
        "RAG_RETRIEVAL", "hybrid", "Retriever: hybrid (dense + BM25, fused), dense or bm25.")
    max_evidence: int = _env("RAG_MAX_EVIDENCE", 3,
                             "Most evidence sentences in an extractive answer.", ge=1)

    # --- answering
    llm: Literal["auto", "extractive", "openai", "local", "scripted"] = _env(
        "RAG_LLM", "auto",
        "Answer backend: extractive, openai, local, scripted; auto picks openai when "
        "OPENAI_API_KEY is set, local when RAG_LOCAL_MODEL is set, else extractive.")
    scripted_replies: Path | None = _env(
        "RAG_SCRIPTED_REPLIES", None,
        "JSONL of recorded replies for RAG_LLM=scripted ({question|key, reply} a line): tests "
        "and offline demos of the LLM path.")
    min_relevance_llm: float = _env(
        "RAG_MIN_RELEVANCE_LLM", 0.15,
        "With an LLM, refuse before asking it only when the best evidence scores below this: "
        "the model decides the rest.", ge=0, le=1)
    openai_api_key: str | None = _env("OPENAI_API_KEY", None, "OpenAI (or compatible) API key.")
    openai_base_url: str | None = _env("OPENAI_BASE_URL", None,
                                       "OpenAI-compatible server URL (Ollama, vLLM, llama.cpp).")
    openai_model: str = _env("RAG_OPENAI_MODEL", "gpt-4o-mini", "Chat model for RAG_LLM=openai.")
    local_model: Path | None = _env("RAG_LOCAL_MODEL", None,
                                    "GGUF file for RAG_LLM=local (llama.cpp in-process).")
    llm_max_tokens: int = _env("RAG_LLM_MAX_TOKENS", 400, "Most tokens an LLM answer may use.",
                               ge=16)
    llm_timeout: float = _env("RAG_LLM_TIMEOUT", 60.0, "Seconds before an LLM call fails.", gt=0)
    llm_context: int = _env("RAG_LLM_CONTEXT", 4096, "Context window for the local model.",
                            ge=512)

    # --- evals
    judge: Literal["off", "openai", "local"] = _env(
        "RAG_JUDGE", "off",
        "Support judge for `rag eval`: off, openai (OPENAI_BASE_URL/OPENAI_API_KEY) or local "
        "(a GGUF file); it checks each cited sentence against its quotes.")
    judge_model: str | None = _env(
        "RAG_JUDGE_MODEL", None,
        "The judge's model: a model name for RAG_JUDGE=openai (default RAG_OPENAI_MODEL), a "
        ".gguf path for RAG_JUDGE=local (default RAG_LOCAL_MODEL).")

    # --- surfaces
    host: str = _env("RAG_HOST", "127.0.0.1", "Address `rag serve` and `rag chat` listen on.")
    port: int = _env("RAG_PORT", 7860, "Port `rag serve` and `rag chat` listen on.",
                     ge=1, le=65535)
    api_token: str | None = _env("RAG_API_TOKEN", None,
                                 "Bearer token required by the API and widget when set.")
    cors_origins: str = _env("RAG_CORS_ORIGINS", "",
                             "Comma-separated origins allowed by CORS (none by default).")
    max_question_chars: int = _env("RAG_MAX_QUESTION_CHARS", 2000,
                                   "Longest question accepted.", ge=10)
    rate_limit: int = _env("RAG_RATE_LIMIT", 60, "Requests per minute per client (0: off); "
                           "the API, the chat and the widget each have their own budget.", ge=0)
    trusted_proxies: str = _env(
        "RAG_TRUSTED_PROXIES", "",
        "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is "
        "believed (none by default: the client is the connecting address).")
    feedback_db: Path | None = _env("RAG_FEEDBACK_DB", None,
                                    "SQLite file for thumbs up/down; default inside the store.")

    @field_validator("store_dir", "embed_model_path", "local_model", "feedback_db", "model_cache",
                     "scripted_replies", mode="after")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return v.expanduser() if v is not None else None

    @property
    def answer_backend(self) -> str:
        """The backend `auto` resolves to."""
        if self.llm != "auto":
            return self.llm
        if self.openai_api_key:
            return "openai"
        if self.local_model:
            return "local"
        return "extractive"

    @property
    def context_budget(self) -> int:
        """RAG_CONTEXT_TOKENS, or the backend's default, chosen from the budget curve in the
        README: extractive EXTRACTIVE_CONTEXT, an OpenAI-compatible model LLM_CONTEXT, an
        in-process model 60% of what its window leaves after the answer and the rules."""
        if self.context_tokens is not None:
            return self.context_tokens
        backend = self.answer_backend
        if backend == "extractive":
            return EXTRACTIVE_CONTEXT
        if backend == "local":
            # The budget counts article text; the prompt adds a sentence id to every line
            # and a header to every passage (up to half as much again), and the rules.
            room = self.llm_context - self.llm_max_tokens - 600
            return max(300, min(LLM_CONTEXT, int(room * 0.6)))
        return LLM_CONTEXT

    @property
    def feedback_path(self) -> Path:
        return self.feedback_db or self.store_dir / "feedback.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Read Settings from the environment and `.env`; a bad value raises ConfigError
    naming the variable and what it expected."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            info = Settings.model_fields.get(field)
            alias = info.validation_alias if info else None
            name = alias.choices[0] if isinstance(alias, AliasChoices) else field
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("bad setting: " + "; ".join(problems)) from None


def env_names() -> dict[str, tuple[object, str]]:
    """Every environment variable Settings reads, with its default and help."""
    out: dict[str, tuple[object, str]] = {}
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        assert isinstance(alias, AliasChoices)
        out[str(alias.choices[0])] = (info.default, info.description or "")
    return out
