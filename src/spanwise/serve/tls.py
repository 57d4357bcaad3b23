"""TLS for the three listeners from PEM files, reloaded when the files change.

`ServerTls` loads `tls.cert_file`, `tls.key_file` and `tls.client_ca_file` once at start
(any problem is a one-line ConfigError naming the file: the server refuses to start), hands
the listeners what they take (an `ssl.SSLContext` for each uvicorn port, dynamic credentials
for gRPC), and then checks the files every `tls.reload_interval_s`. A changed set is loaded
whole, off the event loop, and only a set that loads replaces the current one: new
connections get it, open ones keep theirs. A set that does not load (a half-written file, a
key that does not match yet) keeps the current certificate and logs a warning once per change.

With `client_ca_file`, the OTLP ports require a client certificate signed by it (mutual TLS);
the query API and UI never ask for one, so browsers need no client certificate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

import grpc

from spanwise.config import TlsConfig
from spanwise.errors import ConfigError

log = logging.getLogger(__name__)

#: What identifies a version of a file without reading it: (inode, size, mtime_ns), None if absent.
Signature = tuple[tuple[int, int, int] | None, ...]


class _ChangedWhileLoading(Exception):
    """A file changed between reading it and building the contexts: try again next time."""


class _Encrypted(Exception):
    """OpenSSL asked for a password: the key is encrypted (it would otherwise prompt on the terminal)."""


@dataclass(frozen=True)
class _Loaded:
    """One consistent set of files and the contexts built from exactly these bytes."""

    cert: bytes
    key: bytes
    client_ca: bytes | None
    ingest: ssl.SSLContext  # OTLP/HTTP: asks for a client certificate when client_ca is set
    query: ssl.SSLContext  # query API and UI: never asks

    def grpc_config(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration([(self.key, self.cert)], root_certificates=self.client_ca)


class ReloadingContext(ssl.SSLContext):
    """The SSLContext a listener keeps for its lifetime; each new connection is wrapped by
    `latest`, the context built from the newest good files. (Swapping whole contexts, rather
    than loading new files into a live one, means no handshake ever sees half an update.)"""

    latest: ssl.SSLContext

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
                 server_hostname: str | bytes | None = None, session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        return self.latest.wrap_bio(incoming, outgoing, server_side, server_hostname, session)

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        return self.latest.wrap_socket(sock, *args, **kwargs)


def _reloading(context: ssl.SSLContext) -> ReloadingContext:
    holder = ReloadingContext(ssl.PROTOCOL_TLS_SERVER)
    holder.latest = context
    return holder


class ServerTls:
    """Owns the certificate files: loads them, watches them, serves the newest good set."""

    def __init__(self, config: TlsConfig) -> None:
        """Load the files now; a missing, unreadable or mismatched one raises ConfigError."""
        self.config = config
        self._seen = _signature(config)
        self._loaded = _load_settled(config)
        self.ingest_context = _reloading(self._loaded.ingest)
        self.query_context = _reloading(self._loaded.query)
        self._grpc_next: grpc.ServerCertificateConfiguration | None = None
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        log.info("TLS on every port from %s%s", config.cert_file,
                 f"; OTLP ports require client certificates signed by {config.client_ca_file}" if self.mutual else "")

    @property
    def mutual(self) -> bool:
        return self._loaded.client_ca is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for the gRPC port; gRPC asks `_fetch_grpc` for news before each new connection."""
        return grpc.dynamic_ssl_server_credentials(self._loaded.grpc_config(), self._fetch_grpc,
                                                   require_client_authentication=self.mutual)

    def _fetch_grpc(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC's own threads: the reloaded configuration once, else None (no change)."""
        with self._lock:
            fresh, self._grpc_next = self._grpc_next, None
        return fresh

    def start(self) -> None:
        """Watch the files from the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_interval_s)
            await self.reload_if_changed()

    async def reload_if_changed(self) -> bool:
        """Load the files if they changed since the last attempt; True when a new set is in use."""
        signature = await asyncio.to_thread(_signature, self.config)
        if signature == self._seen:
            return False
        try:
            loaded = await asyncio.to_thread(_load, self.config)
        except _ChangedWhileLoading:
            return False  # still being written: the next check sees the finished files
        except ConfigError as exc:
            self._seen = signature
            log.warning("TLS: keeping the current certificate, the changed files do not load: %s", exc)
            return False
        self._seen = signature
        self._loaded = loaded
        self.ingest_context.latest, self.query_context.latest = loaded.ingest, loaded.query
        with self._lock:
            self._grpc_next = loaded.grpc_config()
        log.info("TLS: reloaded the certificate from %s", self.config.cert_file)
        return True


def server_tls(config: TlsConfig) -> ServerTls | None:
    """The listeners' TLS when `tls.cert_file` is set, else None (plain TCP)."""
    return ServerTls(config) if config.enabled else None


def _paths(config: TlsConfig) -> list[tuple[str, str]]:
    named = [("tls.cert_file", config.cert_file), ("tls.key_file", config.key_file)]
    return named + ([("tls.client_ca_file", config.client_ca_file)] if config.client_ca_file else [])


def _signature(config: TlsConfig) -> Signature:
    def version(path: str) -> tuple[int, int, int] | None:
        try:
            found = os.stat(path)
        except OSError:
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    return tuple(version(path) for _, path in _paths(config))


def _read(key: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{key} {path}: cannot read it: {exc.strerror}") from exc


def _load(config: TlsConfig) -> _Loaded:
    """Read and check every file, build the contexts from the same paths, then make sure the
    files still hold what was read (else `_ChangedWhileLoading`)."""
    contents = [_read(key, path) for key, path in _paths(config)]
    for (key, path), content in zip(_paths(config), contents):
        if key != "tls.key_file":
            _check_certificates(key, path, content)
    mutual = bool(config.client_ca_file)
    loaded = _Loaded(contents[0], contents[1], contents[2] if mutual else None,
                     _context(config, mutual), _context(config, False))
    if [_read(key, path) for key, path in _paths(config)] != contents:
        raise _ChangedWhileLoading()
    return loaded


def _load_settled(config: TlsConfig) -> _Loaded:
    """`_load`, waiting a moment for files that are being written as the server starts."""
    for _ in range(5):
        try:
            return _load(config)
        except _ChangedWhileLoading:
            time.sleep(0.2)
    raise ConfigError(f"tls.cert_file {config.cert_file}: the TLS files kept changing while being loaded")


def _check_certificates(key: str, path: str, content: bytes) -> None:
    """`content` holds at least one PEM certificate, and nothing OpenSSL cannot parse as one."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=content.decode("ascii"))
    except (UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{key} {path}: not a PEM certificate") from exc


def _no_password() -> bytes:
    raise _Encrypted()


def _context(config: TlsConfig, mutual: bool) -> ssl.SSLContext:
    """A server context with the certificate and key; with `mutual`, client certificates
    signed by `client_ca_file` are required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.cert_file, config.key_file, password=_no_password)
    except _Encrypted as exc:
        raise ConfigError(f"tls.key_file {config.key_file}: the key is encrypted; give an unencrypted key "
                          "(readable by this user only)") from exc
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"tls.key_file {config.key_file}: does not match tls.cert_file {config.cert_file}") from exc
        raise ConfigError(f"tls.key_file {config.key_file}: not a PEM private key") from exc
    except OSError as exc:
        raise ConfigError(f"tls.cert_file {config.cert_file} or tls.key_file {config.key_file}: "
                          f"cannot read it: {exc.strerror}") from exc
    if mutual:
        context.verify_mode = ssl.CERT_REQUIRED
        try:
            context.load_verify_locations(cafile=config.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"tls.client_ca_file {config.client_ca_file}: cannot load it ({exc})") from exc
    return context
