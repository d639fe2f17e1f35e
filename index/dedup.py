"""Near-duplicate detection: wire copies of one story with small edits.

Candidates come from the store's article embeddings (nearest neighbours), so the check
stays cheap as the collection grows; the verdict is word-shingle Jaccard similarity.
"""

from __future__ import annotations

from rag.text import words


def shingles(text: str, size: int = 5) -> set[int]:
    """Hashes of every run of `size` words.

    Example: len(shingles("a b c d e f", 5)) == 2
    """
    toks = words(text)
    if len(toks) < size:
        return {hash(tuple(toks))} if toks else set()
    return {hash(tuple(toks[i:i + size])) for i in range(len(toks) - size + 1)}


def jaccard(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / |a ∪ b| (0 for two empty sets).

    Example: jaccard({1, 2}, {2, 3}) == 1 / 3
    """
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def containment(a: set[int], b: set[int]) -> float:
    """Share of the smaller set found in the larger: a trimmed copy still counts.

    Example: containment({1, 2}, {1, 2, 3, 4}) == 1.0
    """
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
