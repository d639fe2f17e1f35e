"""What stands in front of the HTTP API: one JSON error shape for every failure, the
optional bearer token, a per-client rate limit and a request size limit."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import RagError

log = logging.getLogger("rag.api")

# Requests larger than this are refused (413) as they are read: a question is at most
# RAG_MAX_QUESTION_CHARS, and the history the service uses is its last 8 turns.
MAX_BODY_BYTES = 256 * 1024
MAX_HISTORY_TURNS = 50


class ApiError(Exception):
    """An HTTP failure the handlers below render as {ok: false, error, status}."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or {}


def error_body(status: int, error: str) -> dict[str, Any]:
    """The API's one error shape.

    Example: error_body(404, "gone") == {"ok": False, "error": "gone", "status": 404}
    """
    return {"ok": False, "error": error, "status": status}


def error_response(status: int, error: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    return JSONResponse(error_body(status, error), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app raises, ours or FastAPI's (404, 405, 422), in one shape."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.error, exc.headers)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, _validation_message(exc))

    async def on_rag(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        return error_response(exc.status, str(exc))

    async def on_other(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, f"internal error: {type(exc).__name__}")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(RagError, on_rag)
    app.add_exception_handler(Exception, on_other)


# --- bearer token ----------------------------------------------------------------------------
bearer_scheme = HTTPBearer(auto_error=False, description="RAG_API_TOKEN, when it is set")


def token_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; no token configured means everything passes.

    Example: token_ok("s3", "s3") and not token_ok("s3", None)
    """
    if not expected:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def check_token(expected: str | None, creds: HTTPAuthorizationCredentials | None) -> None:
    if not token_ok(expected, creds.credentials if creds else None):
        raise ApiError(401, "a valid bearer token is required (Authorization: Bearer <token>)",
                       {"WWW-Authenticate": "Bearer"})


# --- rate limit ------------------------------------------------------------------------------
class RateLimiter:
    """A sliding one-minute window per client key; `limit` 0 switches it off. In memory:
    `rag serve` is one process, and the limit protects that process."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float:
        """Record a request from `key`; 0 if allowed, else seconds until it would be."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(0.1, hits[0] + self.window - now)
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]
            return 0.0

    def check(self, key: str) -> None:
        wait = self.retry_after(key)
        if wait:
            raise ApiError(429, f"too many requests: the limit is {self.limit} a minute per "
                           f"client (RAG_RATE_LIMIT); retry in {wait:.0f}s",
                           {"Retry-After": str(max(1, round(wait)))})


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- request size ----------------------------------------------------------------------------
class BodyLimit:
    """Refuses request bodies over `limit` bytes with a 413 in the API's error shape: at once
    when Content-Length says so, else as the bytes arrive. (FastAPI's own `max_body_size`
    answers a declared oversize body in plain text, outside this shape.)"""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is larger than the limit of {self.limit} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(413, message)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:  # FastAPI passes an HTTPException from here through
                    raise StarletteHTTPException(413, message)
            return msg

        await self.app(scope, limited, send)
