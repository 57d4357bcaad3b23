"""Time axes in a real browser: ECharts' default labels show the day of the month alone at
midnight ("3"), which reads as 3 o'clock; Spanwise's time axis says "Dec 3" instead."""

from __future__ import annotations

import re

import pytest
from server_process import SpanwiseProcess

HOUR_LABEL = re.compile(r"^\d\d:\d\d$")
DAY_LABEL = re.compile(r"^[A-Z][a-z]{2} \d{1,2}$")

# Draws charts.js' time axis with the SVG renderer (its labels are then text in the DOM)
# over 24 hours around the browser's local midnight, and returns the labels.
DRAW = """async () => {
  const echarts = await import('/static/vendor/echarts/echarts.esm.min.mjs');
  const { timeAxis } = await import('/static/js/charts.js');
  const el = document.createElement('div');
  el.style.cssText = 'width: 900px; height: 200px';
  document.body.append(el);
  const midnight = new Date(2026, 11, 3).getTime();
  const chart = echarts.init(el, null, { renderer: 'svg' });
  chart.setOption({ animation: false, xAxis: timeAxis, yAxis: { type: 'value', show: false },
    series: [{ type: 'line', data: [[midnight - 12 * 3600e3, 1], [midnight + 12 * 3600e3, 2]] }] });
  return [...el.querySelectorAll('text')].map((t) => t.textContent);
}"""


@pytest.fixture(scope="module")
def base_url(server: SpanwiseProcess) -> str:
    return server.query_url


def test_midnight_is_labelled_with_the_date(ui) -> None:  # type: ignore[no-untyped-def]
    page = ui.open("/services")
    labels = page.evaluate(DRAW)
    assert labels and all(HOUR_LABEL.match(t) or DAY_LABEL.match(t) for t in labels), labels
    assert "Dec 3" in labels, labels
