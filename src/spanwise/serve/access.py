"""Who may do what: the one place that maps every route to the role it needs.

Roles (a token has exactly one): `ingest` sends telemetry; `viewer` reads; `editor` reads
and writes what analysis depends on (feedback, baselines, signal computations, alert rules
and silences); `admin` does everything, including projects, tokens, erasure and the
platform's own state (the ingest log's quarantine holds every project's batches).

`RULES` names every route of the query API (:16686) as `"METHOD /path/template"` -> role
(`GET` covers `HEAD`); `PUBLIC` routes need no credential (the UI's static files and page
shell, health, the sign-in endpoint). OTLP routes (:4318) and every gRPC method (:4317)
need `ingest`. A route that has no rule is refused to everyone but admins and listed by
`GET /api/v1/access`, which the role x route test reads, so a new route cannot slip by.

Secure by default: `check_exposure` refuses to listen beyond loopback without auth.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from spanwise.config import Config
from spanwise.errors import ConfigError

INGEST, VIEWER, EDITOR, ADMIN = "ingest", "viewer", "editor", "admin"
PUBLIC = "public"
ROLES = (INGEST, VIEWER, EDITOR, ADMIN)
#: The roles each role holds.
GRANTS: dict[str, frozenset[str]] = {
    INGEST: frozenset({INGEST}),
    VIEWER: frozenset({VIEWER}),
    EDITOR: frozenset({VIEWER, EDITOR}),
    ADMIN: frozenset(ROLES),
}

RULES: dict[str, str] = {
    # Web UI and liveness: no credential.
    "GET /": PUBLIC,
    "GET /{path:path}": PUBLIC,
    "GET /static/{path:path}": PUBLIC,
    "GET /api/v1/health": PUBLIC,
    "GET /api/v1/session": PUBLIC,
    "POST /api/v1/session": PUBLIC,
    "DELETE /api/v1/session": PUBLIC,
    # Reads.
    "GET /api/services": VIEWER,
    "GET /api/services/{service}/operations": VIEWER,
    "GET /api/operations": VIEWER,
    "GET /api/traces/{trace_id}": VIEWER,
    "GET /api/traces": VIEWER,
    "GET /api/dependencies": VIEWER,
    "GET /api/v1/status": VIEWER,
    "GET /api/v1/traces/{trace_id}": VIEWER,
    "GET /api/v1/traces": VIEWER,
    "GET /api/v1/services": VIEWER,
    "GET /api/v1/services/{service}/operations": VIEWER,
    "GET /api/v1/dependencies": VIEWER,
    "GET /api/v1/metrics/latency": VIEWER,
    "GET /api/v1/metrics/red": VIEWER,
    "GET /api/v1/openapi.json": VIEWER,
    "GET /api/v1/models": VIEWER,
    "GET /api/v1/models/{name}": VIEWER,
    "GET /api/v1/models/{name}/versions/{version}": VIEWER,
    "GET /api/v1/models/{name}/metrics": VIEWER,
    "GET /api/v1/models/{name}/quality": VIEWER,
    "GET /api/v1/predictions/{prediction_id}": VIEWER,
    "GET /api/v1/lineage/{trace_id}/predictions": VIEWER,
    "GET /api/v1/models/{name}/data-quality": VIEWER,
    "GET /api/v1/models/{name}/explanations": VIEWER,
    "GET /api/v1/models/{name}/compare": VIEWER,
    "GET /api/v1/models/{name}/estimated-quality": VIEWER,
    "GET /api/v1/models/{name}/concept-drift": VIEWER,
    "GET /api/v1/models/{name}/predictions": VIEWER,
    "GET /api/v1/models/{name}/baselines": VIEWER,
    "GET /api/v1/models/{name}/drift": VIEWER,
    "GET /api/v1/models/{name}/signals": VIEWER,
    "GET /api/v1/traces/{trace_id}/logs": VIEWER,
    "GET /api/v1/logs": VIEWER,
    "GET /api/v1/otlp/metrics": VIEWER,
    "GET /api/v1/otlp/metrics/{name}": VIEWER,
    "GET /api/v1/alerts/rules": VIEWER,
    "GET /api/v1/alerts": VIEWER,
    "GET /api/v1/alerts/rules/{name}/series": VIEWER,
    "GET /api/v1/alerts/history": VIEWER,
    "GET /api/v1/alerts/silences": VIEWER,
    "GET /metrics": VIEWER,
    "GET /api/v1/retention": VIEWER,
    # Writes that analysis depends on.
    "POST /api/v1/feedback": EDITOR,
    "POST /api/v1/models/{name}/baselines": EDITOR,
    "POST /api/v1/models/{name}/signals/compute": EDITOR,
        "POST /api/v1/alerts/rules": EDITOR,
    "PUT /api/v1/alerts/rules/{name}": EDITOR,
    "DELETE /api/v1/alerts/rules/{name}": EDITOR,
    "POST /api/v1/alerts/silences": EDITOR,
    "DELETE /api/v1/alerts/silences/{id}": EDITOR,
    "POST /api/v1/alerts/receivers/{name}/test": EDITOR,
    # Access control itself.
    "GET /api/v1/access": ADMIN,
    "GET /api/v1/projects": ADMIN,
    "POST /api/v1/projects": ADMIN,
    "GET /api/v1/tokens": ADMIN,
    "POST /api/v1/tokens": ADMIN,
    "DELETE /api/v1/tokens/{id}": ADMIN,
    "GET /api/v1/audit": ADMIN,
    "POST /api/v1/ingest/quarantine/replay": ADMIN,
    # Compliance: erasing a data subject (audited by its handler, with its report).
    "POST /api/v1/erasure": ADMIN,
    # OTLP/HTTP (:4318).
    "POST /v1/traces": INGEST,
    "POST /v1/logs": INGEST,
    "POST /v1/metrics": INGEST,
}
#: Routes whose successful calls `serve.audit.AuditTrail` records, with the action name
#: (access control's own routes record themselves).
AUDITED: dict[str, str] = {
    "POST /api/v1/feedback": "feedback.write",
    "POST /api/v1/models/{name}/baselines": "baseline.upload",
    "GET /api/v1/models/{name}/predictions": "export",
    "POST /api/v1/ingest/quarantine/replay": "quarantine.replay",
    "POST /api/v1/alerts/rules": "alert_rule.write",
    "PUT /api/v1/alerts/rules/{name}": "alert_rule.write",
    "DELETE /api/v1/alerts/rules/{name}": "alert_rule.delete",
}
#: Every gRPC method on :4317.
GRPC_ROLE = INGEST
#: What a route without a rule needs (fail closed); `GET /api/v1/access` lists such routes.
UNRULED = ADMIN
#: What an unknown path or method needs: any valid credential, so only callers who may
#: use the API learn which paths exist (404/405).
UNKNOWN = "any"
_SCOPE_KEY = "spanwise.access_rule"


def allowed(role: str, needed: str) -> bool:
    """Whether a holder of `role` may call a route that needs `needed`."""
    return needed in (PUBLIC, UNKNOWN) or needed in GRANTS.get(role, frozenset())


class RouteTable:
    """The role each route of one app needs, resolved once from `RULES`."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.entries: list[tuple[Route, dict[str, str]]] = []  # route, method -> rule key
        for route in routes:
            if isinstance(route, Route):
                keys = {m: f"{'GET' if m == 'HEAD' else m} {route.path}" for m in sorted(route.methods or ())}
                self.entries.append((route, keys))
        self.unruled = sorted({key for _, keys in self.entries for key in keys.values() if key not in RULES})

    def _key(self, scope: Scope) -> str | None:
        """The rule key ("METHOD /template") of the route that takes this request, found
        once per request (the access check and the audit trail both ask)."""
        if _SCOPE_KEY not in scope:
            scope[_SCOPE_KEY] = next((keys.get(scope["method"]) for route, keys in self.entries
                                      if route.matches(scope)[0] == Match.FULL), None)
        found: str | None = scope[_SCOPE_KEY]
        return found

    def needed(self, scope: Scope) -> str:
        """The role a request needs: its route's rule, or UNKNOWN when no route takes it."""
        key = self._key(scope)
        return UNKNOWN if key is None else RULES.get(key, UNRULED)

    def audited(self, scope: Scope) -> str | None:
        """The audit action of the request's route, if it is audited."""
        key = self._key(scope)
        return AUDITED.get(key) if key else None

    def describe(self) -> list[dict[str, str]]:
        """Every route and method with the role it needs (for `GET /api/v1/access`)."""
        return [{"method": method, "path": route.path, "role": RULES.get(key, UNRULED)}
                for route, keys in self.entries for method, key in keys.items() if method != "HEAD"]


def check_exposure(config: Config) -> None:
    """Secure by default: without auth, listen on loopback only, unless the operator said
    the network is trusted. Raises a one-line ConfigError naming the ways out."""
    host = config.server.host
    if config.auth.enabled or config.server.allow_unauthenticated or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host or 'every address'} without authentication: turn auth on "
        "(--auth, auth.enabled: true or SPANWISE_AUTH_ENABLED=true) or, on a trusted network only, "
        "pass --allow-unauthenticated (server.allow_unauthenticated: true)"
    )


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP literal; any other name may resolve anywhere."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
