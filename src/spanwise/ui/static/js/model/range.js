// Time windows shared by the model pages: a lookback becomes consecutive windows aligned to
// their length (the model APIs bucket by epoch-aligned steps, so both agree), and the small
// formatting helpers those pages share. Times are kept in whole seconds and turned into
// Unix-nanosecond strings only for requests (JS numbers lose precision at ~1e18).

import { getJSON } from '../api.js';
import { badge, fmtNumber, h } from '../dom.js';

/** [lookback, label, window seconds]. */
export const LOOKBACKS = [
  ['1h', 'Last hour', 300], ['6h', 'Last 6 hours', 3600], ['24h', 'Last 24 hours', 3600],
  ['2d', 'Last 2 days', 4 * 3600], ['7d', 'Last 7 days', 12 * 3600], ['30d', 'Last 30 days', 86400],
];
export const DEFAULT_LOOKBACK = '24h';

const LOOKBACK_SECONDS = { '1h': 3600, '6h': 6 * 3600, '24h': 86400, '2d': 2 * 86400, '7d': 7 * 86400, '30d': 30 * 86400 };

export const ns = (seconds) => `${Math.round(seconds)}000000000`;
export const nsToMs = (value) => Number(value) / 1e6;
export const nsToSeconds = (value) => Math.round(Number(value) / 1e9);

/** The windows of `lookback`: `{lookback, step, start, end, windows: [start seconds...]}`. */
export function timeRange(lookback) {
  const chosen = LOOKBACKS.find(([key]) => key === lookback) || LOOKBACKS.find(([key]) => key === DEFAULT_LOOKBACK);
  const [key, label, step] = chosen;
  const now = Math.floor(Date.now() / 1000);
  const first = Math.floor((now - LOOKBACK_SECONDS[key]) / step) * step;
  const windows = [];
  for (let at = first; at <= now; at += step) windows.push(at);
  return { lookback: key, label, step, start: first, end: now, windows };
}

/** Request parameters for the whole range. */
export const rangeParams = (range) => ({ start: ns(range.start), end: ns(range.end) });

/** "5 min", "1 h", "12 h", "1 d": a window length. */
export function fmtStep(seconds) {
  if (seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${Math.round(seconds / 60)} min`;
}

/** Window start (seconds) as a short local time. */
export function fmtWindow(seconds, step) {
  const d = new Date(seconds * 1000);
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
  if (step >= 86400) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return `${d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${time}`;
}

export function fmtRate(count, seconds) {
  const perMinute = (count * 60) / seconds;
  if (perMinute >= 1) return `${fmtNumber(perMinute)}/min`;
  return `${fmtNumber(perMinute * 60)}/h`;
}

/** Quality task of a model from its metrics: predicted labels → classification, values → regression. */
export function detectTask(points) {
  if (points.some((p) => p.prediction_labels.length)) return 'classification';
  if (points.some((p) => p.prediction_values.length)) return 'regression';
  return 'classification';
}

/** The model's metrics over the range, per window and version. */
export function fetchMetrics(name, range, version) {
  return getJSON(`/api/v1/models/${encodeURIComponent(name)}/metrics`,
    { ...rangeParams(range), step: range.step, version });
}

/** A drift status badge from a drift report (or null when none could be computed). */
export function driftBadge(report) {
  if (!report) return badge('no data', 'neutral');
  if (!report.reference.rows) return h('span', { class: 'badge', title: 'The reference window has no predictions' }, 'no reference');
  const total = report.features.length;
  const drifted = report.drifted_features.length;
  const title = `vs ${describeReference(report.reference)}`;
  if (!drifted) return h('span', { class: 'badge badge-ok drift-badge', title }, `no drift · ${total} features`);
  return h('span', { class: `badge ${drifted * 2 >= total ? 'badge-error' : 'badge-warn'} drift-badge`, title },
    `${drifted} of ${total} drifted`);
}

/** The reference of a drift report in words. */
export function describeReference(reference) {
  if (reference.kind === 'preceding') return 'the preceding window of equal length';
  if (reference.kind === 'rolling') return `rolling baseline “${reference.name}” (the ${fmtStep(reference.lookback_seconds)} before each window)`;
  if (reference.kind === 'window') return `baseline “${reference.name}” (a fixed window)`;
  return `baseline “${reference.name}” (${reference.rows != null ? `${fmtNumber(reference.rows)} rows, ` : ''}uploaded profile)`;
}

/** A model's drift in one window [start, start + step), all versions or one. */
export function fetchDrift(name, start, step, version) {
  return getJSON(`/api/v1/models/${encodeURIComponent(name)}/drift`,
    { start: ns(start), end: ns(start + step), version });
}
