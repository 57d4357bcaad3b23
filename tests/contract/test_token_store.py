"""Access control's tables on a real store: tokens by hash with revocation as a newer
version, projects, the append-only audit log and its retention; `Authority` on top."""

from __future__ import annotations

import time
from typing import Any

import pytest

from spanwise.errors import InvalidQuery, NotFound
from spanwise.serve.auth import Authority, token_hash
from spanwise.store.protocols import AuditEntry, Project, TokenStore

PROTOCOLS = (TokenStore,)


def test_tokens_are_stored_hashed_and_revoked_at_once(store: Any, tmp_path: Any) -> None:
    now = [1_000_000.0]
    authority = Authority(store, clock=lambda: now[0])
    admin = authority.bootstrap(str(tmp_path))
    assert admin and authority.authenticate(admin).role == "admin"  # type: ignore[union-attr]
    assert authority.bootstrap(str(tmp_path)) is None, "one live admin token is enough"
    assert store.auth_projects() == [Project("default", 1_000_000_000)]
    token_id, token = authority.issue("ci", "ingest", "default", expires_ms=int(now[0] * 1000) + 5000)
    stored = {t.id: t for t in store.auth_tokens()}
    assert stored[token_id].hash == token_hash(token) and token not in str(stored)
    assert authority.authenticate(token).role == "ingest"  # type: ignore[union-attr]
    now[0] += 6
    assert authority.authenticate(token) is None, "expired"
    viewer_id, viewer = authority.issue("v", "viewer", "default")
    authority.revoke(viewer_id)
    assert authority.authenticate(viewer) is None
    fresh = Authority(store, clock=lambda: now[0])
    assert fresh.authenticate(viewer) is None and fresh.authenticate(admin) is not None, "the store is the record"
    with pytest.raises(NotFound):
        authority.revoke("nope")
    with pytest.raises(InvalidQuery):
        authority.issue("x", "viewer", "no-such-project")


def test_audit_log_is_append_only_with_retention(store: Any) -> None:
    now_ms = time.time_ns() // 1_000_000
    store.append_audit([AuditEntry(now_ms, "a", "10.0.0.1", "export", "{}")])
    assert store.audit_entries(now_ms - 1000, now_ms + 1000, "export") == [AuditEntry(now_ms, "a", "10.0.0.1", "export", "{}")]
    assert store.audit_entries(now_ms - 1000, now_ms + 1000, "signin") == []
    store._token_tables_ready = False
    store.prepare_tokens(7)
    created = store._query("SELECT create_table_query AS q FROM system.tables WHERE name = 'spanwise_audit'").to_pylist()
    assert "toIntervalDay(7)" in created[0]["q"]
    store._token_tables_ready = False
    store.prepare_tokens(0)
    created = store._query("SELECT create_table_query AS q FROM system.tables WHERE name = 'spanwise_audit'").to_pylist()
    assert " TTL " not in created[0]["q"]
