// Model overview: traffic, latency percentiles, error rate, and the confidence and prediction
// distributions over time, per version (`/api/v1/models/{name}/metrics`); traffic, latency
// and error rate each with "Alert on this".

import { alertOnThis, ruleName } from '../alert_links.js';
import { chart, esc, lineSeries, timeAxis, timeTooltip } from '../charts.js';
import { colorFor, fmtMs, fmtNumber, fmtPercent, h, note, replace } from '../dom.js';
import { card, chartGrid, panel } from './parts.js';
import { fetchMetrics, fmtRate, fmtStep, fmtWindow, nsToSeconds } from './range.js';

export async function render(root, { name, state, range, isCurrent }) {
  const metrics = await fetchMetrics(name, range, state.version);
  if (!isCurrent()) return;
  const points = metrics.points;
  if (!points.length) {
    replace(root, note('empty', `No predictions of ${name}${state.version ? ` ${state.version}` : ''} in the ${range.label.toLowerCase()}.`));
    return;
  }
  const versions = [...new Set(points.map((p) => p.version))].sort();
  const count = points.reduce((n, p) => n + p.count, 0);
  const errors = points.reduce((n, p) => n + p.errors, 0);
  const el = {
    traffic: h('div', { class: 'chart small', id: 'chart-traffic' }),
    latency: h('div', { class: 'chart small', id: 'chart-latency' }),
    errors: h('div', { class: 'chart small', id: 'chart-errors' }),
    confidence: h('div', { class: 'chart small', id: 'chart-confidence' }),
    predictions: h('div', { class: 'chart small', id: 'chart-predictions' }),
  };
  const hasConfidence = points.some((p) => p.confidence.length);
  const hasPredictions = points.some((p) => p.prediction_labels.length || p.prediction_values.length);
  replace(root,
    h('div', { class: 'cards', id: 'overview-cards' },
      card('Predictions', fmtNumber(count)),
      card('Rate', fmtRate(count, range.end - range.start)),
      card('Error rate', fmtPercent(errors / count, 2)),
      card('Latest p95', fmtMs(latestBy(points).latency_ms.p95)),
      card('Versions', versions.join(', '))),
    h('div', { class: 'model-grid' },
      panel('Predictions', [`per ${fmtStep(range.step)} window · `, modelAlert(name, state, 'predictions')], el.traffic),
      panel('Latency', ['p50 / p95 / p99 per version · ', modelAlert(name, state, 'p95_ms', latestBy(points).latency_ms.p95)], el.latency),
      panel('Error rate', ['share of prediction spans with error status · ', modelAlert(name, state, 'error_rate')], el.errors),
      panel('Confidence', 'share of predictions per confidence bin', hasConfidence ? el.confidence
        : note('empty', 'No confidence (ml.prediction.confidence) in this range.')),
      panel('Predictions by output', 'predicted labels, or prediction values in 10 bins', hasPredictions ? el.predictions
        : note('empty', 'No prediction labels or values in this range.'))));
  trafficChart(el.traffic, points, versions, range);
  latencyChart(el.latency, points, versions, range);
  chart(el.errors, {
    grid: chartGrid(), legend: legend(versions), xAxis: timeX(range),
    yAxis: { type: 'value', axisLabel: { formatter: (v) => fmtPercent(v, 0) }, min: 0 },
    tooltip: timeTooltip((v) => fmtPercent(v, 2)),
    series: versions.map((v) => lineSeries(v, series(points, v, (p) => p.error_rate), { color: colorFor(v), showSymbol: true, symbolSize: 5 })),
  });
  if (hasConfidence) distributionChart(el.confidence, points, range, (p) => p.confidence.map((b) => [binLabel(b), b.count]));
  if (hasPredictions) {
    const labels = points.some((p) => p.prediction_labels.length);
    distributionChart(el.predictions, points, range, labels
      ? (p) => p.prediction_labels.map((b) => [b.label, b.count])
      : (p) => p.prediction_values.map((b) => [binLabel(b), b.count]), labels);
  }
}

/** The time axis over the whole range, so the charts of a page line up. */
const timeX = (range) => ({ ...timeAxis, min: range.windows[0] * 1000, max: (range.end + range.step / 2) * 1000 });
const legend = (names) => ({ top: 0, right: 8, data: names, type: 'scroll' });

function latestBy(points) {
  return points.reduce((a, p) => (Number(p.start_unix_nano) > Number(a.start_unix_nano) ? p : a));
}

function series(points, version, value) {
  return points.filter((p) => p.version === version)
    .map((p) => [Number(p.start_unix_nano) / 1e6, value(p)])
    .sort((a, b) => a[0] - b[0]);
}

function trafficChart(el, points, versions, range) {
  chart(el, {
    grid: chartGrid(), legend: legend(versions), xAxis: timeX(range),
    yAxis: { type: 'value', minInterval: 1 },
    tooltip: timeTooltip((v) => fmtNumber(v)),
    series: versions.map((v) => ({
      name: v, type: 'bar', stack: 'traffic', barMaxWidth: 28, color: colorFor(v), data: series(points, v, (p) => p.count),
    })),
  });
}

function latencyChart(el, points, versions, range) {
  const lines = [];
  for (const v of versions) {
    for (const [pct, style] of [['p50', 'dotted'], ['p95', 'solid'], ['p99', 'dashed']]) {
      lines.push(lineSeries(versions.length > 1 ? `${v} ${pct}` : pct, series(points, v, (p) => p.latency_ms[pct]),
        { color: colorFor(v), lineStyle: { type: style }, showSymbol: true, symbolSize: 4 }));
    }
  }
  chart(el, {
    grid: chartGrid(), legend: legend(lines.map((l) => l.name)), xAxis: timeX(range),
    yAxis: { type: 'value', name: 'ms', nameGap: 8 },
    tooltip: timeTooltip((v) => fmtMs(v)),
    series: lines,
  });
}

function binLabel(bin) {
  return `${fmtNumber(bin.lower)}–${fmtNumber(bin.upper)}`;
}

/** Distinct colours by order: hashed colours of a few labels can collide. */
const LABEL_COLORS = ['#5b8ff9', '#f6bd16', '#5ad8a6', '#e8684a', '#9270ca', '#6dc8ec', '#ff9d4d', '#269a99', '#ff99c3', '#5d7092'];

/** Stacked shares per window: each bucket (a bin or a label) is a series. */
function distributionChart(el, points, range, buckets, categorical = false) {
  const byWindow = new Map();
  const order = new Map();
  for (const p of points) {
    const at = nsToSeconds(p.start_unix_nano);
    const counts = byWindow.get(at) || new Map();
    for (const [key, n] of buckets(p)) {
      counts.set(key, (counts.get(key) || 0) + n);
      if (!order.has(key)) order.set(key, order.size);
    }
    byWindow.set(at, counts);
  }
  let keys = [...order.keys()];
  if (!categorical) keys.sort((a, b) => parseFloat(a) - parseFloat(b));
  const windows = range.windows;
  const share = (w, key) => {
    const counts = byWindow.get(w);
    if (!counts) return 0;
    const total = [...counts.values()].reduce((n, c) => n + c, 0);
    return total ? (counts.get(key) || 0) / total : 0;
  };
  const ramp = ['#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b', '#3f007d', '#54278f', '#6a51a3'];
  chart(el, {
    grid: { ...chartGrid(), right: 16, top: 40 },
    legend: { top: 0, right: 8, type: 'scroll', data: keys },
    xAxis: { type: 'category', data: windows.map((w) => fmtWindow(w, range.step)), axisLabel: { hideOverlap: true } },
    yAxis: { type: 'value', max: 1, axisLabel: { formatter: (v) => fmtPercent(v, 0) } },
    tooltip: {
      trigger: 'axis',
      formatter: (items) => [esc(items[0]?.axisValue ?? ''), ...items.filter((i) => i.value > 0)
        .map((i) => `${i.marker}${esc(i.seriesName)}: <b>${esc(fmtPercent(i.value))}</b>`)].join('<br>'),
    },
    series: keys.map((key, i) => ({
      name: key, type: 'bar', stack: 'share', barMaxWidth: 36,
      color: categorical ? LABEL_COLORS[i % LABEL_COLORS.length] : ramp[Math.min(i, ramp.length - 1)],
      data: windows.map((w) => share(w, key)),
    })),
  });
}

/** "Alert on this" for a model metric: predictions stopping, p95 past twice the latest
 *  (at least 100 ms), or the error rate past 5%. */
function modelAlert(name, state, metric, latestP95 = 0) {
  const query = { kind: 'model_metric', metric, model: name, window_s: 300 };
  if (state.version) query.version = state.version;
  const p95 = Math.max(100, Math.round(2 * (latestP95 || 0)));
  const condition = {
    predictions: { type: 'absence' },
    p95_ms: { type: 'threshold', op: '>', threshold: p95, resolve_threshold: Math.round(p95 * 0.8), min_samples: 20 },
    error_rate: { type: 'threshold', op: '>', threshold: 0.05, resolve_threshold: 0.03, min_samples: 20 },
  }[metric];
  return alertOnThis({ name: ruleName(name, state.version, metric === 'predictions' ? 'silent' : metric), query, condition });
}
