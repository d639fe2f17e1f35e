"""FastAPI dependencies the API's routers share: the process's Context, and the guard
(bearer token, then the per-client rate limit of the surface asking) in front of every
answering endpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from ui.context import Context
from ui.guards import Surface, bearer_scheme, check_token, client_key

Creds = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def ctx_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def surface_of(request: Request) -> Surface:
    """The widget asks through /widget/...; everything else here is the API."""
    return "widget" if request.url.path.startswith("/widget/") else "api"


def guarded(request: Request, creds: Creds) -> Context:
    """The bearer token (when RAG_API_TOKEN is set), then the client's rate limit on the
    surface it came through."""
    ctx = ctx_of(request)
    check_token(ctx.settings.api_token, creds)
    ctx.limiter.check(surface_of(request), client_key(request))
    return ctx


Guarded = Annotated[Context, Depends(guarded)]


def base_url(request: Request) -> str:
    """The app's root as the client reached it, for absolute links."""
    return str(request.base_url).rstrip("/")
