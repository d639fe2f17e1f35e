"""Loss attribution for a replayed LLM run: which replies were right, and which right replies
the product lost, and where (gate, grounding, renumbering).

    python -m evals.losses REPORT.json REPLIES_DIR

REPLIES_DIR holds the replay's `requests.jsonl` ({key, messages}: the product's prompts as
recorded) and `replies.jsonl` ({key, reply}: what the model wrote for each). A reply is
judged by the set's own rule: for an answerable question, every `must_include` pattern in
it and no refusal; for an unanswerable one, a refusal.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.metrics import answer_pass_rate
from rag.answer.llm.grounding import is_refusal
from rag.text import split_sentences

_QUESTION = re.compile(r"^Question: (.*)$", re.M)


@dataclass(frozen=True)
class Loss:
    id: str
    cause: str  # "gate", "grounding", "renumbering", "partial answer shown"
    reply: str
    answer: str


def reply_right(reply: str, item: Mapping[str, Any]) -> bool:
    """Would the reply, shown as written, be a right answer by the set's rule?

    Example: reply_right("I cannot find this in the articles.", {"answerable": False})
    """
    refused = is_refusal(reply) and not re.search(r"\[\d", reply)  # cites nothing
    if not item["answerable"]:
        return refused
    return not refused and answer_pass_rate(reply, item.get("must_include", [])) == 1.0


def attribute(items: list[Mapping[str, Any]], prompts: Mapping[str, str],
              replies: Mapping[str, str]) -> tuple[int, int, list[Loss]]:
    """(replies right, of those the final answers kept, the losses with their causes).
    A question is matched to its answer prompt by the standalone question the prompt asks;
    an unanswerable question the gate refused before the model is not counted.

    Example: attribute([], {}, {}) == (0, 0, [])
    """
    right = kept = 0
    losses: list[Loss] = []
    for item in items:
        key = prompts.get(item["standalone_question"])
        reply = replies.get(key or "")
        if key is None:  # never reached the model: the refusal gate stopped it
            if not item["answerable"] and item["refused"]:
                continue  # rightly: no reply to judge
            cause = "gate"
            reply = ""
        elif reply is None:
            cause = "no reply"
        else:
            cause = ""
        if not reply or not reply_right(reply, item):
            if cause == "gate" and item["answerable"]:
                losses.append(Loss(item["id"], cause, "", item["answer"]))
            continue
        right += 1
        if item["scores"]["answer_pass_rate"] == 1.0 or (
                not item["answerable"] and item["refused"]):
            kept += 1
            continue
        if bool(item["unsupported"]) or item["refused"]:
            cause = "grounding"
        elif not item["answerable"] and any(is_refusal(s.text)
                                             for s in split_sentences(item["answer"])):
            # The model said what the passages do say and what they do not; the product
            # keeps that as a partial answer, which the set scores as not refusing.
            cause = "partial answer shown"
        else:
            cause = "renumbering"
        losses.append(Loss(item["id"], cause, reply, item["answer"]))
    return right, kept, losses


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.losses", description=__doc__)
    p.add_argument("report", type=Path)
    p.add_argument("replies_dir", type=Path)
    args = p.parse_args(argv)
    items = json.loads(args.report.read_text())["items"]
    prompts: dict[str, str] = {}
    for row in _jsonl(args.replies_dir / "requests.jsonl"):
        m = _QUESTION.search(row["messages"][-1]["content"])
        if m:
            prompts[m.group(1).strip()] = row["key"]
    replies = {r["key"]: r["reply"] for r in _jsonl(args.replies_dir / "replies.jsonl")}
    right, kept, losses = attribute(items, prompts, replies)
    print(f"replies right: {right} of {len(items)}; kept by the final answers: {kept} "
          f"({kept / right:.1%})" if right else "no right replies")
    for loss in losses:
        print(f"- {loss.id}: lost at {loss.cause}\n  reply:  {loss.reply[:300]}\n"
              f"  answer: {loss.answer[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
