"""Access control assembled for the runtime: built once from the config and the store,
then handed to the three listeners (`runtime.SpanwiseServer`)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable

from starlette.middleware import Middleware
from starlette.routing import Route

from spanwise.config import Config
from spanwise.errors import ConfigError
from spanwise.serve.access import RouteTable
from spanwise.serve.audit import AuditLog, AuditTrail
from spanwise.serve.auth import ADMIN_TOKEN_FILE, Authority
from spanwise.serve.auth_api import admin_routes, session_routes
from spanwise.serve.auth_http import AccessControl, Sessions, SignInLimiter
from spanwise.serve.jwks import JwksKeys
from spanwise.serve.oidc import OidcVerifier
from spanwise.store.protocols import TokenStore

log = logging.getLogger(__name__)


@dataclass
class AuthParts:
    authority: Authority
    sessions: Sessions
    limiter: SignInLimiter
    audit: AuditLog
    oidc: OidcVerifier | None = None

    def start(self) -> None:
        """Nothing runs until a JWKS URL is refreshed, which `build_auth` set going."""

    def shutdown(self) -> None:
        if self.oidc is not None:
            self.oidc.shutdown()


def check_auth(config: Config) -> None:
    """What can stop a start, checked before anything starts: a JWKS file that does not parse."""
    if config.auth.enabled and config.auth.oidc.enabled:
        JwksKeys(config.auth.oidc).check()


def build_auth(config: Config, store: object) -> AuthParts:
    """Tokens from the store; on the first start (no live admin token) a new admin token,
    written to `<data_dir>/admin-token` and logged this once."""
    if not isinstance(store, TokenStore):
        raise ConfigError("this store backend does not support auth")
    store.prepare_tokens(config.auth.audit_days)
    oidc = OidcVerifier(config.auth.oidc, JwksKeys(config.auth.oidc)) if config.auth.oidc.enabled else None
    authority = Authority(store, verifier=oidc)
    data_dir = os.path.abspath(config.server.data_dir)
    token = authority.bootstrap(data_dir)
    if token:
        log.warning("auth: created an admin token (shown only this once; also in %s, mode 0600): %s",
                    os.path.join(data_dir, ADMIN_TOKEN_FILE), token)
    if oidc is not None:
        _create_mapped_projects(config, authority)
        oidc.start()
    return AuthParts(authority, Sessions(config.auth.session_hours), SignInLimiter(config.auth.signin_per_minute),
                     AuditLog(store), oidc)


def _create_mapped_projects(config: Config, authority: Authority) -> None:
    """The projects `auth.oidc.mappings` name exist from the start (a project named by a
    token's project claim must be created through the API first)."""
    existing = {p.name for p in authority.projects()}
    for index, mapping in enumerate(config.auth.oidc.mappings):
        if mapping.project not in existing:
            authority.create_project(mapping.project)
            existing.add(mapping.project)
            log.info("auth: created project %r for auth.oidc.mappings[%d]", mapping.project, index)


def auth_routes(parts: AuthParts | None, table: Callable[[], RouteTable]) -> list[Route]:
    """Sign-in routes always (with auth off they answer `{"auth": false}`); the admin routes with auth."""
    if parts is None:
        return session_routes(None, None, None, None)
    return (session_routes(parts.authority, parts.sessions, parts.limiter, parts.audit)
            + admin_routes(parts.authority, table, parts.audit))


def auth_middleware(parts: AuthParts | None, table: RouteTable) -> list[Middleware]:
    """Credential checks, then the audit trail; nothing with auth off."""
    if parts is None:
        return []
    return [Middleware(AccessControl, authority=parts.authority, table=lambda: table, sessions=parts.sessions),
            Middleware(AuditTrail, audit=parts.audit, table=lambda: table)]
