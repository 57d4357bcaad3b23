// Version comparison (`/api/v1/models/{name}/compare`): two versions side by side, each
// difference with its test (Mann-Whitney U, chi-squared, KS) and whether it is significant.

import { getJSON } from '../api.js';
import { chart, esc } from '../charts.js';
import {
  badge, colorFor, field, fmtMs, fmtNumber, fmtPercent, h, note, replace, select, seg, table,
} from '../dom.js';
import { fmtStat, panel } from './parts.js';
import { rangeParams } from './range.js';

const TESTS = {
  mann_whitney_u: 'Mann-Whitney U', two_proportion_chi_squared: 'two-proportion χ²', chi_squared: 'χ²', ks: 'Kolmogorov–Smirnov',
};

export async function render(root, { name, model, state, range, go, isCurrent }) {
  // Oldest first (by first seen, then name): by default B is the newest version, A the one before it.
  const versions = [...model.versions].sort((x, y) => Number(x.first_seen) - Number(y.first_seen) || x.version.localeCompare(y.version))
    .map((v) => v.version);
  if (versions.length < 2) {
    replace(root, note('empty', `${name} has one version (${versions[0]}): nothing to compare yet.`));
    return;
  }
  const a = versions.includes(state.a) ? state.a : versions[versions.length - 2];
  const b = versions.includes(state.b) && state.b !== a ? state.b : [...versions].reverse().find((v) => v !== a);
  const picks = h('div', { class: 'compare-picks', id: 'compare-picks' },
    field('Version A', select('a', versions, a, { onchange: (e) => go({ a: e.target.value, b: e.target.value === b ? '' : b }) })),
    field('Version B', select('b', versions.filter((v) => v !== a), b, { onchange: (e) => go({ a, b: e.target.value }) })),
    h('span', { class: 'muted small-text' }, `${range.label}; significant at p < 0.05. Distribution tests use up to 10,000 sampled predictions per version.`));
  const body = await getJSON(`/api/v1/models/${seg(name)}/compare`, { ...rangeParams(range), a, b });
  if (!isCurrent()) return;
  if (!body.predictions.a || !body.predictions.b) {
    replace(root, picks, note('empty', `No predictions of ${!body.predictions.a ? a : b} in the ${range.label.toLowerCase()}.`));
    return;
  }
  const latencyEl = h('div', { class: 'chart small', id: 'chart-compare-latency' });
  const labelsEl = h('div', { class: 'chart small', id: 'chart-compare-labels' });
  const hasLabels = body.prediction_labels && body.prediction_labels.labels?.length;
  replace(root, picks,
    panel(`${a} vs ${b}`, 'each difference with its test', h('div', { id: 'compare-table' }, compareTable(body, a, b))),
    h('div', { class: 'model-grid' },
      panel('Latency', 'p50 / p95 / p99 per version (ms)', latencyEl),
      hasLabels ? panel('Predicted labels', 'share of predictions per label', labelsEl) : null));
  latencyChart(latencyEl, body, a, b);
  if (hasLabels) labelsChart(labelsEl, body, a, b);
}

function compareTable(body, a, b) {
  const rows = [{ metric: 'Predictions', a: fmtNumber(body.predictions.a), b: fmtNumber(body.predictions.b), diff: '', test: null }];
  const lat = body.latency_ms;
  if (lat) {
    for (const pct of ['p50', 'p95', 'p99']) {
      rows.push({
        metric: `Latency ${pct}`, a: fmtMs(lat.a?.[pct]), b: fmtMs(lat.b?.[pct]),
        diff: lat.a && lat.b ? signed(lat.b[pct] - lat.a[pct], (v) => fmtMs(Math.abs(v))) : '', test: pct === 'p50' ? lat : null,
        note: pct === 'p50' ? 'one test on the whole latency distribution' : null,
      });
    }
  }
  if (body.error_rate) {
    rows.push({ metric: 'Error rate', a: fmtPercent(body.error_rate.a, 2), b: fmtPercent(body.error_rate.b, 2),
      diff: signed(body.error_rate.difference, (v) => fmtPercent(Math.abs(v), 2)), test: body.error_rate });
  }
  const acc = body.accuracy;
  if (acc && acc.labelled && (acc.labelled.a || acc.labelled.b)) {
    rows.push({ metric: 'Accuracy (labelled)', a: `${fmtPercent(acc.a)} of ${fmtNumber(acc.labelled.a)}`, b: `${fmtPercent(acc.b)} of ${fmtNumber(acc.labelled.b)}`,
      diff: acc.difference === null ? '' : signed(acc.difference, (v) => fmtPercent(Math.abs(v))), test: acc });
  } else {
    rows.push({ metric: 'Accuracy (labelled)', a: 'no labels yet', b: 'no labels yet', diff: '', test: null });
  }
  const labels = body.prediction_labels;
  if (labels && labels.labels?.length) {
    const top = (counts) => {
      const total = counts.reduce((n, c) => n + c, 0);
      return labels.labels.slice(0, 4).map((l, i) => `${l} ${fmtPercent(total ? counts[i] / total : 0, 0)}`).join(' · ');
    };
    rows.push({ metric: 'Predicted labels', a: top(labels.a), b: top(labels.b), diff: '', test: labels });
  }
  for (const [key, label] of [['prediction_values', 'Prediction values'], ['confidence', 'Confidence']]) {
    const t = body[key];
    if (t && t.n_a && t.n_b) rows.push({ metric: label, a: `${fmtNumber(t.n_a)} values`, b: `${fmtNumber(t.n_b)} values`, diff: `KS D ${fmtStat(t.statistic)}`, test: t });
  }
  return table([
    { label: 'Metric', value: (r) => [h('span', { class: 'metric-name' }, r.metric), r.note ? h('div', { class: 'muted small-text' }, r.note) : null] },
    { label: a, class: 'num', value: (r) => r.a },
    { label: b, class: 'num', value: (r) => r.b },
    { label: 'Difference (B − A)', class: 'num', value: (r) => r.diff },
    { label: 'Test', value: (r) => (r.test ? TESTS[r.test.test] || r.test.test : '') },
    { label: 'p-value', class: 'num', value: (r) => (r.test ? fmtStat(r.test.p_value) : '') },
    { label: 'Result', value: (r) => (r.test ? resultBadge(r.test) : '') },
  ], rows, { rowClass: (r) => `compare-row${r.test?.significant ? ' is-error' : ''}` });
}

function resultBadge(test) {
  if (test.p_value === null || test.p_value === undefined) return badge('not testable', 'neutral');
  return h('span', { class: `badge compare-result ${test.significant ? 'badge-warn' : 'badge-ok'}` }, test.significant ? 'significant' : 'no significant difference');
}

function signed(value, format) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value === 0) return '0';
  return `${value > 0 ? '+' : '−'}${format(value)}`;
}

const barTooltip = (format) => ({
  trigger: 'axis', axisPointer: { type: 'shadow' },
  formatter: (items) => [esc(items[0]?.axisValue ?? ''), ...items.map((i) => `${i.marker}${esc(i.seriesName)}: <b>${esc(format(i.value))}</b>`)].join('<br>'),
});

function latencyChart(el, body, a, b) {
  const pcts = ['p50', 'p95', 'p99'];
  chart(el, {
    grid: { left: 56, right: 16, top: 34, bottom: 28 },
    legend: { top: 0, right: 8, data: [a, b] },
    xAxis: { type: 'category', data: pcts },
    yAxis: { type: 'value', name: 'ms', nameGap: 8 },
    tooltip: barTooltip((v) => fmtMs(v)),
    series: [[a, body.latency_ms.a], [b, body.latency_ms.b]].map(([v, values]) => ({
      name: v, type: 'bar', barMaxWidth: 34, color: colorFor(v), data: pcts.map((p) => values?.[p] ?? null),
    })),
  });
}

function labelsChart(el, body, a, b) {
  const l = body.prediction_labels;
  const share = (counts) => {
    const total = counts.reduce((n, c) => n + c, 0);
    return counts.map((c) => (total ? c / total : 0));
  };
  chart(el, {
    grid: { left: 56, right: 16, top: 34, bottom: 28 },
    legend: { top: 0, right: 8, data: [a, b] },
    xAxis: { type: 'category', data: l.labels, axisLabel: { hideOverlap: true } },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => fmtPercent(v, 0) } },
    tooltip: barTooltip((v) => fmtPercent(v)),
    series: [[a, l.a], [b, l.b]].map(([v, counts]) => ({ name: v, type: 'bar', barMaxWidth: 34, color: colorFor(v), data: share(counts) })),
  });
}
