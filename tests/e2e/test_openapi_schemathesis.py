"""schemathesis against the live OpenAPI description (`/api/v1/openapi.json`) of a real server
with auth on and predictions stored: with the admin token no operation answers 5xx, and every
status, content type and error body it answers is the documented one; without a credential
every operation but the public ones answers 401. Bounded and derandomized: every run sends
the same requests.

The operations are only known once the server runs, and schemathesis' fixture-based pytest
loader (`schemathesis.pytest.from_fixture`) fails on pytest 9 (it sets `node._nodeid`), so each
test walks the operations itself, building each one's test as schemathesis' pytest plugin does
(its examples, coverage and fuzzing phases, valid and invalid input), and fails listing every
failing operation with the curl command that reproduces it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from model_data import PIPELINE_TRACE, export_request, feedback_records, predictions
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)
from server_process import SpanwiseProcess

from spanwise.serve.access import PUBLIC, RULES
from spanwise.serve.host_check import WRITE_TYPES

pytestmark = pytest.mark.slow

Check = Callable[..., Any]


def _names(*values: str) -> dict[str, list[str]]:
    return {"values": list(values)}


#: Credentials are the test's to send (or not), none are generated from the security schemes;
#: path parameters name stored data more often than not, so generated requests also reach the
#: code behind "unknown model" (e.g. drift of a real model with a hostile `method`).
_CONFIG = schemathesis.Config.from_dict({
    "generation": {"mode": "all", "with-security-parameters": False},
    "phases": {"stateful": {"enabled": False}},
    "dictionaries": {"model": _names("churn", "price", "iris"), "version": _names("v1", "v2", "r1"),
                     "trace": _names(f"{1:032x}", PIPELINE_TRACE), "prediction": _names("churn-1", "price-3")},
    "parameters": {"path.name": {"dictionary": "model", "probability": 0.6},
                   "path.version": {"dictionary": "version", "probability": 0.6},
                   "path.trace_id": {"dictionary": "trace", "probability": 0.6},
                   "path.prediction_id": {"dictionary": "prediction", "probability": 0.6}},
})
#: Operations the admin run leaves out because they would undo the test's own setup:
#: revoking a token could revoke the admin token every later call authenticates with.
_KEEPS_SETUP = {"DELETE /api/v1/tokens/{id}"}


def _bounded(examples: int) -> settings:
    """Few examples, always the same ones; no shrinking: a failure is reported as found."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """Auth on, with the model tests' predictions stored and labelled."""
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("schemathesis-data")), auth=True)
    process.start()
    rows = predictions()
    sent = httpx.post(f"{process.http_url}/v1/traces", content=export_request(rows),
                      headers={**process.auth_headers(), "Content-Type": "application/x-protobuf"})
    assert sent.status_code == 200, sent.text
    assert process.wait_for_spans(len(rows)) == len(rows)
    labelled = httpx.post(f"{process.query_url}/api/v1/feedback", json=feedback_records(rows),
                          headers=process.auth_headers())
    assert labelled.status_code == 200, labelled.text
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def api_schema(server: SpanwiseProcess) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{server.query_url}/api/v1/openapi.json", config=_CONFIG,
                                           headers=server.auth_headers())
    loaded.config.update(base_url=server.query_url)
    return loaded


def _key(operation: schemathesis.APIOperation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _fuzz(api_schema: schemathesis.BaseSchema, headers: dict[str, str], checks: list[Check], examples: int,
          skip: set[str] = set()) -> tuple[int, dict[str, str]]:
    """Test every operation but `skip`; (operations tested, failure report by operation)."""
    failures: dict[str, str] = {}
    tested = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if _key(operation) in skip:
            continue

        def send(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=checks, timeout=30)

        test = build_operation_test(config=api_schema.config, operation=operation, test_func=send, given_kwargs={},
                                    feedback=FeedbackSources(), explicit_settings=_bounded(examples))
        tested += 1
        try:
            test()
        except (Exception, FailureGroup) as exc:  # every failing operation is reported, not just the first
            failures[_key(operation)] = str(exc)[:3000]
    return tested, failures


def _report(failures: dict[str, str]) -> str:
    return f"{len(failures)} failing:\n" + "\n\n".join(f"== {k}\n{v}" for k, v in sorted(failures.items()))


def test_with_the_admin_token_answers_are_documented_and_never_5xx(
    server: SpanwiseProcess, api_schema: schemathesis.BaseSchema
) -> None:
    checks: list[Check] = [not_a_server_error, status_code_conformance, content_type_conformance,
                           response_schema_conformance]
    tested, failures = _fuzz(api_schema, server.auth_headers(), checks, examples=6, skip=_KEEPS_SETUP)
    assert tested >= 50, f"only {tested} operations described"
    assert not failures, _report(failures)


def _refused_without_credential(refused: set[str]) -> Check:
    """A check: 401 from every non-public operation, whose key it adds to `refused`. Two
    answers come first and say nothing about the route: the request guard's 415 for a write
    whose Content-Type the API never reads (it looks at headers before credentials), and
    whatever a probe with another method gets (a GET falls to the web UI's public catch-all:
    the 404 of any unknown path)."""
    def check(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
        key = _key(case.operation)
        if RULES.get(key) == PUBLIC or case.method.upper() != case.operation.method.upper():
            return
        sent_type = response.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code == 415 and response.request.body and sent_type not in WRITE_TYPES:
            return
        assert response.status_code == 401, f"{response.status_code} without a credential (needs {RULES.get(key)})"
        refused.add(key)
    return check


def test_without_a_credential_every_private_operation_is_401(
    server: SpanwiseProcess, api_schema: schemathesis.BaseSchema
) -> None:
    refused: set[str] = set()
    tested, failures = _fuzz(api_schema, {}, [not_a_server_error, _refused_without_credential(refused)], examples=2)
    assert not failures, _report(failures)
    private = {_key(r.ok()) for r in api_schema.get_all_operations()} - {k for k, role in RULES.items() if role == PUBLIC}
    assert tested >= 50 and refused == private, f"never checked: {sorted(private - refused)}"
