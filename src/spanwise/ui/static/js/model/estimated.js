// Estimated performance on the Quality tab: accuracy estimated from the scores of every
// prediction (CBPE, `/api/v1/models/{name}/estimated-quality`) beside realized accuracy
// from labels, on one chart, with the calibration check that says whether to trust it.

import { getJSON } from '../api.js';
import { chart, lineSeries, timeAxis, timeTooltip } from '../charts.js';
import { badge, colorFor, fmtNumber, fmtPercent, h, note } from '../dom.js';
import { chartGrid, panel } from './parts.js';
import { rangeParams } from './range.js';

/** A panel that fills itself in when the estimate arrives. */
export function estimatedPanel(name, state, range) {
  const body = h('div', { id: 'estimated-quality' }, note('loading', 'Estimating performance from scores…'));
  load(body, name, state, range);
  return panel('Estimated vs realized accuracy',
    'estimated from every prediction\'s scores (CBPE: no labels needed) · realized from the labels that arrived', body);
}

async function load(body, name, state, range) {
  let found;
  try {
    found = await getJSON(`/api/v1/models/${encodeURIComponent(name)}/estimated-quality`, {
      ...rangeParams(range), step: range.step, version: state.version, positive_label: state.positive,
    });
  } catch (err) {
    body.replaceChildren(note('empty', `No estimate: ${err.message}`));
    return;
  }
  const c = found.calibration;
  const trust = h('div', { class: 'estimate-trust' },
    c.trustworthy ? badge('calibrated', 'ok') : badge('not trustworthy', 'error'), ' ', c.reason,
    c.trustworthy ? ` (${fmtNumber(c.labelled)} labelled predictions checked)` : '');
  const el = h('div', { class: 'chart small', id: 'chart-estimated' });
  body.replaceChildren(trust, el);
  drawChart(el, found.windows, range);
}

function drawChart(el, windows, range) {
  const series = [];
  const versions = [...new Set(windows.map((w) => w.version))];
  for (const version of versions) {
    const mine = windows.filter((w) => w.version === version).sort((a, b) => Number(a.start_unix_nano) - Number(b.start_unix_nano));
    const at = (w) => Number(w.start_unix_nano) / 1e6;
    series.push(lineSeries(`${version} estimated`, mine.map((w) => [at(w), w.estimated.accuracy]), {
      color: colorFor(version), showSymbol: true, symbolSize: 5, lineStyle: { type: 'dashed' },
    }));
    series.push(lineSeries(`${version} realized`, mine.filter((w) => w.realized).map((w) => [at(w), w.realized.accuracy]), {
      color: colorFor(version), showSymbol: true, symbolSize: 7,
    }));
  }
  chart(el, {
    grid: chartGrid(), legend: { top: 0, right: 8, type: 'scroll', data: series.map((s) => s.name) },
    xAxis: { ...timeAxis, min: range.windows[0] * 1000, max: (range.end + range.step / 2) * 1000 },
    yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => fmtPercent(v, 0) } },
    tooltip: timeTooltip((v) => fmtPercent(v)),
    series,
  });
}
