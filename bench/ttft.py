"""Time to first token of the local llama.cpp backend (rag/answer/llm/clients.py) over a store,
run in its own process by bench.run (a stuck native model must not hang the benchmark).

    python -m bench.ttft STORE MODEL.gguf     # prints one JSON object
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import load, percentile

QUESTIONS = ("How many hostages remain held in Gaza?",
             "What did the head of UNRWA say about people in northern Gaza?",
             "Who did Blinken press in talks?",
             "What limited deal did Egyptian officials suggest?")


def measure(store: Path, gguf: Path) -> dict[str, Any]:
    from rag.service import RagService
    from rag.settings import load_settings

    t0 = time.perf_counter()
    svc = RagService(load_settings(store_dir=store, llm="local", local_model=gguf,
                                   llm_max_tokens=48))  # the first token is what counts
    rows: list[dict[str, Any]] = []
    for q in QUESTIONS:
        t1, first, n = time.perf_counter(), None, 0
        for event in svc.stream(q):
            if event.type == "token":
                n += 1
                first = first or time.perf_counter() - t1
        total = time.perf_counter() - t1
        rows.append({"ttft_s": round(first or total, 3), "total_s": round(total, 3),
                     "tokens": n, "load": load()})
    return {"model": gguf.name, "service_load_s": round(time.perf_counter() - t0, 3),
            "first_is_cold": rows[0], "warm": rows[1:],
            "ttft_p50_s": percentile([r["ttft_s"] for r in rows[1:]], 50)}


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), Path(sys.argv[2]))))
