"""What stands in front of the HTTP API: one JSON error shape for every failure (OpenAI's
under /v1), the optional bearer token with a limit on failed attempts, a per-client rate
limit per surface, a request size limit, and question text that can be encoded."""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import InputError, RagError

log = logging.getLogger("rag.api")

# Requests larger than this are refused (413) as they are read: a question is at most
# RAG_MAX_QUESTION_CHARS, and the history the service uses is its last 8 turns.
MAX_BODY_BYTES = 256 * 1024
MAX_HISTORY_TURNS = 50


class ApiError(Exception):
    """An HTTP failure the handlers below render as {ok: false, error, status}."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None,
                 code: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or {}
        self.code = code  # OpenAI's error code, for the /v1 routes


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


# OpenAI's error types by status, so OpenAI clients raise their usual exception classes.
_OPENAI_TYPES = {401: ("invalid_request_error", "invalid_api_key"),
                 404: ("invalid_request_error", "not_found"),
                 429: ("requests", "rate_limit_exceeded")}


def openai_error_body(status: int, error: str, code: str | None = None) -> dict[str, Any]:
    """The error shape of OpenAI's API, which the /v1 routes speak.

    Example: openai_error_body(400, "bad")["error"]["type"] == "invalid_request_error"
    """
    kind, default_code = _OPENAI_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": error, "type": kind, "param": None,
                      "code": code or default_code}}


def _respond(request: Request, status: int, error: str,
             headers: dict[str, str] | None = None, code: str | None = None) -> JSONResponse:
    """The API's shape, or OpenAI's under /v1."""
    if request.url.path.startswith("/v1/") or request.url.path == "/v1":
        return JSONResponse(openai_error_body(status, error, code), status_code=status,
                            headers=headers)
    return error_response(status, error, headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app raises, ours or FastAPI's (404, 405, 422), in one shape (OpenAI's
    under /v1)."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _respond(request, exc.status, exc.error, exc.headers, exc.code)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return _respond(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _respond(request, 422, _validation_message(exc))

    async def on_rag(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RagError)
        return _respond(request, exc.status, str(exc))

    async def on_other(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, f"internal error: {type(exc).__name__}")

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


def is_loopback(host: str) -> bool:
    """Does an address to listen on reach only this machine?

    Example: is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    """
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def exposed_without_token(host: str, token: str | None) -> bool:
    """A server anyone on the network can reach, with no token to tell who writes: its
    feedback endpoints refuse (an ingest handed over by `rag ingest` carries the store
    folder's own key instead).

    Example: exposed_without_token("0.0.0.0", None) and not exposed_without_token("0.0.0.0", "t")
    """
    return not token and not is_loopback(host)


WRITES_OFF = ("this server listens on {host}, beyond this machine, with no RAG_API_TOKEN: "
              "it takes no feedback until a token is set")


def check_writes(host: str, token: str | None) -> None:
    if exposed_without_token(host, token):
        raise ApiError(403, WRITES_OFF.format(host=host))


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

    def peek(self, key: str) -> float:
        """Seconds until `key` may be counted again (0: now), recording nothing."""
        if self.limit <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            hits = [t for t in self._hits.get(key, ()) if t > now - self.window]
            return max(0.1, hits[0] + self.window - now) if len(hits) >= self.limit else 0.0

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

    def check(self, surface: Surface, client: str) -> None:
        """Spend one request of `client`'s budget on `surface`, or raise a 429 worded for
        whoever reads it there (a developer on the API, a reader in the widget)."""
        wait = self.retry_after(f"{surface}:{client}")
        if wait:
            seconds = max(1, round(wait))
            message = (f"Too many questions: try again in {seconds} s." if surface == "widget"
                       else f"too many requests: the limit is {self.limit} a minute per "
                            f"client (RAG_RATE_LIMIT); retry in {seconds}s")
            raise ApiError(429, message, {"Retry-After": str(seconds)})


# The API (/api, /v1), the chat and the widget each draw on their own budget per client, so
# a script hammering the API does not lock a reader out of the chat.
Surface = Literal["api", "chat", "widget"]


def client_key(request: Request) -> str:
    """The client's address. Behind a proxy listed in RAG_TRUSTED_PROXIES, uvicorn has
    already put the X-Forwarded-For address here; from anyone else the header is ignored."""
    return request.client.host if request.client else "unknown"


# --- failed sign-ins --------------------------------------------------------------------------
AUTH_FAILURES = 10         # wrong tokens, passwords or link signatures a client may send ...
AUTH_WINDOW = 300.0        # ... in this many seconds before its credentials are refused


def _credentialed(scope: Scope) -> bool:
    """Does the request try a credential: a bearer token, a signed link, the chat login?"""
    if scope.get("method") == "POST" and str(scope.get("path", "")).endswith("/login"):
        return True
    if Headers(scope=scope).get("authorization"):
        return True
    return b"sig=" in scope.get("query_string", b"")


class AuthThrottle:
    """Counts failed credentials per client (a 401, or the chat's rejected login) and, past
    AUTH_FAILURES in AUTH_WINDOW, answers that client's credentialed requests with a 429
    without checking them, so a token cannot be guessed at line speed. Requests with no
    credential are not counted: opening the chat's login page is not a failed guess."""

    def __init__(self, app: ASGIApp, failures: int = AUTH_FAILURES,
                 window: float = AUTH_WINDOW) -> None:
        self.app = app
        self.failures = RateLimiter(failures, window)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _credentialed(scope):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        wait = self.failures.peek(key)
        if wait:
            seconds = str(max(1, round(wait)))
            body = f"too many failed sign-in attempts from this address; retry in {seconds}s"
            await _shaped(scope, 429, body, {"Retry-After": seconds})(scope, receive, send)
            return
        login = str(scope.get("path", "")).endswith("/login")

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if status == 401 or (login and status in (400, 401)):
                    self.failures.retry_after(key)
            await send(message)

        await self.app(scope, receive, watch)


def _shaped(scope: Scope, status: int, error: str, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    """An error response in the shape the path speaks, for middleware (no Request yet)."""
    path = str(scope.get("path", ""))
    if path.startswith("/v1/"):
        return JSONResponse(openai_error_body(status, error), status_code=status,
                            headers=headers)
    return error_response(status, error, headers)


# --- question text ----------------------------------------------------------------------------
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_text(text: str, what: str = "the question") -> str:
    """Refuse text that is not valid Unicode: a lone UTF-16 surrogate (JSON's "\\ud800")
    cannot be encoded, so the tokenizer would fail deep inside an answer.

    Example: check_text("ok?") == "ok?"
    """
    bad = _SURROGATE.search(text)
    if bad:
        raise InputError(f"{what} contains an invalid character (a lone surrogate, "
                         f"U+{ord(bad.group()):04X}, at position {bad.start()}); send UTF-8 text")
    return text


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
            await _shaped(scope, 413, message)(scope, receive, send)
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
