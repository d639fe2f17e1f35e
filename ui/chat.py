"""The chat window (Gradio), mounted at /chat of the `rag serve` app; `rag chat` opens it.

Answers stream in; each [n] marker links to its quote in the article viewer, which opens
beside the conversation with the span highlighted. Every string from the articles or the
answerer is HTML-escaped here (`ui.html`), and Gradio's sanitiser runs on top of that.
Conversation state lives in a per-session gr.State, never in module globals.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import gradio as gr
from fastapi import FastAPI
from starlette.routing import Mount

from rag.errors import RagError
from rag.types import Answer, Turn
from ui import html
from ui.answers import word_chunks
from ui.context import Context
from ui.feedback import parse_vote
from ui.guards import WRITES_OFF, check_text, exposed_without_token, token_ok

log = logging.getLogger("rag.chat")

STATIC = os.path.join(os.path.dirname(__file__), "static")
THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                       font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI",
                             "Roboto", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "monospace"])
# Binds citation clicks (in the chat and the sources panel) to the viewer frame once per
# page; without script the same links open the viewer in a new tab.
VIEWER_JS = """
if (!window.__ragViewerBound) {
  window.__ragViewerBound = true;
  document.addEventListener('click', function (e) {
    var a = e.target && e.target.closest ? e.target.closest('a.rag-cite, a.rag-open') : null;
    var frame = document.getElementById('rag-viewer-frame');
    if (!a || !frame) return;
    e.preventDefault(); e.stopPropagation();
    // A citation in any answer shows that answer's sources: its group in the panel, found
    // by the answer's index (or, should the attribute be lost, by its place in the chat).
    var owner = a.classList.contains('rag-cite') ? a.closest('.rag-answer') : null;
    if (owner) {
      var groups = Array.prototype.slice.call(
        document.querySelectorAll('#rag-sources .rag-source-group'));
      var answers = Array.prototype.slice.call(
        document.querySelectorAll('#rag-chat .rag-answer:not(.rag-draft)'));
      var key = owner.getAttribute('data-answer');
      var pick = groups.filter(function (g) { return g.getAttribute('data-answer') === key; })[0]
        || groups[answers.indexOf(owner)];
      if (pick) groups.forEach(function (g) { g.hidden = g !== pick; });
    }
    frame.setAttribute('src', a.getAttribute('href'));
    document.querySelectorAll('.rag-active').forEach(function (x) {
      x.classList.remove('rag-active');
    });
    a.classList.add('rag-active');
    var box = document.getElementById('rag-viewer-box');
    if (box && box.getBoundingClientRect().top > window.innerHeight) {
      box.scrollIntoView({behavior: 'smooth'});
    }
  }, true);
}
"""


def new_session() -> dict[str, Any]:
    """One browser tab's conversation: chat messages, plain-text turns for follow-ups, each
    assistant message's answer (by message index) for feedback, and its sources panel."""
    return {"messages": [], "turns": [], "answers": {}, "panels": {}}


EMPTY_SUBMIT = "Type a question first: the box is empty."


def _reveal(text: str, steps: int = 8) -> list[str]:
    """Growing prefixes of a finished answer, so an answer that arrived whole (extractive)
    still appears progressively, as an LLM's would."""
    pieces = list(word_chunks(text, 1))
    size = max(1, -(-len(pieces) // steps))
    return ["".join(pieces[:i]) for i in range(size, len(pieces), size)]


class ChatApp:
    """The event handlers, bound to one process's Context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def respond(self, message: str, session: dict[str, Any], request: gr.Request
                ) -> Any:
        question = " ".join((message or "").split())
        if not question:  # say why nothing happens, in a toast; the conversation is untouched
            gr.Warning(EMPTY_SUBMIT)
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        problem = None
        try:
            check_text(question)
        except RagError as exc:  # shown as a plain message; the text itself cannot be sent
            problem = str(exc)
            question = question.encode("utf-8", "replace").decode("utf-8")
        messages = [*session["messages"], {"role": "user", "content": html.user_text(question)},
                    {"role": "assistant", "content": html.status("Searching the articles…")}]
        session = {**session, "messages": messages}
        yield messages, "", session, gr.skip(), gr.skip()
        if problem:
            messages[-1]["content"] = html.notice(problem)
            yield messages, gr.skip(), session, gr.skip(), gr.skip()
            return

        key = "chat:" + (request.client.host if request and request.client else "unknown")
        wait = self.ctx.limiter.retry_after(key)  # the chat's own budget, not the API's
        if wait:
            messages[-1]["content"] = html.notice(
                f"Too many questions at once: try again in {max(1, round(wait))} seconds.")
            yield messages, gr.skip(), session, gr.skip(), gr.skip()
            return
        turns = [Turn(**t) for t in session["turns"]]
        answer: Answer | None = None
        try:
            draft = ""
            for event in self.ctx.service.stream(question, turns):
                if event.type == "token":
                    draft += event.text
                    messages[-1]["content"] = html.draft(draft)
                    yield messages, gr.skip(), session, gr.skip(), gr.skip()
                else:
                    answer = event.answer
            assert answer is not None
            if not draft:
                for partial in _reveal(answer.answer):
                    messages[-1]["content"] = html.draft(partial)
                    yield messages, gr.skip(), session, gr.skip(), gr.skip()
                    time.sleep(0.03)
        except RagError as exc:
            messages[-1]["content"] = html.notice(str(exc))
            yield messages, gr.skip(), session, gr.skip(), gr.skip()
            return
        except Exception as exc:  # a plain message, never a library's error text
            log.exception("chat answer failed")
            messages[-1]["content"] = html.notice(
                f"Something went wrong while answering ({type(exc).__name__}); please try "
                "again or rephrase the question.")
            yield messages, gr.skip(), session, gr.skip(), gr.skip()
            return
        token = self.ctx.settings.api_token
        index = str(len(messages) - 1)
        messages[-1]["content"] = html.answer(answer, token, int(index))
        panels = {**session["panels"], index: html.sources(answer, token)}
        session = {
            "messages": messages,
            "turns": [*session["turns"], {"role": "user", "content": question},
                      {"role": "assistant", "content": answer.answer}],
            "answers": {**session["answers"], index: {
                "question": question, "answer": answer.answer,
                "citations": [c.model_dump() for c in answer.citations],
                "history": session["turns"]}},
            "panels": panels,
        }
        yield (messages, gr.skip(), session, html.source_groups(panels, index),
               html.viewer(answer.citations[0] if answer.citations else None, token))

    def vote(self, index: float | int | None, vote: str, session: dict[str, Any]) -> str:
        """Store a thumbs up/down for the assistant message at `index`."""
        record = session["answers"].get(str(int(index if index is not None else -1)))
        if record is None:
            raise gr.Error("There is no answer at that position to vote on.")
        s = self.ctx.settings
        if exposed_without_token(s.host, s.api_token):
            raise gr.Error("Feedback is off: " + WRITES_OFF.format(host=s.host) + ".")
        self.ctx.feedback.add(vote=parse_vote(vote), surface="chat", **record)
        return "Thanks: your feedback is saved."

    def like(self, session: dict[str, Any], data: gr.LikeData) -> None:
        index = data.index[0] if isinstance(data.index, tuple | list) else data.index
        if data.liked in ("", None):  # the vote was taken back
            return
        gr.Info(self.vote(index, "up" if data.liked is True or data.liked == "Like" else "down",
                          session))


def pick_example(event: gr.SelectData) -> str:
    """The clicked example question, into the input box."""
    value = event.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value)


def build(ctx: Context, examples: list[str]) -> gr.Blocks:
    """The chat as a Blocks app (not launched: `mount` puts it under the API app)."""
    app = ChatApp(ctx)
    articles = ctx.service.store.count_articles()
    with gr.Blocks(title="Ask the articles", analytics_enabled=False) as demo:
        session = gr.State(new_session())
        gr.HTML(html.header(articles, ctx.service.backend_name), js_on_load=None,
                elem_id="rag-header")
        with gr.Row(equal_height=False, elem_id="rag-main"):
            with gr.Column(scale=7, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="rag-chat", show_label=False, height=600, autoscroll=True,
                    placeholder=html.placeholder(), buttons=["copy"],
                    examples=[{"text": q} for q in examples],
                    feedback_options=("Like", "Dislike"), sanitize_html=True,
                    render_markdown=True, group_consecutive_messages=False)
                box = gr.Textbox(placeholder="Ask a question about the articles…",
                                 show_label=False, lines=1, max_lines=5, autofocus=True,
                                 submit_btn="Ask", elem_id="rag-input",
                                 max_length=ctx.settings.max_question_chars)
                with gr.Row(elem_id="rag-actions"):
                    clear = gr.Button("New conversation", size="sm", variant="secondary",
                                      elem_id="rag-clear", scale=0, min_width=160)
                    gr.HTML(html.hint(), js_on_load=None, elem_id="rag-hint")
            with gr.Column(scale=5, min_width=360, elem_id="rag-side"):
                sources = gr.HTML(html.sources(None), js_on_load=None, elem_id="rag-sources")
                viewer = gr.HTML(html.viewer(None), js_on_load=VIEWER_JS,
                                 elem_id="rag-viewer-box")
        # The vote as an API endpoint too (gradio_client cannot send a like event).
        with gr.Row(visible=False):
            fb_index = gr.Number(label="message index", precision=0)
            fb_vote = gr.Textbox(label="vote: up or down")
            fb_result = gr.Textbox(label="result")
            fb_button = gr.Button("vote")

        outputs = [chatbot, box, session, sources, viewer]
        box.submit(app.respond, [box, session], outputs, api_name="ask",
                   show_progress="hidden", concurrency_id="answer")
        chatbot.example_select(pick_example, None, box, api_visibility="private").then(
            app.respond, [box, session], outputs, api_visibility="private",
            show_progress="hidden", concurrency_id="answer")
        chatbot.like(app.like, [session], None, api_visibility="private")
        fb_button.click(app.vote, [fb_index, fb_vote, session], fb_result, api_name="feedback")

        def reset() -> tuple[Any, ...]:
            return [], "", new_session(), html.sources(None), html.viewer(None)

        clear.click(reset, None, outputs, api_name="clear", queue=False)

        def fresh_examples() -> Any:
            """The examples as the store is now: an ingest since start has its share."""
            return gr.update(examples=[{"text": q} for q in ctx.service.example_questions(4)])

        demo.load(fresh_examples, None, chatbot, api_visibility="private", queue=False)
        chatbot.clear(reset, None, outputs, api_visibility="private", queue=False)
    # The service answers one question at a time (its lock); a few workers let other
    # sessions' events (votes, clears) through while one answer is being written.
    demo.queue(default_concurrency_limit=4, max_size=200)
    return demo


def mount(app: FastAPI, ctx: Context, examples: list[str], path: str = "/chat") -> Any:
    """Mount the chat under `app`; return the mounted Gradio app. With RAG_API_TOKEN set it
    asks for the token first (any user name), so the chat is no way around the API's token."""
    token = ctx.settings.api_token
    # Gradio's lifespan is run by ui/chat_start.py, not chained onto the app's own.
    lifespan = app.router.lifespan_context
    gr.mount_gradio_app(
        app, build(ctx, examples), path=path, ssr_mode=False, theme=THEME,
        css_paths=[os.path.join(STATIC, "chat.css")], footer_links=[],
        auth=(lambda _user, password: token_ok(token, password)) if token else None,
        auth_message="Any user name; the API token (RAG_API_TOKEN) as the password.",
        mcp_server=False, enable_monitoring=False, pwa=False, show_error=True)
    app.router.lifespan_context = lifespan
    mounted = next((r.app for r in app.routes if isinstance(r, Mount) and r.path == path), None)
    if mounted is None:
        raise RuntimeError(f"the chat was not mounted at {path}")
    return mounted
