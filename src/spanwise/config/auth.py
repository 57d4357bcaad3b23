"""`auth.oidc`: JWTs from an identity provider as credentials (see `serve.oidc`).

Typed and validated here like every section; each problem names its key. Role names and
the project name pattern are repeated from `serve.access` and `serve.auth` (config sits
below serve); a test keeps them equal.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: The roles a token may hold (`serve.access.ROLES`).
AUTH_ROLES = ("ingest", "viewer", "editor", "admin")
#: A project name (`serve.auth`).
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: Signature algorithms a JWT may use: asymmetric only. `none` and the HMAC family are never
#: accepted: with HS256 a verifier holding only a *public* key could be made to treat that
#: public key as the shared secret, and anyone can sign with a public key.
OIDC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


@dataclass(frozen=True)
class OidcMappingConfig:
    """A JWT whose claim `claim` equals `value` (or, list-valued, holds it) acts in
    `project` with `role`."""

    claim: str = ""
    value: str = ""
    project: str = ""
    role: str = ""

    def __post_init__(self) -> None:
        missing = [name for name in ("claim", "value", "project", "role") if not getattr(self, name)]
        if missing:
            raise ValueError(f"missing required key(s) {', '.join(missing)}")
        if self.role not in AUTH_ROLES:
            raise ValueError(f"role: unknown role {self.role!r} (one of {', '.join(AUTH_ROLES)})")
        if not PROJECT_NAME.match(self.project):
            raise ValueError("project: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit")


@dataclass(frozen=True)
class OidcConfig:
    """JWTs signed by an identity provider, checked against its JWKS (`jwks_file` or
    `jwks_url`): `iss` must equal `issuer`, `aud` hold `audience`, `exp` (required),
    `nbf` and `iat` hold within `clock_skew_s`, and `alg` be one of `algorithms`.

    A URL is fetched at start, again every `jwks_refresh_s`, and when a token names an
    unknown key id (a rotation), at most once per `jwks_refresh_min_s`; each fetch gives up
    after `jwks_timeout_s`. Who the caller is: the first of `mappings` that matches, else
    `role_claim` (a role name) in `project_claim` (a project name; without it, `default`).
    """

    issuer: str = ""
    audience: str = ""
    jwks_file: str = ""
    jwks_url: str = ""
    algorithms: list[str] = field(default_factory=lambda: ["RS256", "ES256"])
    clock_skew_s: float = 60.0
    jwks_refresh_s: float = 3600.0
    jwks_refresh_min_s: float = 30.0
    jwks_timeout_s: float = 3.0
    name_claim: str = "sub"
    project_claim: str = ""
    role_claim: str = ""
    mappings: list[OidcMappingConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.enabled:
            problems = self._problems()
            if problems:
                raise ValueError("; ".join(problems))

    @property
    def enabled(self) -> bool:
        """Whether any OIDC key is set (then all of it must be valid)."""
        return bool(self.issuer or self.audience or self.jwks_file or self.jwks_url or self.mappings
                    or self.role_claim or self.project_claim)

    def _problems(self) -> list[str]:
        found = [f"{name}: required with OIDC" for name in ("issuer", "audience") if not getattr(self, name)]
        if bool(self.jwks_file) == bool(self.jwks_url):
            found.append("jwks_file or jwks_url: exactly one is required")
        if self.jwks_url:
            found += _url_problems(self.jwks_url)
        bad = [a for a in self.algorithms if a not in OIDC_ALGORITHMS]
        if bad or not self.algorithms:
            found.append(f"algorithms: {', '.join(map(repr, bad)) or 'none given'}; allowed: {', '.join(OIDC_ALGORITHMS)} "
                         "(never 'none' or HS*)")
        if not 0 <= self.clock_skew_s <= 600:
            found.append("clock_skew_s: 0 to 600")
        if not 1 <= self.jwks_refresh_min_s <= self.jwks_refresh_s <= 7 * 86_400:
            found.append("jwks_refresh_min_s and jwks_refresh_s: 1 <= jwks_refresh_min_s <= jwks_refresh_s <= 604800")
        if not 0 < self.jwks_timeout_s <= 30:
            found.append("jwks_timeout_s: more than 0, at most 30")
        if not self.name_claim:
            found.append("name_claim: must not be empty")
        if not self.mappings and not self.role_claim:
            found.append("mappings or role_claim: at least one is required (which role does a token get?)")
        if self.project_claim and not self.role_claim:
            found.append("project_claim: needs role_claim too")
        return found


def _url_problems(url: str) -> list[str]:
    """A JWKS URL must be https (keys fetched in the clear could be swapped on the way),
    except to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return []
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return []
    return [f"jwks_url: must be an https:// URL (http:// only to a loopback address), got {url!r}"]


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
