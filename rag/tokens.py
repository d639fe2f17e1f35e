"""tiktoken without a network: llama-index-core ships the cl100k/o200k files; point tiktoken
at them (as llama-index's own get_tokenizer does) without importing llama-index itself."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=2)
def encoding(name: str = "cl100k_base") -> Any:
    import tiktoken

    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        spec = importlib.util.find_spec("llama_index.core")
        if spec and spec.origin:
            cache = Path(spec.origin).parent / "_static" / "tiktoken_cache"
            if cache.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return tiktoken.get_encoding(name)


def tiktoken_len(text: str) -> int:
    """Length in cl100k tokens.

    Example: tiktoken_len("hello world") == 2
    """
    return len(encoding().encode(text, disallowed_special=()))


def is_common_word(word: str) -> bool:
    """Is the lowercase word one token of cl100k (after a space), as common English words
    are? "reader" is; a typo such as "hezbolah" is not.

    Example: is_common_word("reader") and not is_common_word("hezbolah")
    """
    return len(encoding().encode(" " + word.lower(), disallowed_special=())) == 1
