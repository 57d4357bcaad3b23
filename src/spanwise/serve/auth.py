"""API tokens: issued, checked, revoked; the first admin token; projects.

A token is `sw_` + `secrets.token_urlsafe(32)` (256 random bits). The store keeps only its
SHA-256 hash: a slow password hash (bcrypt, argon2) exists to make guessing a *low-entropy*
secret expensive, which buys nothing against 256 random bits, while it would cost every
OTLP request milliseconds. A fast hash still means a leaked table reveals no usable token.
Looking the hash up in a dict is not a timing oracle: a caller cannot choose the bits of
the hash of what they send, so a timing difference tells them nothing about a real token.

Every token lives in memory too (a handful of rows; the store is the record), keyed by
hash, so checking a credential is one hash and one dict lookup, with no store query. This
process is the only writer of the table (one process owns the store), so the memory copy
is never stale: a revocation replaces it before the DELETE answers and takes effect on
the very next request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable, Protocol

from spanwise.errors import InvalidQuery, NotFound
from spanwise.request_context import DEFAULT_PROJECT
from spanwise.serve.access import ADMIN, ROLES
from spanwise.store.protocols import ApiToken, Project, TokenStore

log = logging.getLogger(__name__)
TOKEN_PREFIX = "sw_"
ADMIN_TOKEN_FILE = "admin-token"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: At most this many tokens and projects (each is held in memory).
MAX_TOKENS = 10_000
MAX_PROJECTS = 1_000


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: one token."""

    token_id: str
    name: str
    role: str
    project: str


class BearerVerifier(Protocol):
    """Bearer credentials other than API tokens (`serve.oidc`: JWTs from an identity provider)."""

    def owns(self, token: str) -> bool:
        """Whether `token` is this verifier's kind (then API tokens are not consulted)."""

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid credential, else None."""

    def principal(self, token_id: str) -> Principal | None:
        """The principal last verified under this id while still valid (web sessions)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Authority:
    """Tokens and projects, checked from memory and written through to the store."""

    def __init__(self, store: TokenStore, clock: Callable[[], float] = time.time,
                 verifier: BearerVerifier | None = None) -> None:
        self._store = store
        self._clock = clock
        self._verifier = verifier
        self._lock = threading.Lock()
        self._tokens: dict[str, ApiToken] = {}  # by id
        self._by_hash: dict[str, ApiToken] = {}
        self._projects: dict[str, int] = {}
        self.reload()

    def reload(self) -> None:
        tokens = self._store.auth_tokens()
        projects = {p.name: p.created_ms for p in self._store.auth_projects()}
        with self._lock:
            self._tokens = {t.id: t for t in tokens}
            self._by_hash = {t.hash: t for t in tokens}
            self._projects = projects

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live token, else None (unknown, revoked or expired); a
        credential the verifier owns (a JWT) is its to check, in a project that exists."""
        if self._verifier is not None and self._verifier.owns(token):
            return self._existing(self._verifier.verify(token))
        record = self._by_hash.get(token_hash(token))
        return self._live(record)

    def principal(self, token_id: str) -> Principal | None:
        """The principal of a live token by id (a web session refers to its token by id)."""
        found = self._live(self._tokens.get(token_id))
        if found is None and self._verifier is not None:
            return self._existing(self._verifier.principal(token_id))
        return found

    def _existing(self, principal: Principal | None) -> Principal | None:
        if principal is not None and principal.project not in self._projects:
            log.info("auth: %s names project %r, which does not exist; refused", principal.token_id, principal.project)
            return None
        return principal

    def _live(self, record: ApiToken | None) -> Principal | None:
        if record is None or record.revoked:
            return None
        if record.expires_ms and record.expires_ms <= self._clock() * 1000:
            return None
        return Principal(record.id, record.name, record.role, record.project)

    def issue(self, name: str, role: str, project: str, expires_ms: int = 0) -> tuple[str, str]:
        """A new token: (id, token). The token is shown once and never stored."""
        _check_name(name, "name")
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidQuery(f"role: unknown role {role!r} (one of {', '.join(ROLES)})")
        if not isinstance(project, str) or project not in self._projects:  # a JSON object is unhashable
            raise InvalidQuery(f"project: no project {project!r} (create it with POST /api/v1/projects)")
        now_ms = int(self._clock() * 1000)
        if expires_ms and expires_ms <= now_ms:
            raise InvalidQuery("expires: must be in the future")
        if len(self._tokens) >= MAX_TOKENS:
            raise InvalidQuery(f"at most {MAX_TOKENS} tokens: revoke some first")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(secrets.token_hex(8), token_hash(token), name, role, project, now_ms, expires_ms, revoked=False)
        self._put(record)
        return record.id, token

    def revoke(self, token_id: str) -> ApiToken:
        """Revoke a token at once; NotFound for an unknown id."""
        record = self._tokens.get(token_id)
        if record is None:
            raise NotFound(f"no token {token_id!r}")
        revoked = replace(record, revoked=True)
        self._put(revoked)
        return revoked

    def _put(self, record: ApiToken) -> None:
        """Store first (a failure leaves memory as it was), then swap it in."""
        self._store.put_token(record)
        with self._lock:
            old = self._tokens.get(record.id)
            if old is not None:
                self._by_hash.pop(old.hash, None)
            self._tokens = self._tokens | {record.id: record}
            self._by_hash = self._by_hash | {record.hash: record}

    def tokens(self) -> list[ApiToken]:
        """Every token, oldest first."""
        return sorted(self._tokens.values(), key=lambda t: t.created_ms)

    def projects(self) -> list[Project]:
        return [Project(name, created) for name, created in sorted(self._projects.items())]

    def has_project(self, name: str) -> bool:
        return name in self._projects

    def create_project(self, name: str) -> Project:
        _check_name(name, "name")
        if name in self._projects:
            raise InvalidQuery(f"name: project {name!r} exists")
        if len(self._projects) >= MAX_PROJECTS:
            raise InvalidQuery(f"at most {MAX_PROJECTS} projects")
        project = Project(name, int(self._clock() * 1000))
        self._store.put_project(project)
        with self._lock:
            self._projects = self._projects | {name: project.created_ms}
        return project

    def bootstrap(self, data_dir: str) -> str | None:
        """On a start with auth and no live admin token: the default project and a new admin
        token, written to `<data_dir>/admin-token` (mode 0600). Returns the token, else None."""
        if DEFAULT_PROJECT not in self._projects:
            self.create_project(DEFAULT_PROJECT)
        live = (self._live(t) for t in self._tokens.values())
        if any(p is not None and p.role == ADMIN for p in live):
            return None
        _, token = self.issue("admin", ADMIN, DEFAULT_PROJECT)
        path = os.path.join(data_dir, ADMIN_TOKEN_FILE)
        if os.path.exists(path):
            os.remove(path)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        return token


def _check_name(name: object, field: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidQuery(f"{field}: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit")


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
