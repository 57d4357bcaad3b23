"""Access control's routes: web UI sign-in (`/api/v1/session`), tokens, projects, the
route table (`/api/v1/access`) and the audit log. Roles per route: `serve.access.RULES`."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from spanwise.errors import InvalidQuery, SpanwiseError
from spanwise.serve.access import RouteTable
from spanwise.serve.audit import AuditLog
from spanwise.serve.auth import Authority
from spanwise.serve.auth_http import CSRF_COOKIE, SESSION_COOKIE, Sessions, SignInLimiter
from spanwise.serve.body import read_json_object
from spanwise.serve.native_api import endpoint, error_response
from spanwise.serve.params import Param, parse_int, parse_limit
from spanwise.serve.platform_json import audit_entry_json, project_json, token_json

MAX_BODY_BYTES = 16 * 1024


async def _json(request: Request) -> tuple[dict[str, Any]]:
    return (await read_json_object(request, MAX_BODY_BYTES),)


def parse_expires(value: object) -> int:
    """`expires` as Unix milliseconds (0: never): an ISO 8601 time with a zone, or Unix seconds."""
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value < 2**33:
        return int(value * 1000)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return int(moment.timestamp() * 1000)
    raise InvalidQuery(f"expires: expected an ISO 8601 time with a zone (2027-01-31T00:00:00Z) or Unix seconds, got {value!r}")


def session_routes(authority: Authority | None, sessions: Sessions | None, limiter: SignInLimiter | None,
                   audit: AuditLog | None) -> list[Route]:
    """GET/POST/DELETE /api/v1/session; with auth off only GET, answering `{"auth": false}`."""
    async def state(request: Request) -> Response:
        """
        ---
        summary: Whether auth is on and who the session cookie signed in (with its CSRF token).
        responses: {200: {description: "{auth, signed_in, name, role, project, csrf}"}}
        """
        if authority is None or sessions is None:
            return JSONResponse({"auth": False})
        session = request.cookies.get(SESSION_COOKIE)
        found = sessions.resolve(session) if session else None
        principal = authority.principal(found[0]) if found else None
        if principal is None:
            return JSONResponse({"auth": True, "signed_in": False})
        return JSONResponse({"auth": True, "signed_in": True, "name": principal.name, "role": principal.role,
                             "project": principal.project, "csrf": found[1] if found else ""})

    async def sign_in(request: Request) -> Response:
        """
        ---
        summary: Sign the web UI in with a token; sets the session and CSRF cookies.
        requestBody:
          required: true
          content: {application/json: {schema: {type: object, required: [token], properties: {token: {type: string}}}}}
        responses:
          200: {description: "{name, role, project, csrf}"}
          401: {description: "an invalid, expired or revoked token"}
          429: {description: "too many sign-in attempts from this address (auth.signin_per_minute): retry after Retry-After"}
        """
        assert authority and sessions and limiter
        address = request.client.host if request.client else ""
        wait = limiter.retry_after(address)
        if wait:
            return JSONResponse({"error": {"status": 429, "message": "too many sign-in attempts: wait and retry"}},
                                429, {"Retry-After": str(math.ceil(wait))})
        try:
            (body,) = await _json(request)
        except SpanwiseError as exc:
            return error_response(exc)
        principal = authority.authenticate(str(body.get("token") or ""))
        if audit:
            await run_in_threadpool(audit.record, request, "signin" if principal else "signin.failed", {},
                                    principal.name if principal else "")
        if principal is None:
            return JSONResponse({"error": {"status": 401, "message": "invalid, expired or revoked token"}}, 401)
        session, csrf = sessions.create(principal.token_id)
        response = JSONResponse({"name": principal.name, "role": principal.role, "project": principal.project,
                                 "csrf": csrf})
        secure = request.url.scheme == "https"
        response.set_cookie(SESSION_COOKIE, session, max_age=sessions.max_age_s, path="/", secure=secure,
                            httponly=True, samesite="strict")
        response.set_cookie(CSRF_COOKIE, csrf, max_age=sessions.max_age_s, path="/", secure=secure,
                            httponly=False, samesite="strict")
        return response

    async def sign_out(request: Request) -> Response:
        """
        ---
        summary: Sign the web UI out (ends the session, clears its cookies).
        responses: {200: {description: "{signed_in: false}"}}
        """
        session = request.cookies.get(SESSION_COOKIE)
        if session and sessions:
            sessions.end(session)
        response = JSONResponse({"signed_in": False})
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    routes: list[Route] = [Route("/api/v1/session", state, methods=["GET"])]
    if authority is not None:
        routes += [Route("/api/v1/session", sign_in, methods=["POST"]),
                   Route("/api/v1/session", sign_out, methods=["DELETE"])]
    return routes


def admin_routes(authority: Authority, table: Callable[[], RouteTable], audit: AuditLog) -> list[Route]:
    """Tokens, projects, the route table and the audit log (admin only, see serve.access)."""
    def create_token(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """
        ---
        summary: Issue a token; the answer is the only time the token is shown.
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [name, role, project]
                properties:
                  name: {type: string}
                  role: {type: string, enum: [ingest, viewer, editor, admin]}
                  project: {type: string}
                  expires:
                    description: "an ISO 8601 time with a zone, or Unix seconds (default: never)"
                    oneOf: [{type: string}, {type: number}]
        responses:
          200: {description: "{id, token, name, role, project, expires_ms}"}
          400: {description: "a bad name, role, project or expires (the message names it)"}
        """
        expires_ms = parse_expires(body.get("expires"))
        token_id, token = authority.issue(_text(body, "name"), _text(body, "role"), _text(body, "project"), expires_ms)
        audit.record(request, "token.create", {"id": token_id, "name": body.get("name"), "role": body.get("role"),
                                               "project": body.get("project")})
        return {"id": token_id, "token": token, "name": body.get("name"), "role": body.get("role"),
                "project": body.get("project"), "expires_ms": expires_ms}

    def list_tokens(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Every token (never the token itself nor its hash).
        responses: {200: {description: "{tokens: [...]}"}}
        """
        return {"tokens": [token_json(t) for t in authority.tokens()]}

    def revoke_token(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Revoke a token; it is refused from the next request on.
        responses: {200: {description: "{revoked: token}"}, 404: {description: no such token}}
        """
        revoked = authority.revoke(request.path_params["id"])
        audit.record(request, "token.revoke", {"id": revoked.id, "name": revoked.name})
        return {"revoked": token_json(revoked)}

    def create_project(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """
        ---
        summary: Create a project.
        requestBody:
          required: true
          content: {application/json: {schema: {type: object, required: [name], properties: {name: {type: string}}}}}
        responses: {200: {description: "{name, created_ms}"}, 400: {description: a bad or taken name}}
        """
        project = authority.create_project(_text(body, "name"))
        audit.record(request, "project.create", {"name": project.name})
        return project_json(project)

    def list_projects(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Every project.
        responses: {200: {description: "{projects: [...]}"}}
        """
        return {"projects": [project_json(p) for p in authority.projects()]}

    def access(request: Request) -> dict[str, Any]:
        """
        ---
        summary: The role every route needs, and routes that have no rule (refused but to admins).
        responses: {200: {description: "{routes, unruled}"}}
        """
        return {"routes": table().describe(), "unruled": table().unruled}

    audit_params = (Param("start", "Unix ms (default: 24 hours before end)", "integer"),
                    Param("end", "Unix ms (default: now)", "integer"), Param("action", "only this action"),
                    Param("limit", "at most this many (default 1000)", "integer"))

    def audit_log(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Audited actions (sign-ins, token and project changes, exports, writes), newest first.
        responses: {200: {description: "{entries: [{at_ms, actor, address, action, detail}]}"}}
        """
        query = request.query_params
        end = parse_int(query.get("end"), "end", audit.now_ms(), 0) or 0
        start = parse_int(query.get("start"), "start", end - 86_400_000, 0) or 0
        limit = parse_limit(query.get("limit"), 1000)
        return {"entries": [audit_entry_json(e) for e in audit.entries(start, end, query.get("action", ""), limit)]}

    return [
        Route("/api/v1/tokens", endpoint(create_token, _json), methods=["POST"]),
        Route("/api/v1/tokens", endpoint(list_tokens), methods=["GET"]),
        Route("/api/v1/tokens/{id}", endpoint(revoke_token), methods=["DELETE"]),
        Route("/api/v1/projects", endpoint(create_project, _json), methods=["POST"]),
        Route("/api/v1/projects", endpoint(list_projects), methods=["GET"]),
        Route("/api/v1/access", endpoint(access), methods=["GET"]),
        Route("/api/v1/audit", endpoint(audit_log, query=audit_params), methods=["GET"]),
    ]


def _text(body: dict[str, Any], key: str) -> str:
    """A string field of a JSON body; anything else is a 400 naming it."""
    value = body.get(key)
    if not isinstance(value, str):
        raise InvalidQuery(f"{key}: a string is required")
    return value
