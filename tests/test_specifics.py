"""What a question pins down that its answer must share: its figures, the part of a place it
names, the thing a typed question asks about. The fitted scorer reads each as a feature
(rag/answer/extractive/scorer.py): a sentence that differs in one answers another question."""

from __future__ import annotations

import pytest

from rag.answer.language.question import analyse
from rag.answer.language.specifics import compass_clash, figures, missing_figures, pinned_terms


@pytest.mark.parametrize(("text", "expected"), [
    ("Python 3.12 is 20% faster", ["3.12", "20"]),
    ("1,580 people on the 11th trip", ["1580", "11"]),
    ("the Oct. 7 attack in 2023", ["7", "2023"]),
    ("in the 1990s", ["1990"]),
    ("no figures here, G7 and F-16 aside", ["16"]),
])
def test_figures_are_read_as_written_in_digits(text: str, expected: list[str]) -> None:
    assert figures(text) == expected


@pytest.mark.parametrize(("question", "text", "missing"), [
    ("how much faster is python 3.12 than 3.11", "CPython 3.11 is 25% faster than 3.10",
     ["3.12"]),
    ("what changed in python 3", "Python 3.11 is faster", []),  # 3.11 is a Python 3
    ("blinken's 11th trip", "his eleventh trip to the region", []),
    ("who won in 2024", "The 2023 war", ["2024"]),
    ("how many were killed on oct 7", "On October 7, 1,200 were killed", []),
])
def test_a_figure_the_question_names_must_be_given(question: str, text: str,
                                                    missing: list[str]) -> None:
    assert missing_figures(question, text) == missing


@pytest.mark.parametrize(("question", "text", "clash"), [
    ("strike on a school in northern gaza", "a strike killed 17 people in central Gaza", True),
    ("what did lazzarini say about southern gaza", "In northern Gaza, people wait.", True),
    ("strike in northern gaza", "North Gaza was hit again", False),
    ("strike in northern gaza", "Strikes hit central Gaza and northern Gaza", False),
    ("strike in northern gaza", "A strike hit Gaza", False),  # no part named: no clash
    ("why do western allies worry", "Western allies met", False),
])
def test_another_part_of_the_place_is_another_event(question: str, text: str,
                                                     clash: bool) -> None:
    assert compass_clash(question, text) is clash


@pytest.mark.parametrize(("question", "terms"), [
    ("who funds the pypy project", ["pypy", "project"]),
    ("how many aid trucks entered gaza", []),  # counted as "a convoy of 40" maybe
    ("who is the us envoy who went to beirut", ["envoy"]),  # not the relative clause
    ("which countries are mediating", []),  # the kind of answer, not its subject
    ("how many people died", []),
    ("why did gantz quit", []),  # open types pin nothing
])
def test_a_typed_question_pins_what_it_asks_about(question: str, terms: list[str]) -> None:
    assert pinned_terms(analyse(question)) == terms
