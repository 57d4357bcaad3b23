"""A prediction whose trace head sampling dropped still has its page: pasting its 32-hex
SDK prediction id into the top-bar box opens the prediction from the predictions table
(model, version, output, scores, ground truth, features, attributions) and says why there
is no trace; a prediction whose trace is stored opens that trace with its span selected,
and a trace id still opens its trace."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from playwright.sync_api import expect
from server_process import SpanwiseProcess

from spanwise.sdk import Spanwise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """Head sampling keeps no trace of the `dropped` service and every trace of the rest."""
    root = tmp_path_factory.mktemp("prediction-page")
    config = os.path.join(root, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("sampling:\n  enabled: true\n  default_rate: 1.0\n  service_rates: {dropped: 0.0}\n")
    process = SpanwiseProcess(os.path.join(root, "data"), ["--config", config])
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def ids(server: SpanwiseProcess) -> dict[str, str]:
    found = {}
    for service in ("dropped", "kept"):
        sw = Spanwise(service, server.http_url, protocol="http/protobuf", api_url=server.query_url,
                      logs=False, metrics=False, schedule_delay_s=0.1)
        found[service] = sw.record_prediction(
            "churn", "v7", features={"tenure": 14.0, "plan": "gold"}, label="stay",
            scores={"stay": 0.8, "churn": 0.2}, attributions={"tenure": 0.31})
        assert sw.flush(10)
        assert server.wait_for(lambda: server.query(f"/api/v1/predictions/{found[service]}").status_code == 200)
        sw.feedback(found[service], "churn")
        assert sw.flush(10)
        sw.shutdown(2)
    return found


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess, ids: dict[str, str]) -> str:
    dropped = server.query(f"/api/v1/predictions/{ids['dropped']}").json()
    assert dropped["label"] == "churn" and server.query(f"/api/v1/traces/{dropped['trace_id']}").status_code == 404
    return server.query_url


def test_a_pasted_prediction_id_of_a_sampled_out_trace_shows_the_prediction(ui, ids: dict[str, str]) -> None:
    prediction_id = ids["dropped"]
    assert len(prediction_id) == 32 and int(prediction_id, 16) >= 0
    page = ui.open("/traces")
    page.fill("#open-id", prediction_id)
    page.press("#open-id", "Enter")
    expect(page).to_have_url(f"{ui.base_url}/prediction/{prediction_id}")
    expect(page.locator("#prediction-id")).to_have_text(prediction_id)
    expect(page.locator("#prediction-meta")).to_contain_text("churn")
    expect(page.locator("#prediction-meta")).to_contain_text("v7")
    expect(page.locator(".page-body")).to_contain_text("is not stored: sampling dropped it")
    expect(page.locator("#ai-prediction-id")).to_have_text(prediction_id)
    expect(page.locator("#ai-prediction")).to_contain_text("stay")
    expect(page.locator("#ai-ground-truth")).to_contain_text("churn")
    expect(page.locator("#ai-ground-truth")).to_contain_text("wrong")
    expect(page.locator("#ai-panel")).to_contain_text("stay: 0.8")
    expect(page.locator("#ai-features tr[data-feature='tenure']")).to_contain_text("14")
    expect(page.locator("#ai-features tr[data-feature='tenure']")).to_contain_text("0.31")
    expect(page.locator("#ai-features tr[data-feature='plan']")).to_contain_text("gold")
    expect(page.locator("#lineage")).to_contain_text("Unknown: span links (the lineage) are stored with the trace")
    ui.shot("sampled-out")
    # Chromium logs every 404 answer as a console error: here exactly the two expected
    # probes of the missing trace (the id box's and the prediction page's); nothing else.
    probes = [e for e in ui.errors if "status of 404" in e]
    assert len(probes) == 2 and len(ui.errors) == 2, ui.errors
    ui.errors.clear()


def test_a_pasted_prediction_id_with_a_stored_trace_opens_its_span(ui, server: SpanwiseProcess, ids: dict[str, str]) -> None:
    found = server.query(f"/api/v1/predictions/{ids['kept']}").json()
    page = ui.open("/models")
    page.fill("#open-id", ids["kept"])
    page.press("#open-id", "Enter")
    expect(page).to_have_url(f"{ui.base_url}/trace/{found['trace_id']}?span={found['span_id']}")
    expect(page.locator("#ai-prediction-id")).to_have_text(ids["kept"])
    assert len(ui.errors) == 1 and "status of 404" in ui.errors[0], ui.errors  # the id box's trace probe
    ui.errors.clear()
    page.fill("#open-id", found["trace_id"].upper())
    page.press("#open-id", "Enter")
    expect(page).to_have_url(f"{ui.base_url}/trace/{found['trace_id']}")
    expect(page.locator(".wf-row")).to_have_count(1)  # a stored trace: no probe of predictions
