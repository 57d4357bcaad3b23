"""Compliance routes: erasure of a data subject (`POST /api/v1/erasure`, admin) and the
retention in force for the caller's project (`GET /api/v1/retention`, viewer).

An erasure is recorded in the audit log with its project, attribute and report, never
its value (the log would otherwise keep what was erased).
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze.erasure import ErasureService
from spanwise.config import Config
from spanwise.core.retention import RetentionPolicy
from spanwise.process.redaction import HashedSearch
from spanwise.request_context import DEFAULT_PROJECT, current_project
from spanwise.serve.audit import AuditLog
from spanwise.serve.auth_wiring import AuthParts
from spanwise.serve.body import read_json_object
from spanwise.serve.native_api import endpoint
from spanwise.store.protocols import SubjectEraser

MAX_BODY_BYTES = 16 * 1024


async def _json_object(request: Request) -> tuple[dict[str, Any]]:
    return (await read_json_object(request, MAX_BODY_BYTES, '{"project", "attribute", "value"}'),)


def erasure_routes(erasure: ErasureService, audit: AuditLog | None) -> list[Route]:
    def erase(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """
        ---
        summary: Erase a data subject from one project, in every table; answers the rows removed per table.
        description: >
          Body `{"project", "attribute", "value"}` (e.g. attribute `user.id`). Removes spans and log
          records whose own or resource attributes carry the value, predictions of those spans and
          predictions whose string features carry it, their labels, and OTLP metric points carrying
          it; also where redaction stored the value as its keyed hash. Aggregated metrics are kept.
        responses: {200: {description: "{project, attribute, hashed_form_erased, removed: {table: rows}, total}"},
                    400: {description: a field is missing or malformed}, 404: {description: no such project}}
        """
        report = erasure.erase(body)
        if audit:
            audit.record(request, "erasure", {k: report[k] for k in ("project", "attribute", "removed", "total")})
        return report

    return [Route("/api/v1/erasure", endpoint(erase, _json_object), methods=["POST"])]


def retention_routes(policy: RetentionPolicy) -> list[Route]:
    def retention(request: Request) -> dict[str, Any]:
        """
        ---
        summary: How many days the caller's project keeps each kind of data (0 = forever).
        responses: {200: {description: "{project, default_days, spans_days, logs_days, metrics_days, predictions_days, labels_days}"}}
        """
        project = current_project()
        kept = {f"{kind}_days": days for kind, days in policy.of_project(project).items()}
        return {"project": project, "default_days": policy.default_days, **kept}

    return [Route("/api/v1/retention", endpoint(retention), methods=["GET"])]


def compliance_routes(config: Config, store: object, auth: AuthParts | None) -> list[Route]:
    """The routes, built from the config and the store (erasure only where the store can)."""
    routes = retention_routes(config.retention_policy())
    if isinstance(store, SubjectEraser):
        projects: Callable[[], list[str]] = (
            (lambda: [p["name"] for p in auth.authority.projects()]) if auth else (lambda: [DEFAULT_PROJECT]))
        service = ErasureService(store, HashedSearch.from_config(config), projects)
        routes += erasure_routes(service, auth.audit if auth else None)
    return routes
