"""Access control's tables: API tokens (only their SHA-256 hashes), projects, and the
append-only audit log.

Tokens and projects are versioned rows in a ReplacingMergeTree keyed by id (name): a
change (revocation) is an insert with a newer `Version`, reads take the newest version
per key (argMax), so no UPDATE is ever needed. The audit log is only ever inserted into.
"""

from __future__ import annotations

TOKENS_TABLE = "spanwise_auth_tokens"
PROJECTS_TABLE = "spanwise_auth_projects"
AUDIT_TABLE = "spanwise_audit"


def audit_ttl(audit_days: int, has_ttl: bool) -> str | None:
    """The statement that sets the audit log's retention (0 days: forever), if one is needed."""
    if audit_days:
        return f"ALTER TABLE {AUDIT_TABLE} MODIFY TTL toDateTime(At) + toIntervalDay({int(audit_days)})"
    return f"ALTER TABLE {AUDIT_TABLE} REMOVE TTL" if has_ttl else None


def statements() -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {TOKENS_TABLE} (
            Id String,
            Hash String,
            Name String,
            Role LowCardinality(String),
            Project String,
            CreatedMs Int64,
            ExpiresMs Int64,
            Revoked UInt8,
            Version UInt64
        ) ENGINE = ReplacingMergeTree(Version)
        ORDER BY Id""",
        f"""CREATE TABLE IF NOT EXISTS {PROJECTS_TABLE} (
            Name String,
            CreatedMs Int64,
            Version UInt64
        ) ENGINE = ReplacingMergeTree(Version)
        ORDER BY Name""",
        f"""CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
            At DateTime64(3) CODEC(Delta, ZSTD(1)),
            Actor String,
            Address String,
            Action LowCardinality(String),
            Detail String
        ) ENGINE = MergeTree
        ORDER BY At""",
    ]
