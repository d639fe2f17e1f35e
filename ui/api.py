"""`rag serve`: one ASGI app with the HTTP API, the OpenAI-compatible endpoint, the article
viewer, the wiki widget and the Gradio chat (mounted at /chat).

Every error, FastAPI's own included, is `{"ok": false, "error": "...", "status": N}`.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import time
from collections.abc import AsyncIterator
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from rag.errors import ConfigError, RagError
from rag.service import RagService, clean_question
from rag.settings import Settings
from rag.types import Turn
from ui import handoff, openai_compat
from ui.answers import AnswerOut, answer_events, link_answer
from ui.chat_start import ChatGate, ChatStarter
from ui.context import Context
from ui.deps import Creds, Guarded, base_url, ctx_of, surface_of
from ui.feedback import Vote
from ui.guards import (
    MAX_BODY_BYTES,
    MAX_HISTORY_TURNS,
    WRITES_OFF,
    ApiError,
    AuthThrottle,
    BodyLimit,
    check_text,
    check_writes,
    error_body,
    exposed_without_token,
    install_error_handlers,
    token_ok,
)
from ui.viewer import VIEWER_CSP, check_span, link_signature, render_article

log = logging.getLogger("rag.api")
STATIC = Path(__file__).parent / "static"


class AskRequest(BaseModel):
    question: str = Field(description="The question; follow-ups are read with `history`.",
                          examples=["How many hostages remain held in Gaza?"])
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description="Earlier turns, oldest first.")


class FeedbackRequest(BaseModel):
    question: str = Field(max_length=20_000)
    answer: str = Field(max_length=50_000)
    citations: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    vote: Vote
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description="The conversation the question followed, "
                                            "oldest first, as it was sent with it.")


class IngestRequest(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=100_000)
    prune: bool = False
    follow_links: bool = False


def _question(ctx: Context, body: AskRequest) -> str:
    """The question, checked before any work: a bad one is a 400, never a broken stream."""
    for i, turn in enumerate(body.history):
        check_text(turn.content, f"history turn {i + 1}")
    return clean_question(check_text(body.question), ctx.settings.max_question_chars)


router = APIRouter()


@router.get("/healthz", tags=["meta"], summary="Liveness and what is loaded")
def healthz(request: Request) -> dict[str, Any]:
    ctx = ctx_of(request)
    # `lexical` says whether BM25 is whole ("ok") or being rebuilt, and what was repaired.
    return {"ok": True, "status": 200, "backend": ctx.service.backend_name,
            "chunks": ctx.service.store.count_chunks(),
            "lexical": ctx.service.lexical.health.to_json()}


@router.post("/api/ask", tags=["answers"], response_model=AnswerOut,
             summary="Answer a question with verified, quoted citations")
async def ask(body: AskRequest, request: Request, ctx: Guarded) -> AnswerOut:
    question = _question(ctx, body)
    answer = await run_in_threadpool(ctx.service.ask, question, body.history)
    return link_answer(answer, base_url(request), ctx.settings.api_token)


@router.post("/widget/ask/stream", include_in_schema=False, response_class=EventSourceResponse)
@router.post("/api/ask/stream", tags=["answers"], response_class=EventSourceResponse,
             summary="The same answer as server-sent events",
             description="Events: `token` ({text}) as the answer is written, then exactly one "
                         "`answer` (the Answer JSON, citations linked), whose text replaces "
                         "the tokens. A failure after the stream started is an `error` event "
                         "with the usual {ok, error, status}.")
async def ask_stream(body: AskRequest, request: Request, ctx: Guarded) -> EventSourceResponse:
    question = _question(ctx, body)
    root, token = base_url(request), ctx.settings.api_token

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            async for ev in answer_events(ctx.service, question, body.history):
                if ev.type == "token":
                    yield {"event": "token", "data": json.dumps({"text": ev.text})}
                elif ev.answer is not None:
                    yield {"event": "answer",
                           "data": link_answer(ev.answer, root, token).model_dump_json()}
        except RagError as exc:
            yield {"event": "error", "data": json.dumps(error_body(exc.status, str(exc)))}
        except Exception as exc:
            log.exception("stream failed")
            yield {"event": "error", "data": json.dumps(
                error_body(500, f"internal error: {type(exc).__name__}"))}

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})


@router.post("/widget/feedback", include_in_schema=False)
@router.post("/api/feedback", tags=["answers"], summary="Store a thumbs up or down")
async def feedback(body: FeedbackRequest, request: Request, ctx: Guarded) -> dict[str, Any]:
    check_writes(ctx.settings.host, ctx.settings.api_token)
    row = await run_in_threadpool(lambda: ctx.feedback.add(
        question=body.question, answer=body.answer, citations=body.citations,
        vote=body.vote, surface=surface_of(request),
        history=[t.model_dump() for t in body.history]))
    return {"ok": True, "id": row}


@router.get("/widget/examples", include_in_schema=False)
async def widget_examples(ctx: Guarded) -> dict[str, Any]:
    """The example questions the chat shows, for the widget's intro: made from the store as
    it is now (an ingest since the server started has its share)."""
    return {"ok": True, "questions": await run_in_threadpool(ctx.service.example_questions, 4)}


@router.get("/articles/{article_id}", tags=["articles"], response_class=HTMLResponse,
            summary="The article, the quote [start, end) highlighted and scrolled into view",
            description="When RAG_API_TOKEN is set, a bearer token or the `sig` that citation "
                        "links carry is required.")
def article_page(article_id: str, request: Request, creds: Creds, start: int | None = None,
                 end: int | None = None, sig: str | None = None) -> HTMLResponse:
    ctx = ctx_of(request)
    token = ctx.settings.api_token
    if token and not (token_ok(token, creds.credentials if creds else None)
                      or (sig and token_ok(link_signature(token, article_id, start, end), sig))):
        raise ApiError(401, "this link needs a bearer token or a valid signature (sig)",
                       {"WWW-Authenticate": "Bearer"})
    article = ctx.service.article(article_id)
    if article is None:
        raise ApiError(404, f"no article with id {article_id!r}")
    check_span(article, start, end)
    return HTMLResponse(render_article(article, start, end), headers={
        "Content-Security-Policy": VIEWER_CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


@router.post("/api/ingest", include_in_schema=False)
async def ingest(body: IngestRequest, request: Request) -> dict[str, Any]:
    """`rag ingest` handing its work to this server, which owns the embedded store
    (ui/handoff.py). Only for a caller holding the key `rag serve` wrote into the store."""
    ctx = ctx_of(request)
    # No write guard here: the key is a secret of the store folder's owner, sent over
    # loopback, so only someone who could write the store directly can hand an ingest over.
    key: str | None = getattr(request.app.state, "ingest_key", None)
    given = request.headers.get(handoff.KEY_HEADER, "")
    if not key or not hmac.compare_digest(key.encode(), given.encode()):
        raise ApiError(403, "ingesting through the server needs the key in its store folder")
    summary = await run_in_threadpool(handoff.ingest_in_server, ctx.service, ctx.settings,
                                      body.paths, body.prune, body.follow_links)
    return {"ok": True, "summary": summary.to_json()}


# --- widget ----------------------------------------------------------------------------------
# No frame-ancestors: the widget is meant to be framed by any page (and `*` would leave out
# pages opened from files). Its data is guarded by the token, not by who frames it.
WIDGET_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
              "object-src 'none'; base-uri 'none'; form-action 'none'")


@router.get("/widget", include_in_schema=False)
def widget() -> FileResponse:
    return FileResponse(STATIC / "widget.html", headers={
        "Content-Security-Policy": WIDGET_CSP, "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache"})


@router.get("/embed.js", include_in_schema=False)
def embed_js() -> FileResponse:
    return FileResponse(STATIC / "embed.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


def embed_snippet(origin: str, token: str = "") -> str:
    """The copy-paste snippet for a wiki page (also in the README)."""
    return (f'<script src="{origin}/embed.js" data-token="{token}" '
            'data-title="Ask the articles" defer></script>')


@router.get("/widget/demo", include_in_schema=False)
def widget_demo(request: Request, token: str = "") -> HTMLResponse:
    # The page never holds the server's token: a visitor who has one passes ?token=.
    snippet = embed_snippet(base_url(request), token)
    page = (STATIC / "demo.html").read_text(encoding="utf-8")
    page = page.replace("{{SNIPPET_TEXT}}", escape(snippet))
    page = page.replace("{{TOKEN}}", escape(token, quote=True))
    notice = ("" if token or not ctx_of(request).settings.api_token else
              '<p class="wiki-notice">This server asks for its access token (RAG_API_TOKEN): '
              "open this page as <code>/widget/demo?token=YOUR_TOKEN</code> to try the chat.</p>")
    page = page.replace("{{NOTICE}}", notice)
    return HTMLResponse(page, headers={"Content-Security-Policy": WIDGET_CSP,
                                       "X-Content-Type-Options": "nosniff"})


# --- assembly --------------------------------------------------------------------------------
def _docs(app: FastAPI) -> None:
    import swagger_ui_bundle

    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_bundle.swagger_ui_path)),
              name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="rag-articles API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


def create_app(settings: Settings, service: RagService | None = None) -> FastAPI:
    """The whole product as one ASGI app. `service` defaults to one loaded from `settings`."""
    ctx = Context.create(settings, service)
    app = FastAPI(title="rag-articles",
                  description="Answers from your articles, every claim quoted and cited.",
                  version="0.1.0", docs_url=None, redoc_url=None)
    # Catch up with what other processes ingest, off the request path, while the server
    # runs: the thread starts with it and is joined when it shuts down.
    lexical = ctx.service.lexical
    app.router.on_startup.append(
        lambda: lexical.start_refresh(ctx.service.store, settings.lexical_refresh_s))
    app.router.on_shutdown.append(lexical.stop_refresh)
    app.state.ctx = ctx
    # Start-up never waits for the example questions: those already made for this store,
    # or none; the chat makes them on its first page load (`chat.build`'s fresh_examples).
    app.state.examples = ctx.service.kept_examples(4)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(AuthThrottle)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.include_router(router)
    app.include_router(openai_compat.router)
    _docs(app)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/chat/")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    # Nothing in the chat takes a file, so Gradio's upload route is off: open, it would
    # store any file anyone sends (with no token set, anyone at all) on this machine.
    @app.post("/chat/gradio_api/upload", include_in_schema=False)
    def no_uploads() -> None:
        raise ApiError(403, "the chat takes no file uploads")

    def mount_chat() -> Any:
        from ui import chat  # Gradio: seconds to import, so after the server has started

        return chat.mount(app, ctx, app.state.examples)

    starter = ChatStarter(mount_chat)
    app.state.chat = starter
    app.add_middleware(ChatGate, starter=starter)
    app.router.on_startup.append(starter.start)
    app.router.on_shutdown.append(starter.stop)
    return app


def server_config(app: Any, settings: Settings, **kw: Any) -> Any:
    """uvicorn's Config for `app`: X-Forwarded-For is believed only from the proxies in
    RAG_TRUSTED_PROXIES (uvicorn's own default trusts loopback, which would let anyone on
    this machine, or any local proxy's client, pick the address the rate limit counts)."""
    import uvicorn

    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                          proxy_headers=bool(proxies), forwarded_allow_ips=proxies, **kw)


def serve(settings: Settings, open_browser: bool = False) -> int:
    """Run the app with uvicorn until interrupted; optionally open the chat in a browser
    once the server is listening."""
    import threading
    import webbrowser

    import uvicorn

    if exposed_without_token(settings.host, settings.api_token):
        print(f"rag serve: warning: {WRITES_OFF.format(host=settings.host)}; anyone who can "
              "reach the port can ask questions and read the articles", file=sys.stderr,
              flush=True)
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(f"rag: chat {url}/chat/ · API docs {url}/docs · widget demo {url}/widget/demo",
          flush=True)
    server = uvicorn.Server(server_config(app, settings))
    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    app.state.ingest_key = handoff.announce(settings, f"http://{local}:{settings.port}")
    # On shutdown, not after run(): uvicorn re-raises SIGTERM once it has shut down.
    app.router.on_shutdown.append(lambda: handoff.withdraw(settings, app.state.ingest_key))
    if open_browser:
        def opener() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.1)
            if server.started:
                app.state.chat.done.wait(60)  # else the page that reloads until it is up
                webbrowser.open(f"{url}/chat/")

        threading.Thread(target=opener, daemon=True).start()
    try:
        server.run()
    finally:
        handoff.withdraw(settings, app.state.ingest_key)
    return 0


def launch_chat(settings: Settings, share: bool = False, open_browser: bool = True) -> int:
    """`rag chat`: the same app as `rag serve`, opened at the chat."""
    if share:
        raise ConfigError("share links go through Gradio's servers on the internet; to reach "
                          "the chat from other machines set RAG_HOST=0.0.0.0 instead")
    return serve(settings, open_browser=open_browser)
