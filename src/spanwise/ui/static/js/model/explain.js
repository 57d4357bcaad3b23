// Explanations (`/api/v1/models/{name}/explanations`): global importance (mean |attribution|
// of `ml.explanation.<feature>`) per feature over time, and attribution drift of the chosen
// window against the window before it (two-sample KS test).

import { getJSON } from '../api.js';
import { chart, esc, lineSeries, timeAxis, timeTooltip } from '../charts.js';
import {
  badge, colorFor, field, fmtNumber, fmtPercent, h, note, replace, select, seg, table,
} from '../dom.js';
import { chartGrid, fmtStat, panel } from './parts.js';
import { fmtStep, fmtWindow, nsToSeconds, rangeParams } from './range.js';

export async function render(root, { name, state, range, go, isCurrent }) {
  const body = await getJSON(`/api/v1/models/${seg(name)}/explanations`,
    { ...rangeParams(range), step: range.step, version: state.version });
  if (!isCurrent()) return;
  const windows = body.windows.filter((w) => w.features.length);
  if (!windows.length) {
    replace(root, note('empty', `No attributions in the ${range.label.toLowerCase()}: send SHAP or other attributions as ml.explanation.<feature> on the prediction span.`));
    return;
  }
  const starts = windows.map((w) => nsToSeconds(w.start_unix_nano));
  const chosen = windows[starts.indexOf(Number(state.window))] || windows[windows.length - 1];
  const overTimeEl = h('div', { class: 'chart', id: 'chart-importance' });
  const barsEl = h('div', { class: 'chart', id: 'chart-importance-latest' });
  replace(root,
    h('div', { class: 'compare-picks' },
      field('Window', select('window', starts.map((s) => [s, fmtWindow(s, range.step)]), nsToSeconds(chosen.start_unix_nano),
        { onchange: (e) => go({ window: e.target.value }, { replace: true }) }))),
    h('div', { class: 'model-grid' },
      panel('Global importance over time', `mean |attribution| per feature and ${fmtStep(range.step)} window`, overTimeEl),
      panel('Importance in the window', `${fmtWindow(nsToSeconds(chosen.start_unix_nano), range.step)}, most important first`, barsEl)),
    panel('Attribution drift', 'each feature’s attributions against the window before it (KS test, drifted when p < 0.05)',
      h('div', { id: 'explain-table' }, featureTable(chosen))));
  overTime(overTimeEl, windows, range);
  bars(barsEl, chosen);
}

function overTime(el, windows, range) {
  const names = [...new Set(windows.flatMap((w) => w.features.map((f) => f.name)))];
  chart(el, {
    grid: chartGrid(), legend: { top: 0, right: 8, type: 'scroll', data: names },
    xAxis: { ...timeAxis, min: range.windows[0] * 1000, max: (range.end + range.step / 2) * 1000 },
    yAxis: { type: 'value', min: 0 },
    tooltip: timeTooltip((v) => fmtStat(v)),
    series: names.map((n) => lineSeries(n, windows.map((w) => [Number(w.start_unix_nano) / 1e6,
      w.features.find((f) => f.name === n)?.mean_abs_attribution ?? null]), { color: colorFor(n), showSymbol: true, symbolSize: 6 })),
  });
}

function bars(el, w) {
  const features = [...w.features].reverse();
  chart(el, {
    grid: { left: 110, right: 24, top: 16, bottom: 28 },
    xAxis: { type: 'value', min: 0 },
    yAxis: { type: 'category', data: features.map((f) => f.name), axisLabel: { width: 100, overflow: 'truncate' } },
    tooltip: {
      trigger: 'axis', axisPointer: { type: 'shadow' },
      formatter: (items) => items.map((i) => `${esc(i.name)}: <b>${esc(fmtStat(i.value))}</b>`).join('<br>'),
    },
    series: [{ type: 'bar', barMaxWidth: 22, data: features.map((f) => ({ value: f.mean_abs_attribution, itemStyle: { color: colorFor(f.name) } })) }],
  });
}

function featureTable(w) {
  return table([
    { label: 'Feature', value: (f) => h('span', { class: 'feature-name' }, f.name) },
    { label: 'Mean |attribution|', class: 'num', value: (f) => fmtStat(f.mean_abs_attribution) },
    { label: 'Mean attribution', class: 'num', value: (f) => fmtStat(f.mean_attribution) },
    { label: 'Reference', class: 'num', value: (f) => fmtStat(f.reference_mean_abs_attribution) },
    { label: 'Change', class: 'num', value: (f) => (f.relative_importance_change === null ? '–' : `${f.relative_importance_change > 0 ? '+' : ''}${fmtPercent(f.relative_importance_change, 0)}`) },
    { label: 'KS p', class: 'num', value: (f) => (f.drift ? fmtStat(f.drift.p_value) : '–') },
    { label: 'Predictions', class: 'num', value: (f) => fmtNumber(f.count) },
    { label: 'Status', value: (f) => (f.drift ? h('span', { class: `badge explain-status ${f.drifted ? 'badge-error' : 'badge-ok'}` }, f.drifted ? 'drifted' : 'stable')
      : h('span', { class: 'badge explain-status', title: 'no attributions in the window before' }, 'no reference')) },
  ], w.features, { rowClass: (f) => `explain-row${f.drifted ? ' is-error' : ''}` });
}
