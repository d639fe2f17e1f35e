"""The deterministic follow-up rewrite (rag/answer/condense.py): every pronoun class, with
conversations as the chat keeps them (lists of Turn)."""

from __future__ import annotations

import pytest

from rag.answer.condense import needs_context, rewrite
from rag.types import Turn


def user(text: str) -> Turn:
    return Turn(role="user", content=text)


def bot(text: str) -> Turn:
    return Turn(role="assistant", content=text)


SINWAR_TURN = [user("Who killed Yahya Sinwar?"),
               bot("The progress comes as the United States expressed hope that the recent "
                   "killing of Hamas leader Yahya Sinwar could help facilitate an agreement. [1]")]
UNRWA_TURN = [user("Who is the head of UNRWA?"),
              bot("Philippe Lazzarini heads the United Nations Relief and Works Agency "
                  "(UNRWA).")]

# follow-up, conversation so far, standalone question
CASES = [
    # his: the person the previous question was about, not the first name in the answer
    ("What was his role in Hamas?", SINWAR_TURN, "What was Yahya Sinwar's role in Hamas?"),
    # he: a who-question about a role binds to the person its answer names ...
    ("What did he call for?", UNRWA_TURN, "What did Philippe Lazzarini call for?"),
    ("What did he say?", [user("Who leads UNRWA?"), bot("Philippe Lazzarini.")],
     "What did Philippe Lazzarini say?"),
    # ... and to the role as asked when there is no answer yet
    ("What did he call for?", [user("Who is the head of UNRWA?")],
     "What did the head of UNRWA call for?"),
    # he/his after a lowercase "who is" question: its subject is the person
    ("where did he go recently, and why?", [user("who is amos hochstein")],
     "where did amos hochstein go recently, and why?"),
    ("did his mediation in beirut get anywhere", [user("Who is Amos Hochstein?")],
     "did Amos Hochstein's mediation in beirut get anywhere"),
    # his: a person named in an earlier question, even with other names in the follow-up
    ("What did Israeli forces accuse Hezbollah of hiding in his hospital?",
     [user("Who is Mazen Alame?"), bot("He is the director of the Sahel General Hospital.")],
     "What did Israeli forces accuse Hezbollah of hiding in Mazen Alame's hospital?"),
    # she: no gender data, the last person
    ("What did she say?", UNRWA_TURN, "What did Philippe Lazzarini say?"),
    # her (possessive) and her/him (object)
    ("What did her agency say?", UNRWA_TURN, "What did Philippe Lazzarini's agency say?"),
    ("Who met her in Gaza?", UNRWA_TURN, "Who met Philippe Lazzarini in Gaza?"),
    ("Who met him in Cairo?",
     [user("Where did Blinken begin his eighth trip?"),
      bot("Blinken met Egyptian President Abdel Fattah el-Sissi in Cairo.")],
     "Who met Blinken in Cairo?"),
    # it/its: the previous question's subject when it is not a person
    ("Who leads it?", [user("What is UNRWA?")], "Who leads UNRWA?"),
    ("Who attacked it?", [user("What happened to Netanyahu's holiday home?")],
     "Who attacked Netanyahu's holiday home?"),
    ("and its leader?", [user("what did hezbollah claim")], "and hezbollah's leader?"),
    # its: the country a which-country question's answer names (a demonym counts)
    ("What is its capital?", [user("Which country hosted the talks?"),
                              bot("Qatari mediators met in Doha.")], "What is Qatar's capital?"),
    # it/they after a turn about a person: the organisation or country, not the person;
    # "it" (the killing) stays unbound, so the last question goes alongside
    ("Why did they do it?", SINWAR_TURN, "Why did United States do it? (about: Who killed Yahya "
                                         "Sinwar?)"),
    # they/their
    ("What did they demand?", [user("What did Hamas say about the ceasefire?")],
     "What did Hamas demand?"),
    ("What are their conditions?", [user("What did Hamas say about the ceasefire?")],
     "What are Hamas' conditions?"),
    # them: the counted thing of a quantity question; "it" is bound inside the question
    ("When did Hamas say it would release them?", [user("How many hostages are still held?")],
     "When did Hamas say it would release hostages?"),
    # they and him in one question: one name each
    ("What did they ask him?", [user("What did Hamas demand from Blinken?")],
     "What did Hamas ask Blinken?"),
    # "that X": the earlier phrase with its capitalised words
    ("How many members did that cabinet have?", [user("Who resigned from the War Cabinet?")],
     "How many members did the War Cabinet have?"),
    # nothing to bind: left alone
    ("How many hostages are held?", [user("Who is Benny Gantz?")],
     "How many hostages are held?"),
    ("What did Netanyahu say about his cabinet?", [user("Who is Benny Gantz?")],
     "What did Netanyahu say about his cabinet?"),
    ("Is it true that talks resumed?", [user("What did Blinken say?")],
     "Is it true that talks resumed?"),
    ("What did he say?", [], "What did he say?"),
    # a demonym is no referent: "it" is the deal, which only the last question names
    ("how long would the ceasefire last under it",
     [user("what deal did egyptian officials suggest"),
      bot("A limited ceasefire-for-hostages deal.")],
     "how long would the ceasefire last under it (about: what deal did egyptian officials "
     "suggest)"),
    # a pronoun with no candidate keeps the last question alongside for retrieval
    ("What did he say?", [user("how many hostages are still held")],
     "What did he say? (about: how many hostages are still held)"),
]


@pytest.mark.parametrize(("question", "history", "standalone"), CASES)
def test_follow_up_rewrite(question: str, history: list[Turn], standalone: str) -> None:
    assert rewrite(question, history) == standalone


def test_table_covers_every_pronoun_class() -> None:
    import re

    used = {w.lower() for q, _h, _s in CASES
            for w in re.findall(r"\b(he|she|him|his|her|it|its|they|them|their)\b", q, re.I)}
    assert used == {"he", "she", "him", "his", "her", "it", "its", "they", "them", "their"}


@pytest.mark.parametrize(("question", "needs"), [
    ("What did he call for?", True),
    ("What are their conditions?", True),
    ("How many members did that cabinet have?", True),
    ("What did Netanyahu say about his cabinet?", False),
    ("Did Hamas say when it would release hostages?", False),
    ("Is it true that talks resumed?", False),
    ("How many hostages are held?", False),
])
def test_needs_context(question: str, needs: bool) -> None:
    assert needs_context(question) == needs
