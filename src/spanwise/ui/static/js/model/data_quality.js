// Data quality per feature (`/api/v1/models/{name}/data-quality`): each window against the
// window before it; a table of the chosen window's features with their flags, and the
// missing rate of every feature over time.

import { getJSON } from '../api.js';
import { chart, lineSeries, timeAxis, timeTooltip } from '../charts.js';
import {
  badge, colorFor, field, fmtNumber, fmtPercent, h, note, replace, select, seg, table,
} from '../dom.js';
import { chartGrid, fmtStat, panel } from './parts.js';
import { fmtStep, fmtWindow, nsToSeconds, rangeParams } from './range.js';

const ISSUE_TEXT = {
  missing: 'missing', type_change: 'type change', appeared: 'appeared', vanished: 'vanished',
  out_of_range: 'out of range', new_categories: 'new categories',
};

export async function render(root, { name, state, range, go, isCurrent }) {
  const body = await getJSON(`/api/v1/models/${seg(name)}/data-quality`,
    { ...rangeParams(range), step: range.step, version: state.version });
  if (!isCurrent()) return;
  const windows = body.windows.filter((w) => w.predictions);
  if (!windows.length) {
    replace(root, note('empty', `No predictions in the ${range.label.toLowerCase()}.`));
    return;
  }
  const starts = windows.map((w) => nsToSeconds(w.start_unix_nano));
  const compared = windows.filter((w) => w.reference_predictions);
  const fallback = compared.length ? compared[compared.length - 1] : windows[windows.length - 1];
  const chosen = windows[starts.indexOf(Number(state.window))] || fallback;
  const missingEl = h('div', { class: 'chart small', id: 'chart-missing' });
  const totalIssues = windows.reduce((n, w) => n + w.issues, 0);
  replace(root,
    h('div', { class: 'compare-picks' },
      field('Window', select('window', windows.map((w, i) => [starts[i], `${fmtWindow(starts[i], range.step)} · ${w.issues} issue${w.issues === 1 ? '' : 's'}`]),
        nsToSeconds(chosen.start_unix_nano), { onchange: (e) => go({ window: e.target.value }, { replace: true }) })),
      h('span', { class: 'muted small-text' }, `${totalIssues} issue${totalIssues === 1 ? '' : 's'} in ${windows.length} windows of ${fmtStep(range.step)}; each window is compared with ${body.reference.kind === 'fixed' ? 'a fixed reference' : 'the window before it'}.`)),
    panel('Features', `${fmtWindow(nsToSeconds(chosen.start_unix_nano), range.step)} · ${fmtNumber(chosen.predictions)} predictions against ${fmtNumber(chosen.reference_predictions)} in the reference`,
      chosen.reference_predictions ? null : note('empty', 'The reference window has no predictions: only this window’s values are shown, nothing is flagged.'),
      h('div', { id: 'dq-table' }, featureTable(chosen))),
    panel('Missing rate', `per feature and ${fmtStep(range.step)} window`, missingEl));
  missingChart(missingEl, windows, range);
}

function featureTable(w) {
  return table([
    { label: 'Feature', value: (f) => h('span', { class: 'feature-name' }, f.name) },
    { label: 'Type', value: (f) => (f.reference_type && f.type && f.reference_type !== f.type ? `${f.reference_type} → ${f.type}` : f.type || f.reference_type || '–') },
    { label: 'Missing', class: 'num', value: (f) => [fmtPercent(f.missing_rate), f.reference_missing_rate !== null ? h('div', { class: 'muted small-text' }, `ref ${fmtPercent(f.reference_missing_rate)}`) : null] },
    { label: 'Values', class: 'num', value: (f) => (f.strings && f.numeric ? `${fmtNumber(f.numeric)} numbers, ${fmtNumber(f.strings)} strings` : fmtNumber(f.present)) },
    { label: 'Range', class: 'num', value: (f) => (f.min === null ? '–' : [`${fmtStat(f.min)} – ${fmtStat(f.max)}`,
      f.reference_min !== null ? h('div', { class: 'muted small-text' }, `ref ${fmtStat(f.reference_min)} – ${fmtStat(f.reference_max)}`) : null]) },
    { label: 'Outside ref. range', class: 'num', value: (f) => (f.outside_reference_range === null ? '–' : fmtPercent(f.outside_reference_range)) },
    { label: 'Categories', value: (f) => (f.categories === null ? '–' : [fmtNumber(f.categories),
      f.new_categories.length ? h('div', { class: 'muted small-text' }, `new: ${f.new_categories.join(', ')}${f.new_category_count > f.new_categories.length ? ' …' : ''}`) : null]) },
    { label: 'Flags', value: (f) => (f.issues.length ? h('span', { class: 'chips' }, f.issues.map((i) => badge(ISSUE_TEXT[i] || i, i === 'missing' || i === 'type_change' ? 'error' : 'warn')))
      : badge('ok', 'ok')) },
  ], w.features, { rowClass: (f) => `dq-row${f.issues.length ? ' is-error' : ''}` });
}

function missingChart(el, windows, range) {
  const names = [...new Set(windows.flatMap((w) => w.features.map((f) => f.name)))].sort();
  chart(el, {
    grid: chartGrid(), legend: { top: 0, right: 8, type: 'scroll', data: names },
    xAxis: { ...timeAxis, min: range.windows[0] * 1000, max: (range.end + range.step / 2) * 1000 },
    yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => fmtPercent(v, 0) } },
    tooltip: timeTooltip((v) => fmtPercent(v)),
    series: names.map((n) => lineSeries(n, windows.map((w) => [Number(w.start_unix_nano) / 1e6, w.features.find((f) => f.name === n)?.missing_rate ?? null]),
      { color: colorFor(n), showSymbol: true, symbolSize: 5 })),
  });
}
