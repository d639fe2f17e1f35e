"""What a store holds, without loading the embedding model."""

from __future__ import annotations

from typing import Any

from rag.errors import EmptyStoreError
from rag.retrieve.store import Store
from rag.settings import Settings


def store_stats(settings: Settings) -> dict[str, Any]:
    """`articles`, `chunks`, `embed_model`, `store`, `bytes` of the configured store."""
    store = Store(settings)
    model = store.recorded_model()
    if model is None:
        raise EmptyStoreError(f"the store at {store.location} is empty: run `rag ingest PATH`")
    meta = store.client.get_collection(settings.collection, embedding_function=None).metadata
    store.bind(model, int((meta or {}).get("embed_dim", 0)))
    return {"articles": store.count_articles(), "chunks": store.count_chunks(),
            "embed_model": model, "store": store.location, "bytes": store.size_bytes()}
