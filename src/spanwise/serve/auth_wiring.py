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
from spanwise.store.sql_tokens import TokenStore

log = logging.getLogger(__name__)


@dataclass
class AuthParts:
    authority: Authority
    sessions: Sessions
    limiter: SignInLimiter
    audit: AuditLog


def build_auth(config: Config, store: object) -> AuthParts:
    """Tokens from the store; on the first start (no live admin token) a new admin token,
    written to `<data_dir>/admin-token` and logged this once."""
    if not isinstance(store, TokenStore):
        raise ConfigError("this store backend does not support auth")
    store.prepare_tokens(config.auth.audit_days)
    authority = Authority(store)
    data_dir = os.path.abspath(config.server.data_dir)
    token = authority.bootstrap(data_dir)
    if token:
        log.warning("auth: created an admin token (shown only this once; also in %s, mode 0600): %s",
                    os.path.join(data_dir, ADMIN_TOKEN_FILE), token)
    return AuthParts(authority, Sessions(config.auth.session_hours), SignInLimiter(config.auth.signin_per_minute),
                     AuditLog(store))


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
