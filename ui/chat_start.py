"""The chat starts after the server does: importing Gradio and building the chat take
seconds (most of a server's start), so `rag serve` answers the API first and mounts the chat
in a worker thread. Until it is up, /chat answers 503 with a page that reloads itself.

Gradio's own start-up (its queue) runs here, as `gr.mount_gradio_app`'s lifespan would have
run it had the chat been mounted before the server started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

PATH = "/chat"
STARTING = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="1"><title>Ask the articles</title></head>
<body style="font-family:system-ui,sans-serif;margin:3rem;color:#333">
<p>{message}</p></body></html>"""


class ChatStarter:
    """Mounts the chat (`mount()`, run in a worker thread, returns the Gradio app) once the
    server has started, runs Gradio's start-up, and holds it until the server stops."""

    def __init__(self, mount: Callable[[], Any]) -> None:
        self._mount = mount
        self.ready = threading.Event()
        self.failed: str | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            gradio_app = await asyncio.to_thread(self._mount)
        except Exception as exc:  # the API keeps serving; the chat page says why not
            log.error("the chat could not start: %s", exc)
            self.failed = str(exc) or type(exc).__name__
            return
        async with gradio_app.router.lifespan_context(gradio_app):
            blocks = gradio_app.get_blocks()
            blocks.run_startup_events()
            await blocks.run_extra_startup_events()
            self.ready.set()
            await self._stop.wait()

    async def stop(self) -> None:
        self._stop.set()
        task = self._task
        if task is None:
            return
        if not self.ready.is_set():
            task.cancel()  # still mounting: the worker thread ends on its own
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ChatGate:
    """ASGI middleware: /chat answers 503 (a page that reloads itself) until the chat is up."""

    def __init__(self, app: ASGIApp, starter: ChatStarter) -> None:
        self.app = app
        self.starter = starter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] == "http" and not self.starter.ready.is_set()
                and (path == PATH or path.startswith(PATH + "/"))):
            message = ("The chat could not start; the server's log says why. The API still "
                       "answers." if self.starter.failed else "The chat is starting…")
            response = HTMLResponse(STARTING.format(message=message), status_code=503,
                                    headers={"Retry-After": "1", "Cache-Control": "no-store"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
