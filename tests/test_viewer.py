"""The pure pieces behind the surfaces: links, text fragments, signatures, the chat's HTML,
the rate limiter and the feedback store."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import InputError
from rag.types import Answer, Article, Citation, Conflict, ConflictFigure
from ui import html
from ui.answers import word_chunks
from ui.feedback import FeedbackStore, parse_vote
from ui.guards import RateLimiter, token_ok
from ui.viewer import link_signature, render_article, text_fragment_url, viewer_path

HOSTILE = '<img src=x onerror="alert(1)"> <script>alert(2)</script>'


def citation(**kw: object) -> Citation:
    base: dict[str, object] = dict(n=1, article_id="a1", chunk_id="a1-0", title="T",
                                   source="", url="/data/x.txt", quote="q", start=0, end=1)
    return Citation(**{**base, **kw})  # type: ignore[arg-type]


def test_viewer_path_and_signature() -> None:
    assert viewer_path("a1", 3, 9) == "/articles/a1?start=3&end=9#quote"
    assert viewer_path("a1") == "/articles/a1"
    signed = viewer_path("a1", 3, 9, token="t")
    assert signed == f"/articles/a1?start=3&end=9&sig={link_signature('t', 'a1', 3, 9)}#quote"
    assert link_signature("t", "a1", 3, 9) != link_signature("t", "a1", 3, 8)
    assert link_signature("t", "a1", 3, 9) != link_signature("u", "a1", 3, 9)
    assert token_ok(None, None) and token_ok("s", "s") and not token_ok("s", "S")


@pytest.mark.parametrize(("url", "quote", "expected"), [
    ("https://x.org/a#top", "A - b, c & d", "https://x.org/a#:~:text=A%20%2D%20b%2C%20c%20%26%20d"),
    ("http://x.org/a", "one two three four five six seven eight nine ten eleven twelve thirteen",
     "http://x.org/a#:~:text=one%20two%20three%20four%20five%20six,"
     "eight%20nine%20ten%20eleven%20twelve%20thirteen"),
    ("/data/x.txt", "anything", None),
    ("javascript:alert(1)", "anything", None),
])
def test_text_fragment_url(url: str, quote: str, expected: str | None) -> None:
    assert text_fragment_url(url, quote) == expected


def test_article_page_marks_the_span_and_escapes_everything() -> None:
    text = f"Intro. {HOSTILE} The quoted part. Tail."
    start = text.index("The quoted")
    art = Article(id="a1", text=text, title=HOSTILE, source=HOSTILE,
                  url="javascript:alert(3)", date="2024-01-01")
    page = render_article(art, start, start + len("The quoted part."))
    assert '<mark id="quote">The quoted part.</mark>' in page
    assert "<img" not in page and "<script" not in page and 'href="javascript' not in page
    assert page.count("&lt;script&gt;") == 4  # <title>, <h1>, the publisher, the text
    with pytest.raises(InputError):
        render_article(art, 5, 2)
    with pytest.raises(InputError):
        render_article(art, 0, None)


def test_chat_answer_html_links_markers_and_escapes_text() -> None:
    c = citation(title=HOSTILE, quote=HOSTILE)
    a = Answer(question="q", standalone_question="q", answer=f"{HOSTILE} [1] and [7].",
               refused=False, citations=[c], backend="extractive",
               conflicts=[Conflict(measure="<b>x</b>", figures=[
                   ConflictFigure(value="97", n=1, source="<b>Wire</b>"),
                   ConflictFigure(value="129", n=2, source="AP")])])
    out = html.answer(a)
    assert '<a class="rag-cite" href="/articles/a1?start=0&amp;end=1#quote"' in out
    assert "[7]" in out  # a marker without a citation stays text
    assert "<img" not in out and "<script" not in out and "<b>" not in out
    assert "\n" not in out  # one HTML block: Markdown never sees a blank line
    refused = Answer(question="q", standalone_question="q", answer="No <i>answer</i>.",
                     refused=True, backend="extractive")
    assert "Not in the articles" in html.answer(refused) and "<i>" not in html.answer(refused)
    panel = html.sources(a)
    assert "<img" not in panel and "&lt;script&gt;" in panel
    assert "x.txt" not in panel and "/data" not in panel  # no file name, no server path
    assert html.publisher(citation(url="/srv/data/x.txt")) == ""
    assert html.publisher(citation(url="https://news.example/a")) == "news.example"


def test_word_chunks_give_the_text_back() -> None:
    text = "  One two\nthree   four five. "
    assert "".join(word_chunks(text, 2)) == text
    assert list(word_chunks("a b c d", 2)) == ["a b ", "c d"]


def test_rate_limiter_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0])
    assert limiter.retry_after("a") == 0 and limiter.retry_after("a") == 0
    assert limiter.retry_after("a") == pytest.approx(60)
    assert limiter.retry_after("b") == 0  # per client
    now[0] = 60.5
    assert limiter.retry_after("a") == 0
    assert RateLimiter(0).retry_after("a") == 0  # 0 switches it off


def test_feedback_store_round_trip(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "deep" / "fb.sqlite3")
    assert store.rows() == []
    store.add(question="q", answer="a [1]", citations=[{"n": 1, "quote": "x"}], vote="up")
    store.add(question="q2", answer="b", citations=[], vote=parse_vote("Dislike"))
    rows = store.rows()
    assert [(r["question"], r["vote"]) for r in rows] == [("q", "up"), ("q2", "down")]
    assert rows[0]["citations"] == [{"n": 1, "quote": "x"}] and rows[0]["time"]
    with pytest.raises(InputError):
        parse_vote("maybe")


def test_a_long_first_sentence_title_is_cut_at_a_clause_with_an_ellipsis() -> None:
    from index.metadata import make_article

    sentence = ("U.S. Secretary of State Antony Blinken arrived in Israel this week as part of a "
                "renewed diplomatic push by Washington to secure a ceasefire in the region.")
    title = make_article(sentence + " More text.", origin="a.txt").title
    assert title.endswith("…") and len(title) <= 121
    assert sentence.startswith(title[:-1]) and sentence[len(title) - 1] in " ,"  # whole words
    assert title[:-1].split()[-1] not in ("to", "this", "the", "with", "a")
    clause = ("Amid ongoing escalations in Gaza, ceasefire negotiations between Israel and Hamas "
              "seem to be gaining traction, with both parties signalling an openness to a truce.")
    assert make_article(clause, origin="b.txt").title == (
        "Amid ongoing escalations in Gaza, ceasefire negotiations between Israel and Hamas "
        "seem to be gaining traction…")


def test_cli_link_points_into_the_file_at_the_quote(tmp_path: Path) -> None:
    from ui.render import link

    raw = "[Source: Reuters]\n\nFirst line.\nThe quoted\npart here. Tail."
    f = tmp_path / "a.txt"
    f.write_text(raw, encoding="utf-8")
    out = link(str(f), "The quoted part here.", 12)
    s = raw.index("The quoted")
    assert out == f"{f}:4:1 (characters {s}-{s + 21} of the file)"
    assert link("https://x.org/a", "A b", 0) == "https://x.org/a#:~:text=A%20b"
