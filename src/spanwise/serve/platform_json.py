"""JSON of the platform's own state, exactly as its routes answer: tokens (never their
hash), projects, audit entries, alert state changes and erasure reports. The store and the services hand over frozen values;
only this edge knows the wire."""

from __future__ import annotations

import json
from typing import Any

from spanwise.analyze.erasure import ErasureReport
from spanwise.store.protocols import AlertStateChange, ApiToken, AuditEntry, Project

Json = dict[str, Any]


def token_json(t: ApiToken) -> Json:
    return {"id": t.id, "name": t.name, "role": t.role, "project": t.project, "created_ms": t.created_ms,
            "expires_ms": t.expires_ms, "revoked": t.revoked}


def project_json(p: Project) -> Json:
    return {"name": p.name, "created_ms": p.created_ms}


def audit_entry_json(e: AuditEntry) -> Json:
    """`detail` stays the JSON text it was recorded as."""
    return {"at_ms": e.at_ms, "actor": e.actor, "address": e.address, "action": e.action, "detail": e.detail}


def state_change_json(c: AlertStateChange) -> Json:
    """The labels as an object (the store keeps them as JSON text; none: {})."""
    return {"at_ms": c.at_ms, "rule": c.rule, "fingerprint": c.fingerprint, "from_state": c.from_state,
            "to_state": c.to_state, "value": c.value, "labels": json.loads(c.labels or "{}")}


def erasure_report_json(r: ErasureReport) -> Json:
    return {"project": r.project, "attribute": r.attribute, "hashed_form_erased": r.hashed_form_erased,
            "removed": dict(r.removed), "total": r.total}
