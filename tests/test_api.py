"""The HTTP API in-process (httpx over ASGI): answers, the SSE stream, the article viewer,
the error shape, token, rate and size limits, CORS, and hostile articles kept inert."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from tests.ui_fixtures import (  # noqa: F401  (fixtures)
    WEB_QUESTION,
    XSS_IMG,
    XSS_QUESTION,
    XSS_SCRIPT,
    sse_events,
    surface_settings,
    xss_service,
    xss_store,
)
from ui.api import create_app
from ui.feedback import FeedbackStore

QUESTION = "How many hostages remain held in Gaza?"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_client(request: pytest.FixtureRequest, service: Any, sample_store: Path,
                tmp_path: Path) -> Callable[..., httpx.AsyncClient]:
    """An httpx client on a fresh app over the sample store (or, `hostile=True`, the store
    of hostile articles); settings by keyword."""

    def make(hostile: bool = False, **overrides: object) -> httpx.AsyncClient:
        store = request.getfixturevalue("xss_store") if hostile else sample_store
        svc = request.getfixturevalue("xss_service") if hostile else service
        settings = surface_settings(store, tmp_path, **overrides)
        app = create_app(settings, svc)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver")

    return make


def assert_error(r: httpx.Response, status: int, contains: str = "") -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["ok"] is False and body["status"] == status and isinstance(body["error"], str)
    assert set(body) == {"ok", "error", "status"}
    assert contains.lower() in body["error"].lower()
    return body


# --- answers ---------------------------------------------------------------------------------
async def test_ask_returns_a_cited_answer_whose_quotes_are_in_their_articles(
        make_client: Any, service: Any) -> None:
    r = await make_client().post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["question"] == QUESTION and not answer["refused"]
    assert answer["citations"], answer
    for c in answer["citations"]:
        assert f"[{c['n']}]" in answer["answer"]
        article = service.article(c["article_id"])
        assert article.text[c["start"]:c["end"]] == c["quote"]
        assert c["viewer_url"] == (f"http://testserver/articles/{c['article_id']}"
                                   f"?start={c['start']}&end={c['end']}#quote")


async def test_stream_sends_tokens_then_one_final_answer(make_client: Any) -> None:
    client = make_client()
    r = await client.post("/api/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names[-1] == "answer" and names.count("answer") == 1
    assert names.count("token") >= 2 and set(names) == {"token", "answer"}
    final = json.loads(events[-1][1])
    streamed = "".join(json.loads(d)["text"] for n, d in events if n == "token")
    assert streamed == final["answer"]
    plain = (await client.post("/api/ask", json={"question": QUESTION})).json()
    assert final["answer"] == plain["answer"] and final["citations"] == plain["citations"]


async def test_follow_up_uses_the_history_it_is_sent(make_client: Any) -> None:
    history = [{"role": "user", "content": QUESTION},
               {"role": "assistant", "content": "Figures differ: 97 or 129."}]
    r = await make_client().post("/api/ask", json={"question": "What did they say about it?",
                                                   "history": history})
    assert r.status_code == 200, r.text
    assert QUESTION.rstrip("?") in r.json()["standalone_question"]


async def test_feedback_endpoint_stores_the_vote(make_client: Any, tmp_path: Path) -> None:
    client = make_client()
    answer = (await client.post("/api/ask", json={"question": QUESTION})).json()
    r = await client.post("/api/feedback", json={
        "question": QUESTION, "answer": answer["answer"], "citations": answer["citations"],
        "vote": "down"})
    assert r.status_code == 200 and r.json()["ok"] is True
    rows = FeedbackStore(tmp_path / "feedback.sqlite3").rows()
    assert [(x["question"], x["vote"], x["surface"]) for x in rows] == [(QUESTION, "down", "api")]
    assert rows[0]["citations"][0]["quote"] == answer["citations"][0]["quote"]
    assert_error(await client.post("/api/feedback", json={**r.json(), "question": "q",
                                                          "answer": "a", "vote": "meh"}), 422)
    history = [{"role": "user", "content": QUESTION},
               {"role": "assistant", "content": answer["answer"]}]
    w = await client.post("/widget/feedback", json={
        "question": "What did they say about it?", "answer": "x", "vote": "up",
        "history": history})
    assert w.status_code == 200, w.text
    row = FeedbackStore(tmp_path / "feedback.sqlite3").rows()[-1]
    assert row["surface"] == "widget" and row["history"] == history  # the follow-up's context


# --- errors: one shape, the right status ----------------------------------------------------
async def test_empty_and_too_long_questions_are_400(make_client: Any) -> None:
    client = make_client(max_question_chars=50)
    assert_error(await client.post("/api/ask", json={"question": "  \n "}), 400, "empty")
    assert_error(await client.post("/api/ask", json={"question": "why " * 20}), 400, "limit")
    assert_error(await client.post("/api/ask/stream", json={"question": ""}), 400, "empty")
    r = await client.post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "x" * 51}]})
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]


async def test_a_lone_surrogate_is_a_400_everywhere_not_a_500(make_client: Any) -> None:
    client = make_client()
    raw = b'{"question": "How many hostages \\ud800 remain?"}'
    headers = {"content-type": "application/json"}
    for path in ("/api/ask", "/api/ask/stream"):
        assert_error(await client.post(path, content=raw, headers=headers), 400, "surrogate")
    history = (b'{"question": "And then?", "history": [{"role": "user", '
               b'"content": "x \\udc00"}]}')
    assert_error(await client.post("/api/ask", content=history, headers=headers), 400,
                 "history turn 1")
    for stream in (b"false", b"true"):
        r = await client.post("/v1/chat/completions", headers=headers, content=(
            b'{"model": "rag-articles", "stream": ' + stream +
            b', "messages": [{"role": "user", "content": "x \\ud800"}]}'))
        assert r.status_code == 400, r.text  # before any chunk: never a stream cut short
        assert r.json()["error"]["type"] == "invalid_request_error"
        assert "surrogate" in r.json()["error"]["message"]


async def test_framework_errors_use_the_same_shape(make_client: Any) -> None:
    client = make_client()
    assert_error(await client.get("/no/such/page"), 404, "not found")
    assert_error(await client.get("/api/ask"), 405)
    assert_error(await client.post("/api/ask", json={}), 422, "question")
    assert_error(await client.post("/api/ask", content=b"{not json",
                                   headers={"content-type": "application/json"}), 422)
    assert_error(await client.get("/articles/nope"), 404, "no article")
    big = {"question": "q?", "history": [{"role": "user", "content": "x" * 300_000}]}
    assert_error(await client.post("/api/ask", json=big), 413)


async def test_token_is_required_when_set(make_client: Any) -> None:
    client = make_client(api_token="s3cret")
    body = {"question": QUESTION}
    r = await client.post("/api/ask", json=body)
    assert_error(r, 401, "bearer")
    assert r.headers["www-authenticate"] == "Bearer"
    assert_error(await client.post("/api/ask", json=body,
                                   headers={"Authorization": "Bearer wrong"}), 401)
    assert_error(await client.post("/api/ask/stream", json=body), 401)
    v1 = await client.post("/v1/chat/completions",
                           json={"messages": [{"role": "user", "content": "q"}]})
    assert v1.status_code == 401 and v1.json()["error"]["code"] == "invalid_api_key"
    ok = await client.post("/api/ask", json=body, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert (await client.get("/healthz")).status_code == 200  # health stays open


async def test_citation_links_carry_a_signature_that_opens_only_their_span(
        make_client: Any) -> None:
    client = make_client(api_token="s3cret")
    answer = (await client.post("/api/ask", json={"question": QUESTION},
                                headers={"Authorization": "Bearer s3cret"})).json()
    c = answer["citations"][0]
    assert "sig=" in c["viewer_url"] and "s3cret" not in c["viewer_url"]
    page = await client.get(c["viewer_url"])  # no header: the link itself is the key
    assert page.status_code == 200 and '<mark id="quote">' in page.text
    other_span = re.sub(r"end=\d+", f"end={c['end'] - 1}", c["viewer_url"])
    assert_error(await client.get(other_span), 401)
    assert_error(await client.get(f"/articles/{c['article_id']}"), 401)


async def test_failed_tokens_are_throttled_per_client(make_client: Any) -> None:
    client = make_client(api_token="s3cret")
    wrong = {"Authorization": "Bearer guess"}
    body = {"question": QUESTION}
    for _ in range(10):
        assert_error(await client.post("/api/ask", json=body, headers=wrong), 401)
    # The right token too is refused now: a guesser must not learn which guess was right.
    r = await client.post("/api/ask", json=body, headers={"Authorization": "Bearer s3cret"})
    assert_error(r, 429, "failed sign-in")
    assert int(r.headers["retry-after"]) >= 1
    assert_error(await client.get("/articles/x?start=0&end=1&sig=0000"), 429)
    other = httpx.AsyncClient(transport=httpx.ASGITransport(
        app=client._transport.app, client=("10.1.2.3", 5000)),  # type: ignore[attr-defined]
        base_url="http://testserver")
    ok = await other.post("/api/ask", json=body, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200, ok.text


async def test_widget_and_api_have_separate_budgets(make_client: Any) -> None:
    client = make_client(rate_limit=2)
    body = {"question": "   "}  # cheap requests still count
    for _ in range(2):
        assert (await client.post("/api/ask", json=body)).status_code == 400
    assert_error(await client.post("/api/ask/stream", json=body), 429, "RAG_RATE_LIMIT")
    for _ in range(2):  # the widget's readers have not spent theirs
        assert (await client.post("/widget/ask/stream", json=body)).status_code == 400
    r = await client.post("/widget/ask/stream", json=body)
    body429 = assert_error(r, 429)
    assert re.fullmatch(r"Too many questions: try again in \d+ s\.", body429["error"])


async def test_rate_limit_is_per_client_and_says_when_to_retry(make_client: Any) -> None:
    client = make_client(rate_limit=2)
    body = {"question": "   "}  # cheap requests still count
    for _ in range(2):
        assert (await client.post("/api/ask", json=body)).status_code == 400
    r = await client.post("/api/ask", json=body)
    assert_error(r, 429, "RAG_RATE_LIMIT")
    assert int(r.headers["retry-after"]) >= 1
    assert (await client.get("/healthz")).status_code == 200


async def test_cors_is_off_by_default_and_follows_settings(make_client: Any) -> None:
    pre = {"Origin": "https://wiki.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    closed = await make_client().options("/api/ask", headers=pre)
    assert "access-control-allow-origin" not in closed.headers
    client = make_client(cors_origins="https://wiki.example, https://intranet.example")
    opened = await client.options("/api/ask", headers=pre)
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == "https://wiki.example"
    other = await client.options("/api/ask", headers={**pre, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_no_server_path_reaches_a_reader(make_client: Any, sample_store: Path) -> None:
    client = make_client()
    r = await client.post("/api/ask", json={"question": QUESTION})
    answer = r.json()
    assert answer["citations"] and all(c["url"] is None for c in answer["citations"])
    assert all(p["url"] is None for p in answer["passages"])
    v1 = (await client.post("/v1/chat/completions", json={
        "model": "rag-articles", "messages": [{"role": "user", "content": QUESTION}]})).json()
    page = (await client.get(answer["citations"][0]["viewer_url"])).text
    for text in (r.text, json.dumps(v1), page):
        assert "data/articles" not in text and ".txt" not in text
    web = make_client(hostile=True)
    cites = (await web.post("/api/ask", json={"question": WEB_QUESTION})).json()["citations"]
    assert cites[0]["url"] == "https://example.org/wildebeest-census?year=2024"


# --- the article viewer ----------------------------------------------------------------------
async def test_viewer_highlights_exactly_the_quote(make_client: Any, service: Any) -> None:
    client = make_client()
    c = (await client.post("/api/ask", json={"question": QUESTION})).json()["citations"][0]
    page = await client.get(c["viewer_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    marked = re.findall(r'<mark id="quote">(.*?)</mark>', page.text, re.S)
    assert marked == [escape(c["quote"], quote=True)]
    text = service.article(c["article_id"]).text
    assert escape(text[:c["start"]]) in page.text and escape(text[c["end"]:]) in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert_error(await client.get(f"/articles/{c['article_id']}?start=5&end=2"), 400)
    assert_error(await client.get(f"/articles/{c['article_id']}?start=0&end=99999999"), 400)


async def test_web_articles_link_to_the_original_at_the_quote(
        make_client: Any) -> None:
    client = make_client(hostile=True)
    c = (await client.post("/api/ask", json={"question": WEB_QUESTION})).json()["citations"][0]
    base, fragment = c["original_url"].split("#:~:text=", 1)
    assert base == "https://example.org/wildebeest-census?year=2024"
    start, end = (unquote(x) for x in fragment.split(","))
    assert c["quote"].startswith(start) and c["quote"].endswith(end)
    page = (await client.get(c["viewer_url"])).text
    assert f'href="{escape(c["original_url"])}"' in page
    assert "Open the original at this quote" in page


# --- hostile articles ------------------------------------------------------------------------
async def test_hostile_article_is_escaped_in_the_answer_json_and_viewer(
        make_client: Any) -> None:
    client = make_client(hostile=True)
    answer = (await client.post("/api/ask", json={"question": XSS_QUESTION})).json()
    c = answer["citations"][0]
    assert XSS_IMG in c["quote"]  # JSON carries the text as text; clients must escape it
    assert urlsplit(c["viewer_url"]).scheme == "http" and c["original_url"] is None
    page = (await client.get(c["viewer_url"])).text
    for payload in (XSS_IMG, XSS_SCRIPT, "<script>window.__xss=4</script>",
                    '<img src=x onerror="window.__xss=3'):
        assert payload not in page
    assert escape(XSS_IMG) in page and escape(XSS_SCRIPT) in page
    assert "javascript:" not in re.findall(r'href="([^"]*)"', page).__str__()
    assert "<script" not in page.lower().replace("&lt;script", "")


async def test_widget_demo_escapes_the_token_it_is_given(make_client: Any) -> None:
    client = make_client()
    hostile = '"><script>alert(1)</script>'
    page = await client.get("/widget/demo", params={"token": hostile})
    assert page.status_code == 200
    assert hostile not in page.text and escape(hostile, quote=True) in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    widget = await client.get("/widget")
    assert "frame-ancestors" not in widget.headers["content-security-policy"]  # any wiki
    assert "script-src 'self'" in widget.headers["content-security-policy"]
    assert (await client.get("/embed.js")).headers["content-type"].startswith("text/javascript")


async def test_widget_demo_on_a_server_with_a_token_says_how_to_open_it(make_client: Any) -> None:
    client = make_client(api_token="secret")
    bare = await client.get("/widget/demo")
    assert bare.status_code == 200 and "/widget/demo?token=YOUR_TOKEN" in bare.text
    assert "secret" not in bare.text  # the page never holds the server's token
    given = await client.get("/widget/demo", params={"token": "secret"})
    assert "YOUR_TOKEN" not in given.text and 'data-token="secret"' in given.text
    assert "YOUR_TOKEN" not in (await make_client().get("/widget/demo")).text  # no token set


# --- docs, health ----------------------------------------------------------------------------
async def test_openapi_docs_are_served_without_a_cdn(make_client: Any) -> None:
    client = make_client()
    spec = (await client.get("/openapi.json")).json()
    assert {"/api/ask", "/api/ask/stream", "/v1/chat/completions", "/articles/{article_id}",
            "/healthz"} <= set(spec["paths"])
    docs = (await client.get("/docs")).text
    urls = re.findall(r'(?:src|href)="([^"]+)"', docs)
    assert urls and all(u.startswith("/") for u in urls), urls
    for u in urls:
        assert (await client.get(u)).status_code == 200, u
    health = (await client.get("/healthz")).json()
    assert health["ok"] is True and health["chunks"] > 0


async def test_a_server_beyond_loopback_without_a_token_takes_no_writes(
        make_client: Any, tmp_path: Path) -> None:
    """`rag serve --host 0.0.0.0` with no RAG_API_TOKEN: anyone on the network could write
    feedback, so writes refuse (reads still answer) until a token is set."""
    vote = {"question": QUESTION, "answer": "a", "vote": "up"}
    open_client = make_client(host="0.0.0.0")
    assert (await open_client.post("/api/ask", json={"question": QUESTION})).status_code == 200
    assert_error(await open_client.post("/api/feedback", json=vote), 403, "RAG_API_TOKEN")
    assert_error(await open_client.post("/widget/feedback", json=vote), 403, "RAG_API_TOKEN")
    # An ingest handed over by `rag ingest` carries the store folder's key, not a token: it
    # is refused for want of that key, never for the missing token.
    assert_error(await open_client.post("/api/ingest", json={"paths": ["x"]}), 403, "key")
    assert not (tmp_path / "feedback.sqlite3").exists() or \
        FeedbackStore(tmp_path / "feedback.sqlite3").rows() == []
    guarded = make_client(host="0.0.0.0", api_token="s3cret")
    r = await guarded.post("/api/feedback", json=vote,
                           headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200, r.text


async def test_the_api_answers_while_the_chat_is_still_starting(make_client: Any) -> None:
    client = make_client()  # no lifespan here: the chat never finishes starting
    page = await client.get("/chat/")
    assert page.status_code == 503 and page.headers["retry-after"] == "1"
    assert "The chat is starting" in page.text and 'http-equiv="refresh"' in page.text
    r = await client.post("/api/ask", json={"question": QUESTION})
    assert r.status_code == 200 and r.json()["citations"]
