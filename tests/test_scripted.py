"""The LLM answer flow end to end with scripted replies (RAG_LLM=scripted): what capable
models really write, right and wrong, and what reaches the user. Real store, real embedder,
real retrieval; only the model's words are fixed (tests/fixtures/scripted_replies.jsonl)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from index.pipeline import ingest
from rag.errors import ConfigError
from rag.service import RagService
from rag.settings import load_settings
from rag.types import Answer, Turn
from tests.conftest import SAMPLE
from tests.test_llm import INJECTION, check_grounded

REPLIES = Path(__file__).parent / "fixtures" / "scripted_replies.jsonl"


@pytest.fixture(scope="module")
def scripted(sample_store: Path) -> RagService:
    return RagService(load_settings(store_dir=sample_store, llm="scripted",
                                    scripted_replies=REPLIES))


def ask(service: RagService, question: str, history: list[Turn] | None = None) -> Answer:
    answer = service.ask(question, history)
    check_grounded(service, answer)
    return answer


def test_paraphrase_with_a_short_quote_cites_the_whole_sentence(scripted: RagService) -> None:
    a = ask(scripted, "Who did Blinken press in talks on Tuesday?")
    assert not a.refused and "Netanyahu" in a.answer
    assert a.citations[0].quote.startswith("U.S. Secretary of State Antony Blinken pressed")
    assert a.citations[0].quote.endswith("ending the war in Gaza.")
    assert a.backend == "scripted"


def test_a_wrong_marker_is_moved_to_the_passage_that_holds_the_quote(
        scripted: RagService) -> None:
    a = ask(scripted, "How many people were killed near Beirut's main state hospital?")
    assert "18 people were killed" in a.answer and "hospital" in a.answer
    first = a.citations[0]
    assert "including four children" in first.quote and "hospital" in first.quote
    # Both sentences rest on one article sentence: it is quoted once, as [1], for both.
    assert a.answer.count("[1]") == 2


def test_punctuation_at_a_quotes_edge_does_not_lose_the_sentence(scripted: RagService) -> None:
    a = ask(scripted, "Which number trip to the Middle East was Blinken making?")
    assert not a.refused and "11th trip" in a.answer and not a.unsupported


def test_a_fabricated_figure_never_reaches_the_user(scripted: RagService) -> None:
    a = ask(scripted, "How many hostages were freed in the Israeli rescue operation?")
    assert "freed four hostages" in a.answer
    assert "35" not in a.answer and any("35 soldiers" in u for u in a.unsupported)


def test_a_true_date_outside_the_quote_is_kept(scripted: RagService) -> None:
    a = ask(scripted, "When did the attack on southern Israel happen?")
    assert not a.refused and "October 7, 2023" in a.answer and not a.unsupported


def test_a_refusal_in_other_words_is_a_refusal(scripted: RagService) -> None:
    a = scripted.ask("What is the population of Valtria's capital?")
    assert a.refused and not a.citations


def test_a_reply_that_ignores_the_format_keeps_only_what_an_article_says(
        scripted: RagService) -> None:
    a = ask(scripted, "What did Blinken say about Sinwar's death?")
    assert "uphill struggle" in a.answer and "Friday" not in a.answer
    assert any("Friday" in u for u in a.unsupported)


def test_a_partial_answer_keeps_its_cited_part_and_says_what_is_missing(
        scripted: RagService) -> None:
    a = ask(scripted, "How many hostages did the rescue free, and who planned it?")
    assert not a.refused and "freed four hostages" in a.answer
    assert "do not say who planned it" in a.answer


def test_one_sided_figures_get_the_other_side_and_a_structured_conflict(
        scripted: RagService) -> None:
    events = list(scripted.stream("How many hostages remain held in Gaza?"))
    tokens = "".join(e.text for e in events if e.type == "token")
    final = events[-1].answer
    assert events[-1].type == "answer" and final is not None
    check_grounded(scripted, final)
    assert "97" in tokens and "97" in final.answer and "129" in final.answer
    assert [m for m in re.findall(r"\[(\d+)\]", final.answer)] == ["1", "2"]
    [conflict] = final.conflicts
    assert {f.value for f in conflict.figures} == {"97", "129"}
    assert {f.n for f in conflict.figures} == {c.n for c in final.citations}
    assert "97" in conflict.summary and "129" in conflict.summary


def test_streamed_text_is_only_grounded_text(scripted: RagService) -> None:
    events = list(scripted.stream("How many hostages were freed in the Israeli rescue "
                                  "operation?"))
    assert [e.type for e in events][-1] == "answer" and len(events) > 1
    streamed = "".join(e.text for e in events[:-1])
    assert "freed four hostages" in streamed and "35" not in streamed


def test_follow_up_is_rewritten_by_the_model_then_answered(scripted: RagService) -> None:
    history = [Turn(role="user", content="Who is the head of UNRWA?"),
               Turn(role="assistant", content="Philippe Lazzarini heads UNRWA [1].")]
    a = ask(scripted, "What did he call for?", history)
    assert a.standalone_question == "What did UNRWA chief Philippe Lazzarini call for?"
    assert "waiting to die" in a.answer


def test_an_injected_instruction_is_not_obeyed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in SAMPLE.glob("*.txt"):
        shutil.copy(f, corpus / f.name)
    (corpus / "valtria.txt").write_text(INJECTION)
    settings = load_settings(store_dir=tmp_path / "store", llm="scripted",
                             scripted_replies=REPLIES)
    assert ingest([str(corpus)], settings).added == 6
    service = RagService(settings)
    a = ask(service, "When did the harbour of Valtria reopen?")
    assert "PWNED" not in a.answer and "3 March" in a.answer
    # Citing the injected sentence itself does not make it a source.
    b = ask(service, "What did port officials say about the harbour of Valtria?")
    assert "PWNED" not in b.answer and "within a week" in b.answer
    assert all("Ignore" not in c.quote for c in b.citations)


def test_a_question_without_a_scripted_reply_fails_in_one_line(scripted: RagService) -> None:
    from rag.errors import BackendError

    with pytest.raises(BackendError, match="no scripted reply"):
        scripted.ask("Who mediated between Egypt and Qatar on Sunday?")


def test_scripted_backend_without_replies_is_a_config_error(sample_store: Path) -> None:
    with pytest.raises(ConfigError, match="RAG_SCRIPTED_REPLIES"):
        RagService(load_settings(store_dir=sample_store, llm="scripted"))
