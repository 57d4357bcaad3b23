"""OIDC: a JWT from an identity provider as the bearer credential (`auth.oidc`).

A bearer with three dot-separated parts is a JWT (API tokens, `sw_...`, have no dots).
It is accepted when its signature verifies with the provider's key it names (`serve.jwks`)
under an algorithm the config allows (asymmetric only, chosen by the config and never by
the token: `alg: none` or HS256 with a public key are refused before any key is touched),
`iss` equals the issuer, `aud` holds the audience, and `exp` (required), `nbf` and `iat`
hold within the clock skew. The claims then say who the caller is: the first matching
`mappings` entry, else `role_claim` and `project_claim`. No match: no principal (401).

The principal (`oidc:<sub>`) goes through the same role checks as an API token
(`serve.access`). A web UI session signed in with a JWT refers back to it by that id, so
the last principal seen per subject is remembered until its JWT expires.

Verifying costs one signature check per request (RS256 ~35 us, ES256 ~85 us here), small
beside an OTLP batch, so verified tokens are not cached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from spanwise.config import AUTH_ROLES, OidcConfig
from spanwise.serve.auth import DEFAULT_PROJECT, Principal
from spanwise.serve.jwks import JwksKeys

log = logging.getLogger(__name__)
TOKEN_ID_PREFIX = "oidc:"
MAX_JWT_CHARS = 16 * 1024
MAX_SUBJECT_CHARS = 255
#: Subjects remembered for web sessions (the oldest forgotten first).
REMEMBERED = 10_000


def is_jwt(token: str) -> bool:
    """Three dot-separated parts: a JWS compact serialization."""
    return token.count(".") == 2


class OidcVerifier:
    """JWTs checked against `auth.oidc`; the `serve.auth.BearerVerifier` of an Authority."""

    def __init__(self, config: OidcConfig, keys: JwksKeys, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._keys = keys
        self._clock = clock
        self._algorithms = frozenset(config.algorithms)
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, tuple[Principal, float]] = OrderedDict()  # token id -> (principal, exp)

    def start(self) -> None:
        self._keys.start()

    def shutdown(self) -> None:
        self._keys.shutdown()

    def owns(self, token: str) -> bool:
        return is_jwt(token)

    def verify(self, token: str) -> Principal | None:
        """The principal of a valid JWT that maps to a project and role, else None."""
        try:
            claims = self._claims(token)
        except (JoseError, ValueError, TypeError) as exc:
            log.debug("OIDC: refused a JWT: %s", exc)
            return None
        if claims is None:
            return None
        principal = self._principal(claims)
        if principal is not None:
            self._remember(principal, float(min(claims["exp"], 2**53)))
        return principal

    def principal(self, token_id: str) -> Principal | None:
        """The principal last verified for this id, while its JWT is valid (web sessions)."""
        with self._lock:
            found = self._seen.get(token_id)
        if found is None or found[1] + self._config.clock_skew_s <= self._clock():
            return None
        return found[0]

    def _claims(self, token: str) -> dict[str, Any] | None:
        """Verified and validated claims; None (or a JoseError) when the JWT must be refused."""
        if len(token) > MAX_JWT_CHARS:
            return None
        raw = token.encode("utf-8", "replace")
        header = jws.extract_compact(raw).headers()
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self._algorithms or not (kid is None or isinstance(kid, str)):
            log.debug("OIDC: refused a JWT with alg %r (allowed: %s)", alg, ", ".join(sorted(self._algorithms)))
            return None
        key = self._keys.find(kid)
        if key is None or (key.alg is not None and key.alg != alg):
            log.debug("OIDC: refused a JWT: no key %r for %s", kid, alg)
            return None
        claims = jwt.decode(raw, key, algorithms=[alg]).claims
        self._rules().validate(claims)
        return claims

    def _rules(self) -> JWTClaimsRegistry:
        config = self._config
        return JWTClaimsRegistry(
            now=int(self._clock()), leeway=int(config.clock_skew_s),
            iss={"essential": True, "value": config.issuer}, aud={"essential": True, "value": config.audience},
            exp={"essential": True}, sub={"essential": True})

    def _principal(self, claims: dict[str, Any]) -> Principal | None:
        subject = claims["sub"]
        if len(subject) > MAX_SUBJECT_CHARS:
            return None
        found = grant(self._config, claims)
        if found is None:
            log.info("OIDC: a valid JWT for %r matches no auth.oidc mapping or role claim; refused", subject[:80])
            return None
        named = claim(claims, self._config.name_claim)
        name = named if isinstance(named, str) and named else subject
        return Principal(TOKEN_ID_PREFIX + subject, name[:MAX_SUBJECT_CHARS], found[1], found[0])

    def _remember(self, principal: Principal, expires: float) -> None:
        with self._lock:
            self._seen.pop(principal.token_id, None)
            self._seen[principal.token_id] = (principal, expires)
            while len(self._seen) > REMEMBERED:
                self._seen.popitem(last=False)


def grant(config: OidcConfig, claims: dict[str, Any]) -> tuple[str, str] | None:
    """(project, role) for these claims: the first mapping that matches, else the direct
    role claim (in the project claim's project, or the default one)."""
    for mapping in config.mappings:
        if holds(claim(claims, mapping.claim), mapping.value):
            return mapping.project, mapping.role
    if not config.role_claim:
        return None
    role = claim(claims, config.role_claim)
    project = claim(claims, config.project_claim) if config.project_claim else DEFAULT_PROJECT
    if role not in AUTH_ROLES or not isinstance(project, str) or not project:
        return None
    return project, str(role)


def claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by name; a dotted name not present as such is a path into nested objects
    (`realm_access.roles`), while a namespaced name (`https://example.com/roles`) is found whole."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def holds(value: Any, expected: str) -> bool:
    """A string claim equal to `expected`, or a list-valued claim with it as an element."""
    if isinstance(value, list):
        return expected in (item for item in value if isinstance(item, str))
    return isinstance(value, str) and value == expected
