"""The chat and the wiki widget in real headless Chromium (Debian's, through Playwright),
against a real uvicorn server: ask, watch the answer stream in, click a citation, see the
quote highlighted in its article; and hostile articles that never run. Screenshots go to
test-artifacts/ (git-ignored) for a person to look at."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.ui_fixtures import (  # noqa: F401  (fixtures)
    ARTIFACTS,
    XSS_QUESTION,
    sample_server,
    serve_app,
    xss_service,
    xss_store,
)
from ui.api import embed_snippet
from ui.feedback import FeedbackStore

CHROMIUM = "/usr/bin/chromium"
QUESTION = "How many hostages remain held in Gaza?"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium; "
                              "scripts/test-deps does it as root)"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Runs on every page and frame: a payload that executes leaves a trace here, even one
# that fires before the test looks.
TRAP = "window.alert = function () { window.__alerted = (window.__alerted || 0) + 1; };"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


served = sample_server("browser")  # (url, feedback folder)


@pytest.fixture(scope="module")
def server(served: tuple[str, Path]) -> str:
    return served[0]


@pytest.fixture(scope="module")
def hostile_server(xss_service: Any, xss_store: Path,  # noqa: F811
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for url, _ in serve_app(xss_service, xss_store, tmp_path_factory.mktemp("hostile")):
        yield url


class Watch:
    """What a page did that it should not: requests off the machine, dialogs, JS errors."""

    def __init__(self, page: Any) -> None:
        self.offsite: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, request: Any) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith("http") and host != "127.0.0.1":
            self.offsite.append(request.url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.add_init_script(TRAP)
    pg = context.new_page()
    watch = Watch(pg)
    context.on("page", lambda p: setattr(p, "_watch", Watch(p)))
    yield pg, watch
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def quote_in_view(frame: Any) -> bool:
    return bool(frame.evaluate("""() => {
        const m = document.querySelector('mark#quote');
        if (!m) return false;
        const r = m.getBoundingClientRect();
        return r.height > 0 && r.top >= 0 && r.top < window.innerHeight;
    }"""))


def ask_in_chat(pg: Any, base: str, question: str) -> None:
    pg.goto(f"{base}/chat/")
    pg.wait_for_selector("#rag-input textarea", timeout=60_000)
    # Record every intermediate state of the answer bubble, to see it stream in.
    pg.evaluate("""() => {
        window.__drafts = [];
        new MutationObserver(() => {
            const d = document.querySelector('.rag-draft');
            if (d) window.__drafts.push(d.textContent.length);
        }).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")
    pg.fill("#rag-input textarea", question)
    pg.keyboard.press("Enter")
    pg.wait_for_selector(".rag-answer:not(.rag-draft), .rag-notice", timeout=120_000)


def test_chat_streams_an_answer_and_a_citation_opens_the_highlighted_quote(
        page: tuple[Any, Watch], server: str, served: tuple[str, Path]) -> None:
    pg, watch = page
    ask_in_chat(pg, server, QUESTION)
    drafts = pg.evaluate("window.__drafts")
    assert len(set(drafts)) >= 3 and drafts == sorted(drafts), drafts  # it grew, in steps
    answer = pg.locator(".rag-answer").last
    assert answer.locator("a.rag-cite").count() >= 1
    assert pg.locator("#rag-sources .rag-source").count() >= 1
    conflict = answer.locator(".rag-conflicts").inner_text()  # the figures, not two titles
    assert "97 [" in conflict and "129 [" in conflict
    shot(pg, "chat-answer.png")

    cite = answer.locator("a.rag-cite").first
    href = cite.get_attribute("href") or ""
    assert re.fullmatch(r"/articles/[0-9a-f]+\?start=\d+&end=\d+#quote", href), href
    pages_before = len(pg.context.pages)
    cite.click()
    frame = pg.frame(name="rag-viewer")
    assert frame is not None
    pg.wait_for_function("() => { const f = document.getElementById('rag-viewer-frame');"
                         f" return f && f.getAttribute('src') === {href!r}; }}")
    frame.wait_for_load_state()
    frame.wait_for_selector("mark#quote")
    quote = pg.locator("#rag-sources blockquote").first.inner_text()
    assert frame.locator("mark#quote").inner_text() == quote
    assert quote_in_view(frame)
    assert len(pg.context.pages) == pages_before  # opened beside the chat, not in a new tab
    pg.locator("#rag-viewer-box").scroll_into_view_if_needed()
    shot(pg, "chat-viewer.png")

    pg.locator('#rag-chat button[aria-label="Like"]').last.click()
    pg.wait_for_timeout(300)
    for _ in range(50):
        rows = FeedbackStore(served[1] / "feedback.sqlite3").rows()
        if rows:
            break
        pg.wait_for_timeout(100)
    assert [(r["question"], r["vote"], r["surface"]) for r in rows] == [(QUESTION, "up", "chat")]
    assert watch.offsite == [] and watch.errors == []


def test_widget_on_a_wiki_page_answers_with_clickable_highlighted_evidence(
        page: tuple[Any, Watch], server: str) -> None:
    pg, watch = page
    pg.goto(f"{server}/widget/demo")
    pg.wait_for_selector("#rag-widget", state="attached")  # a zero-size host; its panel is fixed
    widget = pg.frame_locator("#rag-widget >> iframe")
    widget.locator("#w-q").fill(QUESTION)
    widget.locator("#w-q").press("Enter")
    cite = widget.locator("a.w-cite").first
    cite.wait_for(timeout=120_000)
    assert widget.locator(".w-src blockquote").count() >= 1
    # The sources disagree on the count: the box names both figures, each with its number.
    conflict = widget.locator(".w-conflict").first.inner_text()
    assert "97 [" in conflict and "129 [" in conflict
    shot(pg, "widget-demo.png")
    with pg.context.expect_page() as popup:
        cite.click()
    viewer = popup.value
    viewer.wait_for_load_state()
    quote = widget.locator(".w-src blockquote").first.inner_text()
    assert viewer.locator("mark#quote").inner_text() == quote
    assert quote_in_view(viewer.main_frame)
    shot(viewer, "widget-viewer.png")
    assert watch.offsite == [] and watch.errors == []
    assert viewer._watch.offsite == []


def test_readme_snippet_in_a_plain_page_elsewhere_answers_with_evidence(
        page: tuple[Any, Watch], server: str, tmp_path: Path) -> None:
    """The README's snippet, pasted into a page of another origin (a local file): no CORS
    setting is needed, since the chat runs in a frame of the answering server."""
    pg, watch = page
    plain = tmp_path / "wiki.html"
    plain.write_text(f"<!doctype html><title>Wiki</title><h1>Our wiki</h1>"
                     f"{embed_snippet(server)}", encoding="utf-8")
    pg.goto(plain.as_uri())
    launcher = pg.locator('#rag-widget button[part="launcher"]')
    launcher.click()
    widget = pg.frame_locator("#rag-widget iframe")
    widget.locator("#w-q").fill(QUESTION)
    widget.locator("#w-send").click()
    cite = widget.locator("a.w-cite").first
    cite.wait_for(timeout=120_000)
    shot(pg, "snippet-plain-page.png")
    with pg.context.expect_page() as popup:
        cite.click()
    viewer = popup.value
    viewer.wait_for_load_state()
    assert quote_in_view(viewer.main_frame)
    assert launcher.get_attribute("aria-expanded") == "true"
    assert watch.offsite == [] and watch.errors == []


def test_widget_sends_the_token_and_signed_links_open_without_it(
        page: tuple[Any, Watch], service: Any, sample_store: Path, tmp_path: Path) -> None:
    pg, watch = page
    for url, _ in serve_app(service, sample_store, tmp_path, api_token="s3cret"):
        pg.goto(f"{url}/widget/demo")  # no token: the page and the widget say why not
        assert "?token=YOUR_TOKEN" in pg.locator(".wiki-notice").inner_text()
        widget = pg.frame_locator("#rag-widget >> iframe")
        widget.locator("#w-q").fill(QUESTION)
        widget.locator("#w-q").press("Enter")
        widget.locator(".w-error").wait_for(timeout=60_000)
        assert "asks for an access token" in widget.locator(".w-error").inner_text()

        pg.goto(f"{url}/widget/demo?token=s3cret")
        widget = pg.frame_locator("#rag-widget >> iframe")
        widget.locator("#w-q").fill(QUESTION)
        widget.locator("#w-q").press("Enter")
        cite = widget.locator("a.w-cite").first
        cite.wait_for(timeout=120_000)
        assert "sig=" in (cite.get_attribute("href") or "")
        with pg.context.expect_page() as popup:
            cite.click()
        viewer = popup.value
        viewer.wait_for_load_state()
        assert quote_in_view(viewer.main_frame)
    assert watch.errors == []


def test_hostile_article_never_runs_in_chat_viewer_or_widget(
        page: tuple[Any, Watch], hostile_server: str) -> None:
    pg, watch = page
    ask_in_chat(pg, hostile_server, XSS_QUESTION)
    answer = pg.locator(".rag-answer").last
    assert '<img src=x onerror="window.__xss=1;alert(1)">' in answer.inner_text()
    assert "<script>window.__xss=4</script>Savanna Times" in pg.locator(
        "#rag-sources").inner_text()
    answer.locator("a.rag-cite").first.click()
    frame = pg.frame(name="rag-viewer")
    assert frame is not None
    frame.wait_for_selector("mark#quote")
    assert "<script>window.__xss=2;alert(2)</script>" in frame.inner_text("article")
    shot(pg, "xss-chat.png")

    pg.goto(f"{hostile_server}/widget/demo")
    widget = pg.frame_locator("#rag-widget >> iframe")
    widget.locator("#w-q").fill(XSS_QUESTION)
    widget.locator("#w-q").press("Enter")
    widget.locator("a.w-cite").first.wait_for(timeout=120_000)
    assert "onerror=" in widget.locator(".w-bot").last.inner_text()
    shot(pg, "xss-widget.png")

    for f in pg.frames + (frame.page.frames if frame else []):
        assert f.evaluate("[window.__xss, window.__alerted]") == [None, None], f.url
    assert watch.dialogs == [] and watch.offsite == []


def chat_answers(pg: Any) -> int:
    return int(pg.locator("#rag-chat .rag-answer:not(.rag-draft)").count())


def test_chat_panels_follow_the_answer_clicked_and_say_why_nothing_happened(
        page: tuple[Any, Watch], server: str, served: tuple[str, Path]) -> None:
    pg, watch = page
    pg.goto(f"{server}/chat/")
    pg.wait_for_selector("#rag-input textarea", timeout=60_000)
    pg.keyboard.press("Enter")  # an empty submit: a message says why nothing happened
    pg.get_by_text("Type a question first").first.wait_for(timeout=30_000)
    questions = [QUESTION, "Who did Blinken meet in Cairo?"]
    for i, q in enumerate(questions, 1):
        pg.fill("#rag-input textarea", q)
        pg.keyboard.press("Enter")
        pg.wait_for_function(f"() => document.querySelectorAll("
                             f"'#rag-chat .rag-answer:not(.rag-draft)').length >= {i}",
                             timeout=120_000)
    pg.wait_for_timeout(500)
    first = pg.locator("#rag-chat .rag-answer").first
    cite = first.locator("a.rag-cite").first
    cite.click()
    frame = pg.frame(name="rag-viewer")
    assert frame is not None
    pg.wait_for_function("() => { const f = document.getElementById('rag-viewer-frame');"
                         f" return f && f.getAttribute('src') === "
                         f"{cite.get_attribute('href')!r}; }}")
    frame.wait_for_selector("mark#quote")
    shown = pg.locator("#rag-sources .rag-source-group:not([hidden]) blockquote")
    quotes = [shown.nth(i).inner_text() for i in range(shown.count())]
    assert frame.locator("mark#quote").inner_text() in quotes  # that answer's sources
    shot(pg, "chat-older-answer-sources.png")

    pg.locator('#rag-chat button[aria-label="Dislike"]').last.click()
    for _ in range(50):
        rows = [r for r in FeedbackStore(served[1] / "feedback.sqlite3").rows()
                if r["question"] == questions[1]]
        if rows:
            break
        pg.wait_for_timeout(100)
    assert rows and rows[0]["history"][0]["content"] == QUESTION
    assert watch.errors == []


def test_error_bubbles_have_no_thumbs_and_bad_text_gets_a_plain_message(
        page: tuple[Any, Watch], service: Any, sample_store: Path, tmp_path: Path) -> None:
    pg, watch = page
    for url, _ in serve_app(service, sample_store, tmp_path, rate_limit=1):
        pg.goto(f"{url}/chat/")
        pg.wait_for_selector("#rag-input textarea", timeout=60_000)
        # A lone surrogate, as a script or a broken paste can send it.
        pg.evaluate("""() => { const t = document.querySelector('#rag-input textarea');
            t.value = 'How many hostages \\ud800 remain?';
            t.dispatchEvent(new Event('input', {bubbles: true})); }""")
        pg.keyboard.press("Enter")
        notice = pg.locator("#rag-chat .rag-notice").first
        notice.wait_for(timeout=60_000)
        assert "surrogate" in notice.inner_text() and "TypeError" not in notice.inner_text()
        pg.fill("#rag-input textarea", QUESTION)  # answered: the budget of 1 is spent
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#rag-chat .rag-answer:not(.rag-draft)", timeout=120_000)
        pg.fill("#rag-input textarea", QUESTION)  # refused by the rate limit: a notice
        pg.keyboard.press("Enter")
        pg.wait_for_function("() => document.querySelectorAll('#rag-chat .rag-notice')"
                             ".length >= 2", timeout=60_000)
        pg.wait_for_timeout(500)
        shot(pg, "chat-error-bubbles.png")
        visible = pg.locator('#rag-chat button[aria-label="Like"]:visible')
        assert visible.count() == 1  # the one real answer's, none under the notices
    assert watch.errors == []


def test_examples_are_answered_questions_in_the_chat_and_the_widget(
        page: tuple[Any, Watch], server: str) -> None:
    pg, watch = page
    pg.goto(f"{server}/chat/")
    pg.wait_for_selector("#rag-input textarea", timeout=60_000)
    example = pg.locator("#rag-chat .example").first  # Gradio's example buttons
    example.wait_for(timeout=30_000)
    text = example.inner_text()
    assert text.endswith("?") and "articles say about" not in text
    example.click()
    pg.wait_for_selector("#rag-chat .rag-answer:not(.rag-draft)", timeout=120_000)
    assert pg.locator("#rag-chat .rag-answer a.rag-cite").count() >= 1

    pg.goto(f"{server}/widget/demo")
    widget = pg.frame_locator("#rag-widget >> iframe")
    button = widget.locator(".w-example").first
    button.wait_for(timeout=60_000)
    assert button.inner_text().endswith("?") and "articles say about" not in button.inner_text()
    button.click()
    widget.locator("a.w-cite").first.wait_for(timeout=120_000)
    shot(pg, "widget-examples.png")
    assert watch.errors == []
