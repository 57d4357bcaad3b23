"""An identity provider's public signing keys (a JWKS), from a file or a URL, kept fresh.

Keys live in memory by key id and are swapped whole, so the request path (`find`) only
reads a dict: it never does I/O and never waits, even on the event loop. Loading happens
at `start()` and then on a background thread: every `jwks_refresh_s`, and soon after a
token names a key id not in the set (the provider rotated its keys), but never sooner than
`jwks_refresh_min_s` after the previous load, so a flood of made-up key ids costs at most
one fetch per that interval. The request that named the new key is refused (it cannot
wait without stalling the loop); its retry, once the new set is in, is accepted. Providers
publish a new key before signing with it, so the periodic refresh usually has it first.

A load that fails or finds no usable key keeps the keys held so far: a provider's outage
or a broken proxy must not sign everyone out.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from spanwise.config import OidcConfig
from spanwise.errors import ConfigError

log = logging.getLogger(__name__)
MAX_JWKS_BYTES = 1024 * 1024
MAX_KEYS = 100
#: Key types that sign with the allowed (asymmetric) algorithms; `oct` (HMAC) never.
KEY_TYPES = ("RSA", "EC", "OKP")


class JwksKeys:
    """The current key set, loaded from `jwks_file` or `jwks_url`; start() / shutdown()."""

    def __init__(self, config: OidcConfig) -> None:
        self._config = config
        self._source = config.jwks_file or config.jwks_url
        self._keys: dict[str | None, Key] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Before anything starts: a `jwks_file` that cannot be read or parsed is a
        ConfigError (a URL is not checked: the provider may be down for a moment)."""
        if self._config.jwks_file:
            try:
                self._load()
            except (OSError, ValueError) as exc:
                raise ConfigError(f"auth.oidc.jwks_file: {exc}") from exc

    def start(self) -> None:
        """Load once now and start the refresher; a load that fails is logged and retried
        by the refresher (API tokens keep working meanwhile)."""
        if self._thread is not None:
            return
        try:
            self._keys = self._load()
        except (OSError, ValueError) as exc:
            log.warning("OIDC: cannot load the JWKS from %s (retrying in the background): %s", self._source, exc)
        self._thread = threading.Thread(target=self._run, name="oidc-jwks", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self._config.jwks_timeout_s + 1)

    def find(self, kid: str | None) -> Key | None:
        """The key a token names; without a `kid`, the only key if there is exactly one.
        An unknown id asks the refresher for a new set and answers None."""
        keys = self._keys
        if kid is None:
            return next(iter(keys.values())) if len(keys) == 1 else None
        key = keys.get(kid)
        if key is None:
            self._wake.set()
        return key

    def _run(self) -> None:
        """Reload every `jwks_refresh_s`, or when woken, at most once per `jwks_refresh_min_s`."""
        config = self._config
        while not self._stop.wait(config.jwks_refresh_min_s):
            self._wake.wait(config.jwks_refresh_s - config.jwks_refresh_min_s)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                keys = self._load()
            except (OSError, ValueError) as exc:
                log.warning("OIDC: cannot reload the JWKS from %s (keeping the %d keys held): %s",
                            self._source, len(self._keys), exc)
                continue
            if set(keys) != set(self._keys):
                log.info("OIDC: key ids now %s", sorted(str(k) for k in keys))
            self._keys = keys

    def _load(self) -> dict[str | None, Key]:
        return parse_jwks(self._read())

    def _read(self) -> bytes:
        if self._config.jwks_file:
            if os.path.getsize(self._config.jwks_file) > MAX_JWKS_BYTES:
                raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
            with open(self._config.jwks_file, "rb") as handle:
                return handle.read()
        request = urllib.request.Request(self._config.jwks_url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=self._config.jwks_timeout_s) as response:
            data: bytes = response.read(MAX_JWKS_BYTES + 1)
        if len(data) > MAX_JWKS_BYTES:
            raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
        return data


def parse_jwks(data: bytes) -> dict[str | None, Key]:
    """The signing keys of a JWKS document by key id. Encryption keys, HMAC keys and
    entries that do not parse are left out (logged); no usable key at all is an error."""
    try:
        document: Any = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('not a JWKS: expected {"keys": [...]}')
    keys: dict[str | None, Key] = {}
    for index, entry in enumerate(entries[:MAX_KEYS]):
        if not isinstance(entry, dict) or entry.get("kty") not in KEY_TYPES or entry.get("use", "sig") != "sig":
            log.info("OIDC: JWKS key %d is not a signing key of type %s; skipped", index, "/".join(KEY_TYPES))
            continue
        public = {k: v for k, v in entry.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "oth")}
        try:
            key = JWKRegistry.import_key(public)
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("OIDC: JWKS key %d does not parse; skipped: %s", index, exc)
            continue
        keys.setdefault(key.kid, key)
    if not keys:
        raise ValueError("no usable signing key (RSA, EC or OKP with use 'sig')")
    return keys
