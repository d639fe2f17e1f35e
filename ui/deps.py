"""FastAPI dependencies the API's routers share: the process's Context, and the guard
(bearer token, then the per-client rate limit) in front of every answering endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from ui.context import Context
from ui.guards import bearer_scheme, check_token, client_key

Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def ctx_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def guarded(request: Request, creds: Creds) -> Context:
    """The bearer token (when RAG_API_TOKEN is set), then the per-client rate limit."""
    ctx = ctx_of(request)
    check_token(ctx.settings.api_token, creds)
    ctx.limiter.check(client_key(request))
    return ctx


Guarded = Annotated[Context, Depends(guarded)]


def base_url(request: Request) -> str:
    """The app's root as the client reached it, for absolute links."""
    return str(request.base_url).rstrip("/")
