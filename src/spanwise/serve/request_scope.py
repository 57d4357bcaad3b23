"""The edge where a request's context (`spanwise.request_context`) is set.

Every HTTP request runs as its principal in its principal's project; an admin may act in
another project by naming it in the `X-Spanwise-Project` header (the UI's project picker
sends it). A project an admin names must exist: otherwise reads would answer empty and
writes would land where no one can see them, so the request is a 404 instead. Others'
headers are ignored (their token fixes their project). Without auth every request acts in
the default project, as before projects. gRPC calls get theirs in `serve.otlp_grpc`,
through `context_for` and `unknown_project`.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from spanwise.request_context import DEFAULT_PROJECT, RequestContext, acting
from spanwise.serve.auth import Authority, Principal
from spanwise.serve.auth_http import Render, json_error

PROJECT_HEADER = "x-spanwise-project"
ADMIN = "admin"


def sees_platform(scope: Scope) -> bool:
    """Whether the caller may see the platform's own figures, which add up every project
    (ingest counters, queues, bytes on disk): an admin, or anyone while auth is off."""
    principal: Principal | None = scope.get("state", {}).get("principal")
    return principal is None or principal.role == ADMIN


def context_for(principal: Principal | None, requested: str | None = None) -> RequestContext:
    """The context of a request by `principal` (None: auth is off, or the route is public)."""
    if principal is None:
        return RequestContext(project=DEFAULT_PROJECT)
    project = requested if requested and principal.role == ADMIN else principal.project
    return RequestContext(project=project, principal=f"{principal.name} ({principal.token_id})")


def unknown_project(authority: Authority | None, principal: Principal | None, requested: str | None) -> str | None:
    """The refusal when an admin names a project that does not exist, else None."""
    if authority is None or principal is None or principal.role != ADMIN or not requested:
        return None
    if requested == principal.project or authority.has_project(requested):
        return None
    return f"no project {requested!r} (named in the {PROJECT_HEADER} header)"


class RequestScope:
    """ASGI middleware, inside access control: runs the rest of the request in its context
    (`authority`: the projects an admin may name; None with auth off)."""

    def __init__(self, app: ASGIApp, authority: Authority | None = None, render: Render = json_error) -> None:
        self.app = app
        self.authority = authority
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal")
        headers = Headers(scope=scope)
        requested = headers.get(PROJECT_HEADER)
        refusal = unknown_project(self.authority, principal, requested)
        if refusal:
            await self.render(404, refusal, headers)(scope, receive, send)
            return
        with acting(context_for(principal, requested)):
            await self.app(scope, receive, send)
