"""Loss attribution for replayed runs: a right reply the product lost is named with where it
was lost; a wrong reply is not the product's loss."""

from __future__ import annotations

from typing import Any

from evals.losses import attribute, reply_right


def item(id_: str, answerable: bool, answer: str, passed: float | None, refused: bool = False,
         unsupported: tuple[str, ...] = (), must: tuple[str, ...] = ("97",)) -> dict[str, Any]:
    return {"id": id_, "answerable": answerable, "standalone_question": f"q {id_}?",
            "must_include": list(must), "answer": answer, "refused": refused,
            "unsupported": list(unsupported), "scores": {"answer_pass_rate": passed}}


PROMPTS = {f"q {x}?": f"k{x}" for x in ("kept", "ground", "partial", "wrong", "order")}
REPLIES = {"kkept": "97 hostages remain [1.2].", "kground": "97 hostages remain [1.2].",
           "kpartial": "They went to Europe [1.4]. The passages do not name a city.",
           "kwrong": "About 50 remain [1.1].", "korder": "97 remain [1.1]."}


def test_each_right_reply_lost_is_named_with_its_cause() -> None:
    items = [
        item("kept", True, "97 hostages remain [1].", 1.0),
        item("ground", True, "The articles do not contain an answer.", 0.0, refused=True,
             unsupported=("97 hostages remain.",)),
        item("partial", False, "They went to Europe [1]. The passages do not name a city.",
             None),
        item("wrong", True, "About 50 remain [1].", 0.0),  # the model was wrong: not a loss
        item("order", True, "Some remain [1].", 0.0),
        item("gated", True, "The articles do not contain an answer.", 0.0, refused=True),
        # rightly refused before the model: no reply to judge, no loss
        item("unasked", False, "The articles do not contain an answer.", None, refused=True),
    ]
    right, kept, losses = attribute(items, PROMPTS, REPLIES)
    # The partial reply to an unanswerable question cites what the passages hold: by the
    # set's rule it does not refuse, so it is the model's miss, shown as written.
    assert (right, kept) == (3, 1)
    assert [(x.id, x.cause) for x in losses] == [
        ("ground", "grounding"), ("order", "renumbering"), ("gated", "gate")]


def test_a_reply_is_judged_by_the_sets_rule() -> None:
    assert reply_right("I cannot find this in the articles.", {"answerable": False})
    assert not reply_right("I cannot find this in the articles.",
                           {"answerable": True, "must_include": ["97"]})
    assert reply_right("97 or 129 [1.1, 2.3].", {"answerable": True, "must_include": ["97"]})
    # an answer that also says what is missing is still an answer
    assert reply_right("Killed on Sept. 27 [1.2]; the passages give no more details.",
                       {"answerable": True, "must_include": ["27"]})
