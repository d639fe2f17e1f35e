"""The `support` judge: which sentences are claims, which need a model, and `rag eval
--judge` end to end against real models: SmolLM2 in-process (RAG_JUDGE=local) and behind
xllamacpp's OpenAI-compatible server on loopback (RAG_JUDGE=openai)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from evals.judge import Claim, LLMJudge, cited_claims, is_verbatim, parse_verdict, support
from rag.settings import load_settings
from rag.types import Answer, Citation
from tests.conftest import SAMPLE, SEED
from tests.test_eval_run import rag


def citation(n: int, quote: str) -> Citation:
    return Citation(n=n, article_id=f"a{n}", chunk_id=f"a{n}:0", title="T", url="",
                    quote=quote, start=0, end=len(quote), source="")


QUOTE_1 = "Qatari mediators hoped to resolve the fate of the remaining 97 hostages held in Gaza."
QUOTE_2 = "Netanyahu informed relatives of 129 remaining captives in Gaza."


def answer(text: str, *quotes: str, refused: bool = False) -> Answer:
    return Answer(question="q", standalone_question="q", answer=text, refused=refused,
                  backend="test", citations=[citation(n, q) for n, q in enumerate(quotes, 1)])


def test_claims_are_the_cited_sentences_with_their_quotes() -> None:
    a = answer("The sources give different figures. One report: " + QUOTE_1 + " [1] Another "
               "report: " + QUOTE_2 + " [2] Some say 100 hostages remain [1, 2].",
               QUOTE_1, QUOTE_2)
    claims = cited_claims(a)
    # The connective has no citation: it is not a claim. A marker after the full stop
    # belongs to the sentence before it.
    assert [c.citations for c in claims] == [(1,), (2,), (1, 2)]
    assert claims[0].sentence == "One report: " + QUOTE_1
    assert claims[2].sentence == "Some say 100 hostages remain."
    assert claims[2].quotes == (QUOTE_1, QUOTE_2)
    assert cited_claims(answer("I cannot find this in the articles.", refused=True)) == []


def test_a_claim_in_its_quotes_own_words_is_entailed_without_a_model() -> None:
    assert is_verbatim(Claim("Reuters: “" + QUOTE_1 + "”", (1,), (QUOTE_1,), ("Reuters",)))
    assert is_verbatim(Claim("One report: " + QUOTE_1, (1,), (QUOTE_1,)))
    two = "No one was killed in the strike. Officials met on Monday."
    assert is_verbatim(Claim("Officials met on Monday.", (1,), (two,)))  # a whole sentence
    # Anything less than whole sentences of one quote needs a judge: a changed figure, a
    # dropped "No", a word cut in half, words from two quotes, another speaker's name.
    assert not is_verbatim(Claim(QUOTE_1.replace("97", "500"), (1,), (QUOTE_1,)))
    assert not is_verbatim(Claim("One was killed in the strike.", (1,), (two,)))
    assert not is_verbatim(Claim("ran fired missiles at the base.", (1,),
                                 ("Iran fired missiles at the base.",)))
    assert not is_verbatim(Claim("held in Gaza. Netanyahu informed relatives", (1, 2),
                                 (QUOTE_1, QUOTE_2)))
    assert not is_verbatim(Claim("Netanyahu: " + QUOTE_1, (1,), (QUOTE_1,), ("Reuters",)))
    assert not is_verbatim(Claim("Gaza.", (1,), (QUOTE_1,)))  # too short to say anything


def test_verdicts_and_the_support_score() -> None:
    assert parse_verdict("Yes.") and parse_verdict("yes, it does")
    assert parse_verdict("No, the date is not in the evidence") is False
    assert parse_verdict("Not supported.") is False and parse_verdict("Not true") is False
    assert parse_verdict("<think>") is None  # unreadable: left out, not counted either way
    from evals.judge import Check

    checks = [Check("a", (1,), True, "", "verbatim"), Check("b", (1,), False, "no", "j"),
              Check("c", (2,), None, "judge failed: timeout", "j")]
    assert support(checks) == 0.5  # a failed call is left out, not counted either way
    assert support(checks[2:]) is None and support([]) is None


@pytest.mark.llm
def test_a_real_judge_does_not_count_a_fabricated_figure_as_supported(model: Path) -> None:
    judge = LLMJudge(load_settings(judge="local", judge_model=str(model), llm_context=2048))
    fabricated = answer("Qatari mediators freed 500 hostages held in Gaza [1].", QUOTE_1)
    checks = judge.check_answer(fabricated)
    assert len(checks) == 1 and checks[0].by == "local:" + model.name
    assert checks[0].entailed is False  # an explicit no: an unreadable reply would be None
    copied = judge.check_answer(answer(QUOTE_1 + " [1]", QUOTE_1))
    assert [(c.entailed, c.by) for c in copied] == [(True, "verbatim")]


@pytest.mark.llm
def test_rag_eval_with_a_judge_behind_an_openai_compatible_server(
        tmp_path: Path, openai_compatible_server: str) -> None:
    out = tmp_path / "out"
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--out", str(out), "--limit", "5",
               "--llm", "extractive", "--judge", "openai", cwd=tmp_path,
               OPENAI_BASE_URL=openai_compatible_server, RAG_JUDGE_MODEL="smollm2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert report["config"]["judge"] == "openai:smollm2"
    assert report["metrics"]["support"] is not None
    row = next(line for line in proc.stdout.splitlines() if line.startswith("support"))
    assert "n/a" not in row.split()[1]
    for it in report["items"]:
        checks = it["support_checks"]
        if it["refused"]:
            assert checks == [] and it["scores"]["support"] is None
            continue
        assert checks, it["id"]  # every answered question had its cited sentences judged
        decided = [c["entailed"] for c in checks if c["entailed"] is not None]
        assert it["scores"]["support"] == round(sum(decided) / len(decided), 4)
    md = (out / "report.md").read_text()
    assert "`support` judged by `openai:smollm2`" in md


@pytest.mark.llm
def test_a_judge_behind_an_openai_compatible_server_reads_each_claim(
        openai_compatible_server: str) -> None:
    judge = LLMJudge(load_settings(judge="openai", openai_base_url=openai_compatible_server,
                                   judge_model="smollm2"))
    paraphrase = answer("Qatar still hopes to free 97 hostages [1]. Netanyahu told families "
                        "of 129 captives about Mossad [2].", QUOTE_1, QUOTE_2)
    checks = judge.check_answer(paraphrase)
    assert [c.citations for c in checks] == [(1,), (2,)]
    assert all(c.by == "openai:smollm2" and c.entailed is not None for c in checks), checks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_judge_that_cannot_answer_stops_the_run_before_any_question(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--out", str(tmp_path / "out"),
               "--judge", "openai", cwd=tmp_path, OPENAI_BASE_URL=url, RAG_LLM_TIMEOUT="5")
    assert proc.returncode == 1
    assert "RAG_JUDGE=openai" in proc.stderr and "cannot reach" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
    proc = rag("eval", str(SEED), "--docs", str(SAMPLE), "--judge", "local", cwd=tmp_path)
    assert proc.returncode == 1
    assert "RAG_JUDGE=local needs RAG_JUDGE_MODEL" in proc.stderr
