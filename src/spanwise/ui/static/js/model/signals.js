// Monitoring: the signals the scheduler stored for this model (drift per feature, missing
// rates, accuracy/MAE and label coverage per version; `/api/v1/models/{name}/signals`), the
// same rows alert rules read. "Compute now" stores the page's time range as one window.
// Drift and quality charts have "Alert on this" (a model_signal rule in the Alerts editor).

import { alertOnThis, ruleName } from '../alert_links.js';
import { getJSON } from '../api.js';
import { chart, esc, timeAxis } from '../charts.js';
import {
  badge, colorFor, fmtPercent, fmtTime, h, note, replace, seg, table,
} from '../dom.js';
import { chartGrid, fmtStat, panel } from './parts.js';
import { ns, nsToMs } from './range.js';

const QUALITY = { accuracy: 'accuracy', mae: 'MAE', label_coverage: 'label coverage' };
const label = (feature) => ({ '@prediction': 'prediction value', '@prediction_label': 'predicted label', '@label': 'label' }[feature] || feature);

export async function render(root, ctx) {
  const { name, state, range, isCurrent } = ctx;
  const path = `/api/v1/models/${seg(name)}/signals`;
  // Up to now (not the range's end): a window computed after the page loaded is included.
  const found = await getJSON(path, { start: ns(range.start), limit: 10000 });
  if (!isCurrent()) return;
  const rows = found.signals.filter((r) => !state.version || r.version === state.version);
  const computeButton = h('button', { type: 'button', id: 'compute-signals', onclick: () => computeNow(root, ctx, computeButton) }, 'Compute now');
  const toolbar = h('div', { class: 'row' },
    h('div', { class: 'grow muted small-text' },
      'Stored by the signal scheduler for each window (models.schedule_interval_s in the config): drift per feature against the version’s baseline or the preceding window, missing rates, and quality where labels arrived.'),
    computeButton);
  if (!rows.length) {
    replace(root, toolbar, note('empty', `No stored signals in the ${range.label.toLowerCase()}${state.version ? ` for ${state.version}` : ''}: the scheduler has not run yet, or press Compute now.`));
    return;
  }
  const latestEnd = Math.max(...rows.map((r) => Number(r.window_end_unix_nano)));
  const latest = rows.filter((r) => Number(r.window_end_unix_nano) === latestEnd);
  const driftEl = h('div', { class: 'chart', id: 'signals-drift' });
  const qualityEl = h('div', { class: 'chart small', id: 'signals-quality' });
  const drift = rows.filter((r) => r.signal === 'drift');
  const quality = rows.filter((r) => r.signal in QUALITY);
  replace(root, toolbar,
    panel('Latest window', `${fmtTime(latest[0].window_start_unix_nano)} – ${fmtTime(latestEnd)}`, latestTable(latest)),
    drift.length ? panel('Drift over time', ['the deciding method’s value per feature (p-value for KS/χ², a distance otherwise); ● flagged · ',
      signalAlert(name, state, 'drift')], driftEl) : null,
    quality.length ? panel('Quality over time', ['accuracy or MAE, and label coverage, per version · ',
      signalAlert(name, state, quality.some((r) => r.signal === 'mae') ? 'mae' : 'accuracy')], qualityEl) : null);
  if (drift.length) seriesChart(driftEl, drift, (r) => `${label(r.feature)} (${r.version})`, range);
  if (quality.length) seriesChart(qualityEl, quality, (r) => `${QUALITY[r.signal]} (${r.version})`, range);
}

async function computeNow(root, ctx, button) {
  button.disabled = true;
  button.textContent = 'Computing…';
  try {
    // The window computed is the page's whole time range, ending now.
    const window = `${Math.max(60, Math.round(ctx.range.end - ctx.range.start))}s`;
    const response = await fetch(`/api/v1/models/${seg(ctx.name)}/signals/compute?window=${window}`, { method: 'POST' });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.error?.message || `${response.status} ${response.statusText}`);
  } catch (err) {
    button.replaceWith(note('error', `Compute failed: ${err.message}`));
    return;
  }
  if (ctx.isCurrent()) await render(root, ctx);
}

function latestTable(rows) {
  const order = { drift: 0, missing_rate: 1, accuracy: 2, mae: 2, label_coverage: 3 };
  const sorted = [...rows].sort((a, b) => (order[a.signal] - order[b.signal]) || a.feature.localeCompare(b.feature) || a.version.localeCompare(b.version));
  return table([
    { label: 'Signal', value: (r) => r.signal.replace('_', ' ') },
    { label: 'Feature', value: (r) => label(r.feature) || '–' },
    { label: 'Version', value: (r) => r.version || 'all' },
    { label: 'Value', class: 'num', value: (r) => (r.signal.endsWith('rate') || r.signal === 'label_coverage' || r.signal === 'accuracy' ? fmtPercent(r.value) : fmtStat(r.value)) },
    { label: 'Status', value: (r) => (r.flagged ? badge('flagged', 'error') : badge('ok', 'ok')) },
  ], sorted, { rowClass: (r) => `signal-row${r.flagged ? ' is-error' : ''}` });
}

function seriesChart(el, rows, nameOf, range) {
  const series = new Map();
  for (const r of rows) {
    const key = nameOf(r);
    if (!series.has(key)) series.set(key, []);
    series.get(key).push({ value: [nsToMs(r.window_end_unix_nano), r.value], flagged: r.flagged });
  }
  chart(el, {
    grid: { ...chartGrid(), top: 46 },
    legend: { type: 'scroll', top: 0 },
    xAxis: { ...timeAxis, min: range.start * 1000, max: Date.now() },
    yAxis: { type: 'value', scale: true },
    tooltip: {
      trigger: 'item',
      formatter: (p) => `${esc(p.seriesName)}<br>${esc(new Date(p.value[0]).toLocaleString(undefined, { hour12: false }))}: <b>${esc(fmtStat(p.value[1]))}</b>${p.data.flagged ? ' (flagged)' : ''}`,
    },
    series: [...series.entries()].map(([key, points]) => ({
      name: key, type: 'line', data: points.sort((a, b) => a.value[0] - b.value[0]), connectNulls: false,
      itemStyle: { color: colorFor(key) },
      symbol: (value, p) => (p.data.flagged ? 'circle' : 'emptyCircle'),
      symbolSize: (value, p) => (p.data.flagged ? 9 : 4),
    })),
  });
}

/** "Alert on this" for a stored signal: drift of any feature (one alert each) past an effect
 *  size of 0.1, accuracy under 0.8, or MAE up by half against the previous window. */
function signalAlert(name, state, signal) {
  const query = { kind: 'model_signal', metric: signal, model: name, window_s: 3600 };
  if (state.version) query.version = state.version;
  const condition = {
    drift: { type: 'threshold', op: '>', threshold: 0.1 },
    accuracy: { type: 'threshold', op: '<', threshold: 0.8, resolve_threshold: 0.85 },
    mae: { type: 'rate_of_change', op: '>', threshold: 0.5 },
  }[signal];
  return alertOnThis({ name: ruleName(name, state.version, signal), query, condition, interval_s: 300, for_s: 0 });
}
