// Drift: a heatmap of features x consecutive windows (colour: each feature's verdict, so a
// stable feature stays green whatever the window's size; the tooltip says why a cell
// fired), a per-feature summary, and for the selected feature and window the
// reference and current distributions overlaid. One drift request per window with traffic,
// in parallel; the reference is whatever the drift API chose (the newest baseline of the
// version, else the preceding window), and the page says which.

import { getJSON } from '../api.js';
import { chart, esc } from '../charts.js';
import {
  badge, field, fmtNumber, fmtPercent, h, note, replace, select, seg, table,
} from '../dom.js';
import { setQuery } from '../nav.js';
import { card, fmtStat, panel } from './parts.js';
import {
  describeReference, fetchDrift, fetchMetrics, fmtStep, fmtWindow, nsToSeconds,
} from './range.js';

// Cell colour: the verdict (stable; drifted; drifted by more than twice the effect floor).
const VERDICT_PIECES = [
  { value: 0, label: 'stable', color: '#cfe8d5' },
  { value: 1, label: 'drifted', color: '#f4a259' },
  { value: 2, label: 'drifted, large', color: '#d1495b' },
];
const SHORT_NAMES = { ks: 'KS p', chi2: 'χ² p', psi: 'PSI', jensenshannon: 'JS', wasserstein: 'W/σ' };
const METHOD_NAMES = {
  auto: 'Significant and large', ks: 'Kolmogorov–Smirnov p', chi2: 'Chi-squared p', psi: 'PSI',
  jensenshannon: 'Jensen–Shannon', wasserstein: 'Wasserstein / std',
};
const EFFECT_NAMES = { wasserstein_std: 'W/σ', jensenshannon: 'JS' };
const TEST_NAMES = { ks: 'KS', chi2_pooled: 'χ²' };

/** The deciding method in a few words: `KS p 0.003 · W/σ 0.45` or `PSI 0.31`. */
function describeMethod(f) {
  const m = f.methods[f.method];
  if (!m) return '–';
  if (f.method !== 'auto') return `${SHORT_NAMES[f.method] || f.method} ${fmtStat(m.value)}`;
  return `${TEST_NAMES[m.test] || m.test} p ${fmtStat(m.p_value_adjusted)} · ${EFFECT_NAMES[m.effect] || m.effect} ${fmtStat(m.value)}`;
}

/** 0 stable, 1 drifted, 2 drifted by at least twice the threshold (method `auto`). */
function level(f) {
  if (!f.drifted) return 0;
  const m = f.methods[f.method];
  return f.method === 'auto' && m && m.value >= 2 * m.threshold ? 2 : 1;
}

export async function render(root, ctx) {
  const { name, state, range, isCurrent } = ctx;
  replace(root, note('loading', 'Computing drift per window…'));
  const [metrics, baselines] = await Promise.all([
    fetchMetrics(name, range, state.version),
    getJSON(`/api/v1/models/${seg(name)}/baselines`).catch(() => ({ baselines: [] })),
  ]);
  if (!isCurrent()) return;
  const active = [...new Set(metrics.points.map((p) => nsToSeconds(p.start_unix_nano)))].sort((a, b) => a - b);
  if (!active.length) {
    replace(root, note('empty', `No predictions in the ${range.label.toLowerCase()}: nothing to compare.`));
    return;
  }
  // All versions, but baselines only per version (training profiles): compare the newest
  // such version with its own baseline rather than every window with the one before it.
  const version = state.version || driftVersion(baselines.baselines);
  const reports = new Map();
  await Promise.all(active.map(async (start) => {
    reports.set(start, await fetchDrift(name, start, range.step, version).catch(() => null));
  }));
  if (!isCurrent()) return;
  const compared = active.filter((w) => reports.get(w)?.reference.rows);
  const features = rowsOf(reports);
  const latest = compared[compared.length - 1];
  const selected = {
    feature: features.includes(state.feature) ? state.feature : (reports.get(latest)?.drifted_features[0] || features[0]),
    window: reports.has(Number(state.window)) ? Number(state.window) : (latest ?? active[active.length - 1]),
  };
  const heatEl = h('div', { class: 'chart', id: 'drift-heatmap', style: { height: `${Math.max(200, 90 + features.length * 34)}px` } });
  const summaryEl = h('div', { id: 'drift-summary' });
  const overlayEl = h('div', { id: 'drift-overlay' });
  const choose = (next) => {
    Object.assign(selected, next);
    setQuery(Object.fromEntries(Object.entries({ ...ctx.state, tab: 'drift', feature: selected.feature, window: selected.window })
      .filter(([, v]) => v !== '' && v !== null)));
    replace(summaryEl, summaryTable(features, reports, compared, selected, choose));
    overlay(overlayEl, reports, active, selected, range, choose);
  };
  replace(root,
    version !== state.version
      ? note('info', `All versions selected, but the baselines belong to single versions: showing ${version} against its own baseline. Choose a version above to see another.`)
      : null,
    referencePanel(name, reports, compared, baselines.baselines, state),
    panel('Drift per window', `Features × ${fmtStep(range.step)} windows. A cell is red or orange when the feature drifted against the reference: by default when the change is significant at that window’s size (p-values adjusted across the model’s features) and large enough to matter (hover for the test, the effect and why); grey: traffic but nothing to compare with. Click a cell to compare its distributions.`,
      compared.length ? heatEl : note('empty', 'No window has reference data to compare with: widen the time range, or set a baseline.')),
    h('div', { class: 'model-grid drift-grid' },
      panel('Features', latest !== undefined ? `Status in the latest compared window (${fmtWindow(latest, range.step)})` : 'No compared window', summaryEl),
      overlayEl));
  if (compared.length) heatmap(heatEl, features, reports, range, selected, choose);
  choose({});
}

/** The version of the newest baseline when no baseline covers every version, else none. */
function driftVersion(baselines) {
  if (!baselines.length || baselines.some((b) => !b.version)) return '';
  return [...baselines].sort((a, b) => b.created_unix_nano - a.created_unix_nano)[0].version;
}

/** Feature rows: input features first, then the model's outputs. */
function rowsOf(reports) {
  const inputs = new Set();
  const outputs = new Set();
  for (const report of reports.values()) {
    if (!report) continue;
    for (const f of report.features) inputs.add(f.feature);
    for (const f of report.predictions) outputs.add(f.feature);
  }
  return [...[...inputs].sort(), ...[...outputs].sort()];
}

const displayName = (feature) => ({ '@prediction': 'prediction value', '@prediction_label': 'predicted label' }[feature] || feature);

function entry(report, feature) {
  if (!report) return null;
  return report.features.find((f) => f.feature === feature) || report.predictions.find((f) => f.feature === feature) || null;
}

function referencePanel(name, reports, compared, baselines, state) {
  const used = compared.map((w) => reports.get(w).reference);
  const kinds = [...new Set(used.map((r) => `${r.kind}:${r.name || ''}`))];
  const ofVersion = baselines.filter((b) => !b.version || !state.version || b.version === state.version);
  let text;
  if (!used.length) text = 'No reference: no window with traffic has data before it, and the model has no baseline.';
  else if (kinds.length === 1) text = `Reference: ${describeReference(used[0])}.`;
  else text = `Reference: ${used.map(describeReference).filter((v, i, all) => all.indexOf(v) === i).join('; ')}.`;
  const fixed = used.length && used[0].kind !== 'preceding';
  return h('div', { class: 'panel', id: 'drift-reference' },
    h('div', { class: 'ref-note' },
      badge(fixed ? 'baseline' : 'no baseline', fixed ? 'accent' : 'warn'),
      h('span', { id: 'drift-reference-text' }, text)),
    fixed ? null : h('div', { class: 'muted small-text' },
      `Without a baseline every window is compared with the window just before it, so a lasting shift shows in the window where it starts. `,
      `Set a fixed reference with POST /api/v1/models/${name}/baselines (a window of known-good traffic, or a training file).`),
    ofVersion.length ? h('div', { class: 'muted small-text' }, 'Baselines: ',
      ofVersion.map((b, i) => [i ? ', ' : '', `${b.name} (${b.kind}${b.version ? `, ${b.version}` : ', every version'})`])) : null);
}

function heatmap(el, features, reports, range, selected, choose) {
  const windows = range.windows;
  const data = [];
  const uncompared = [];
  features.forEach((feature, y) => {
    windows.forEach((w, x) => {
      const report = reports.get(w);
      if (report && !report.reference.rows && entry(report, feature)) uncompared.push({ value: [x, y, 0], feature, window: w });
      if (!report || !report.reference.rows) return;
      const f = entry(report, feature);
      if (!f || !f.method) return;
      data.push({
        value: [x, y, level(f)], psi: f.methods?.psi?.value, feature, window: w, drifted: f.drifted,
        method: describeMethod(f), reason: f.note || f.reason,
        label: { show: f.drifted },
        itemStyle: f.drifted ? { borderColor: '#8a1c2b', borderWidth: 1.5 } : { borderColor: 'rgba(127,127,127,.25)', borderWidth: 1 },
      });
    });
  });
  const instance = chart(el, {
    grid: { left: 130, right: 20, top: 40, bottom: 44 },
    xAxis: { type: 'category', data: windows.map((w) => fmtWindow(w, range.step)), splitArea: { show: false }, axisLabel: { hideOverlap: true } },
    yAxis: { type: 'category', data: features.map(displayName), inverse: true, axisLabel: { width: 118, overflow: 'truncate' } },
    visualMap: { type: 'piecewise', seriesIndex: 0, dimension: 2, pieces: VERDICT_PIECES, orient: 'horizontal', top: 0, right: 10, itemWidth: 14, itemHeight: 10 },
    tooltip: {
      formatter: (p) => {
        const d = p.data;
        if (p.seriesIndex === 1) return `<b>${esc(displayName(d.feature))}</b><br>${esc(fmtWindow(d.window, range.step))}<br>traffic, but no reference data before it`;
        const lines = [`<b>${esc(displayName(d.feature))}</b>`, esc(fmtWindow(d.window, range.step)), esc(d.method)];
        if (d.psi !== undefined && d.psi !== null) lines.push(`PSI ${esc(fmtNumber(d.psi))}`);
        lines.push(d.drifted ? '<b>drifted</b>' : 'not drifted');
        if (d.reason) lines.push(esc(d.reason));
        return lines.join('<br>');
      },
    },
    series: [{
      type: 'heatmap', data,
      label: { show: false, formatter: () => '●', color: '#fff', fontSize: 15 },
      emphasis: { itemStyle: { borderColor: '#333', borderWidth: 2 } },
    }, {
      type: 'heatmap', data: uncompared, itemStyle: { color: 'rgba(140,150,170,.18)', borderColor: 'rgba(127,127,127,.25)', borderWidth: 1 },
    }],
  });
  instance.on('click', (p) => p.seriesIndex === 0 && choose({ feature: p.data.feature, window: p.data.window }));
}

function summaryTable(features, reports, compared, selected, choose) {
  const latest = reports.get(compared[compared.length - 1]);
  const row = (feature) => {
    const f = entry(latest, feature);
    const drifted = compared.filter((w) => entry(reports.get(w), feature)?.drifted).length;
    return { feature, f, drifted };
  };
  return table([
    { label: 'Feature', value: (r) => h('span', { class: 'feature-name' }, displayName(r.feature)) },
    { label: 'Test', value: (r) => (r.f?.method ? h('span', { title: r.f.reason || '' }, describeMethod(r.f)) : '–') },
    { label: 'PSI', class: 'num', value: (r) => (r.f?.methods?.psi ? fmtStat(r.f.methods.psi.value) : '–') },
    { label: 'Drifted', class: 'num', value: (r) => h('span', { title: 'windows where the test flags drift' }, `${r.drifted} of ${compared.length}`) },
    { label: 'Status', value: (r) => status(r.f) },
  ], features.map(row), {
    rowClass: (r) => `drift-row${r.feature === selected.feature ? ' selected' : ''}${r.f?.drifted ? ' is-error' : ''}`,
    onRow: (r) => choose({ feature: r.feature }),
  });
}

function status(f) {
  if (!f) return badge('absent', 'neutral');
  if (!f.method) return h('span', { class: 'badge drift-status', title: f.note || '' }, f.note || 'not compared');
  const extra = f.new_categories?.length ? h('span', { class: 'muted small-text' }, ` new: ${f.new_categories.join(', ')}`) : null;
  return [h('span', { class: `badge drift-status ${f.drifted ? 'badge-error' : 'badge-ok'}`, title: f.note || f.reason || '' },
    f.drifted ? 'drifted' : 'stable'), extra];
}

let overlayChart = null;

function overlay(root, reports, active, selected, range, choose) {
  if (overlayChart) overlayChart.dispose();
  overlayChart = null;
  const report = reports.get(selected.window);
  const f = entry(report, selected.feature);
  const picker = field('Window', select('window', active.map((w) => [w, fmtWindow(w, range.step)]), selected.window,
    { onchange: (e) => choose({ window: Number(e.target.value) }) }));
  const chartEl = h('div', { class: 'chart', id: 'chart-overlay' });
  let body;
  if (!f) body = note('empty', `${displayName(selected.feature)} has no values in this window.`);
  else if (!f.reference || !f.current) body = note('empty', `${displayName(selected.feature)}: ${f.note || 'missing on one side'} — no reference to overlay.`);
  else body = [chartEl, methodCards(f)];
  replace(root, panel(`${displayName(selected.feature)}: reference vs current`,
    report ? `${fmtWindow(selected.window, range.step)} window (${fmtNumber(report.current.rows)} predictions) against ${describeReference(report.reference)} (${fmtNumber(report.reference.rows)})` : 'No drift report for this window',
    h('div', { class: 'compare-picks' }, picker), body));
  if (f && f.reference && f.current) overlayChart = distributionChart(chartEl, f);
}

function methodCards(f) {
  const cards = Object.entries(f.methods).map(([key, m]) => card(
    `${METHOD_NAMES[key] || key}${key === f.method ? ' (decides)' : ''}`,
    h('span', null, key === 'auto' ? describeMethod({ ...f, method: 'auto' }) : fmtStat(m.value), ' ',
      badge(m.drifted ? 'drift' : 'ok', m.drifted ? 'error' : 'ok')),
    key === 'auto' ? `alpha ${m.alpha}, effect ≥ ${m.threshold}` : `threshold ${m.threshold}`));
  const why = f.note || f.reason;
  return h('div', { id: 'drift-methods' }, why ? h('div', { class: 'muted small-text', id: 'drift-reason' }, why) : null,
    h('div', { class: 'method-list' }, cards));
}

/** Shares per bin (numeric: the reference's quantile bins) or per category, both sides. */
function distributionChart(el, f) {
  let labels;
  let ref;
  let cur;
  if (f.type === 'numeric') {
    const edges = f.reference.edges;
    labels = f.reference.counts.map((_, i) => {
      if (!edges.length) return 'all';
      if (i === 0) return `< ${fmtNumber(edges[0])}`;
      if (i === edges.length) return `≥ ${fmtNumber(edges[i - 1])}`;
      return `${fmtNumber(edges[i - 1])}–${fmtNumber(edges[i])}`;
    });
    ref = shares(f.reference.counts);
    cur = shares(f.current.counts);
  } else {
    const names = [...new Set([...Object.keys(f.reference.counts), ...Object.keys(f.current.counts)])]
      .sort((a, b) => (f.reference.counts[b] || 0) - (f.reference.counts[a] || 0) || (f.current.counts[b] || 0) - (f.current.counts[a] || 0));
    labels = names;
    ref = shares(names.map((n) => f.reference.counts[n] || 0));
    cur = shares(names.map((n) => f.current.counts[n] || 0));
  }
  return chart(el, {
    grid: { left: 48, right: 16, top: 34, bottom: 48 },
    legend: { top: 0, right: 8, data: ['reference', 'current'] },
    xAxis: { type: 'category', data: labels, axisLabel: { interval: 0, rotate: labels.length > 6 ? 30 : 0, fontSize: 11 } },
    yAxis: { type: 'value', axisLabel: { formatter: (v) => fmtPercent(v, 0) } },
    tooltip: {
      trigger: 'axis',
      formatter: (items) => [esc(items[0]?.axisValue ?? ''), ...items.map((i) => `${i.marker}${esc(i.seriesName)}: <b>${esc(fmtPercent(i.value))}</b>`)].join('<br>'),
    },
    series: [
      { name: 'reference', type: 'bar', data: ref, color: '#8a9bb8', barGap: '8%', barMaxWidth: 34 },
      { name: 'current', type: 'bar', data: cur, color: '#e8684a', barMaxWidth: 34 },
    ],
  });
}

function shares(counts) {
  const total = counts.reduce((n, c) => n + c, 0);
  return counts.map((c) => (total ? c / total : 0));
}
