"""Compliance routes: erasure of a data subject (`POST /api/v1/erasure`, admin) and the
retention in force for the caller's project (`GET /api/v1/retention`, viewer).

An erasure is recorded in the audit log with its project, attribute and report, never
its value (the log would otherwise keep what was erased).
"""

from __future__ import annotations

from typing import Any, Mapping

from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze.erasure import ErasureRequest, ErasureService
from spanwise.config import Config
from spanwise.core.retention import RetentionPolicy
from spanwise.errors import InvalidQuery
from spanwise.request_context import current_project
from spanwise.serve.audit import AuditLog
from spanwise.serve.body import read_json_object
from spanwise.serve.native_api import endpoint
from spanwise.serve.platform_json import erasure_report_json

MAX_BODY_BYTES = 16 * 1024
MAX_ATTRIBUTE_CHARS = 256
MAX_VALUE_CHARS = 4096


async def _erasure_request(request: Request) -> tuple[ErasureRequest]:
    body = await read_json_object(request, MAX_BODY_BYTES, '{"project", "attribute", "value"}')
    return (erasure_request(body),)


def erasure_request(body: Mapping[str, Any]) -> ErasureRequest:
    """The request a body names (`{"project", "attribute", "value"}`, an integer value as
    its text), or an InvalidQuery naming the field. An empty value is refused: it would
    match every row that lacks the attribute."""
    unknown = sorted(set(body) - {"project", "attribute", "value"})
    if unknown:
        raise InvalidQuery(f"unknown field(s) {', '.join(unknown)}; expected project, attribute, value")
    project, attribute, value = body.get("project"), body.get("attribute"), body.get("value")
    if not isinstance(project, str) or not project:
        raise InvalidQuery("project: expected the name of a project")
    if not isinstance(attribute, str) or not 0 < len(attribute) <= MAX_ATTRIBUTE_CHARS or not attribute.isprintable():
        raise InvalidQuery(f"attribute: expected an attribute key (1 to {MAX_ATTRIBUTE_CHARS} printable characters), e.g. user.id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE_CHARS:
        raise InvalidQuery(f"value: expected a non-empty string (at most {MAX_VALUE_CHARS} characters) or an integer")
    for name, text in (("attribute", attribute), ("value", value)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidQuery(f"{name}: not valid Unicode (a lone surrogate escape)") from None
    return ErasureRequest(project, attribute, value)


def erasure_routes(erasure: ErasureService, audit: AuditLog | None) -> list[Route]:
    def erase(request: Request, subject: ErasureRequest) -> dict[str, Any]:
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
        report = erasure.erase(subject)
        if audit:
            audit.record(request, "erasure", {"project": report.project, "attribute": report.attribute,
                                              "removed": dict(report.removed), "total": report.total})
        return erasure_report_json(report)

    return [Route("/api/v1/erasure", endpoint(erase, _erasure_request), methods=["POST"])]


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


def compliance_routes(config: Config, erasure: ErasureService, audit: AuditLog | None) -> list[Route]:
    """Retention as the config says, and erasure (audited where auth keeps an audit log)."""
    return retention_routes(config.retention_policy()) + erasure_routes(erasure, audit)
