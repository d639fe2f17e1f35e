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
FAILED = STARTING.replace('<meta http-equiv="refresh" content="1">', "")


class ChatStarter:
    """Mounts the chat (`mount()`, run in a worker thread, returns the Gradio app) once the
    server has started, runs Gradio's start-up, and holds it until the server stops. `done`
    is set once the chat is up or has failed (`failed` says why)."""

    def __init__(self, mount: Callable[[], Any]) -> None:
        self._mount = mount
        self._app: Any = None  # mounted once: a second start of the same app reuses it
        self.ready = threading.Event()
        self.done = threading.Event()
        self.failed: str | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.ready.clear()
        self.done.clear()
        self.failed = None
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            if self._app is None:
                self._app = await asyncio.to_thread(self._mount)
            gradio_app = self._app
            async with gradio_app.router.lifespan_context(gradio_app):
                blocks = gradio_app.get_blocks()
                blocks.run_startup_events()
                await blocks.run_extra_startup_events()
                self.ready.set()
                self.done.set()
                await self._stop.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the API keeps serving; the chat page says why not
            log.exception("the chat could not start")
            self.failed = str(exc) or type(exc).__name__
        finally:
            self.ready.clear()
            self.done.set()

    async def stop(self) -> None:
        self._stop.set()
        task = self._task
        if task is None:
            return
        if not self.ready.is_set():
            # Still mounting: the worker thread cannot be stopped and finishes on its own
            # (the chat is then mounted onto a stopped app, which serves nothing).
            task.cancel()
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
            if self.starter.failed:  # no reload: it will not come up without a restart
                response = HTMLResponse(
                    FAILED.format(message="The chat could not start; the server's log says "
                                          "why. The API still answers."),
                    status_code=500, headers={"Cache-Control": "no-store"})
            else:
                response = HTMLResponse(STARTING.format(message="The chat is starting…"),
                                        status_code=503,
                                        headers={"Retry-After": "1", "Cache-Control": "no-store"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
