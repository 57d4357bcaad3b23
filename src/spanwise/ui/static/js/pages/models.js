// Models: every model version with its traffic, latency, error rate, quality and drift at a
// glance, over the chosen time range (`?lookback=`). Each row opens the model page.

import { getJSON } from '../api.js';
import {
  badge, field, fmtMs, fmtNumber, fmtPercent, fmtTime, h, note, replace, select, seg, table, withQuery,
} from '../dom.js';
import { navigate } from '../nav.js';
import {
  DEFAULT_LOOKBACK, LOOKBACKS, detectTask, driftBadge, fetchDrift, fetchMetrics, fmtRate, fmtStep, fmtWindow,
  rangeParams, timeRange,
} from '../model/range.js';
import { card } from '../model/parts.js';

export async function render(root, { query, isCurrent }) {
  const range = timeRange(query.get('lookback') || DEFAULT_LOOKBACK);
  const controls = h('div', { class: 'row models-head' },
    h('h1', { class: 'grow' }, 'Models'),
    field('Time', select('lookback', LOOKBACKS.map(([k, label]) => [k, label]), range.lookback,
      { onchange: (e) => navigate(withQuery('/models', { lookback: e.target.value })) })));
  replace(root, controls, note('loading', 'Loading models…'));
  const inventory = await getJSON('/api/v1/models');
  if (!isCurrent()) return;
  if (!inventory.length) {
    replace(root, controls, note('empty',
      'No models yet. Prediction spans carry ml.model.name and ml.model.version (see the README’s AI attributes).'));
    return;
  }
  const summaries = await Promise.all(inventory.map((model) => summarize(model, range)));
  if (!isCurrent()) return;
  const rows = summaries.flat();
  const active = rows.filter((r) => r.count > 0).length;
  replace(root, controls,
    h('div', { class: 'cards' },
      card('Models', fmtNumber(inventory.length)),
      card('Versions with traffic', `${active} of ${rows.length}`),
      card('Predictions', fmtNumber(rows.reduce((n, r) => n + r.count, 0))),
      card('Versions drifting', fmtNumber(rows.filter((r) => r.drift && r.drift.drifted_features.length).length))),
    h('div', { class: 'panel' },
      h('div', { class: 'muted models-legend' },
        `${range.label}. Latency p95 and drift are those of the latest ${fmtStep(range.step)} window with traffic; `,
        'drift compares it with the version’s newest baseline, else with the window before it.'),
      versionTable(rows, range)));
}

/** One row per version: traffic and errors over the range, p95 and drift of its latest window. */
async function summarize(model, range) {
  const [metrics, task] = await fetchMetrics(model.name, range).then((m) => [m, detectTask(m.points)]);
  const quality = await getJSON(`/api/v1/models/${seg(model.name)}/quality`, { ...rangeParams(range), task })
    .catch(() => ({ windows: [] }));
  return Promise.all(model.versions.map(async (v) => {
    const points = metrics.points.filter((p) => p.version === v.version);
    const count = points.reduce((n, p) => n + p.count, 0);
    const errors = points.reduce((n, p) => n + p.errors, 0);
    const latest = points.reduce((a, p) => (!a || Number(p.start_unix_nano) > Number(a.start_unix_nano) ? p : a), null);
    const latestStart = latest ? Math.round(Number(latest.start_unix_nano) / 1e9) : null;
    const drift = latest ? await fetchDrift(model.name, latestStart, range.step, v.version).catch(() => null) : null;
    return {
      model, version: v.version, count, errors, latest, latestStart, drift, task,
      quality: quality.windows.find((w) => w.version === v.version) || null,
    };
  }));
}

function versionTable(rows, range) {
  return table([
    { label: 'Model', value: (r) => h('a', { href: modelUrl(r, range), class: 'model-link' }, h('b', null, r.model.name)) },
    { label: 'Version', value: (r) => h('span', { class: 'badge badge-accent version-badge' }, r.version) },
    { label: 'Predictions', class: 'num', value: (r) => h('span', { class: 'traffic' }, fmtNumber(r.count)) },
    { label: 'Rate', class: 'num', value: (r) => (r.count ? fmtRate(r.count, range.end - range.start) : '–') },
    { label: 'Latency p95', class: 'num', value: (r) => (r.latest ? fmtMs(r.latest.latency_ms.p95) : '–') },
    { label: 'Error rate', class: 'num', value: (r) => (r.count ? badge(fmtPercent(r.errors / r.count), errorKind(r.errors / r.count)) : '–') },
    { label: 'Quality', class: 'num', value: (r) => qualityCell(r) },
    { label: 'Labels', class: 'num', value: (r) => (r.quality && r.quality.predictions ? fmtPercent(r.quality.label_coverage, 0) : '–') },
    { label: 'Drift', value: (r) => (r.count ? h('span', null, driftBadge(r.drift),
      r.latestStart !== null ? h('div', { class: 'muted small-text' }, fmtWindow(r.latestStart, range.step)) : null) : '–') },
    { label: 'Last seen', class: 'num', value: (r) => fmtTime(r.model.versions.find((v) => v.version === r.version).last_seen) },
  ], rows, {
    rowClass: (r) => `model-row${r.count ? '' : ' idle'}`,
    onRow: (r, event) => { if (!event.target.closest('a')) navigate(modelUrl(r, range)); },
  });
}

function modelUrl(r, range) {
  return withQuery(`/models/${seg(r.model.name)}`, { version: r.version, lookback: range.lookback });
}

function errorKind(rate) {
  if (rate >= 0.05) return 'error';
  if (rate > 0) return 'warn';
  return 'ok';
}

/** Accuracy (classification) or MAE (regression) of the labelled predictions, or why there is none. */
function qualityCell(r) {
  const q = r.quality;
  if (!q || !q.labelled) return h('span', { class: 'muted' }, r.count ? 'no labels yet' : '–');
  if (r.task === 'regression') {
    if (q.mae === null) return h('span', { class: 'muted', title: 'Labels arrived but none is a number' }, 'labels not numeric');
    return h('span', { title: `RMSE ${fmtNumber(q.rmse)}, R² ${fmtNumber(q.r2)}` }, `MAE ${fmtNumber(q.mae)}`);
  }
  return h('span', { title: `macro F1 ${fmtNumber(q.macro.f1)}` }, `acc ${fmtPercent(q.accuracy)}`);
}
