// Quality: metrics of the labelled predictions over time with label coverage, per version,
// the whole range per version (`/api/v1/models/{name}/quality`), and concept drift. The task comes from the
// URL, else from the predictions (labels → classification, values → regression).

import { getJSON } from '../api.js';
import { chart, lineSeries, timeAxis, timeTooltip } from '../charts.js';
import {
  colorFor, field, fmtNumber, fmtPercent, h, note, replace, select, seg, table,
} from '../dom.js';
import { conceptPanel } from './concept.js';
import { estimatedPanel } from './estimated.js';
import { card, chartGrid, fmtStat, panel } from './parts.js';
import { detectTask, fetchMetrics, fmtStep, rangeParams } from './range.js';

const TASKS = [['', 'Detect from predictions'], ['classification', 'Classification'], ['regression', 'Regression']];
const METRICS = {
  classification: [['accuracy', 'Accuracy', (w) => w.accuracy], ['macro F1', 'Macro F1', (w) => w.macro?.f1]],
  regression: [['MAE', 'MAE', (w) => w.mae], ['RMSE', 'RMSE', (w) => w.rmse]],
};

export async function render(root, { name, state, range, go, isCurrent }) {
  let task = state.task;
  if (!task) task = detectTask((await fetchMetrics(name, range, state.version)).points);
  const params = { ...rangeParams(range), task, version: state.version };
  const path = `/api/v1/models/${seg(name)}/quality`;
  const [overTime, whole] = await Promise.all([getJSON(path, { ...params, step: range.step }), getJSON(path, params)]);
  if (!isCurrent()) return;
  const picker = h('div', { class: 'compare-picks' },
    field('Task', select('task', TASKS, state.task, { onchange: (e) => go({ task: e.target.value }) })),
    h('span', { class: 'muted small-text' }, state.task ? '' : `detected: ${task}`));
  const windows = overTime.windows.filter((w) => w.predictions);
  const labelled = whole.windows.reduce((n, w) => n + w.labelled, 0);
  const predictions = whole.windows.reduce((n, w) => n + w.predictions, 0);
  if (!predictions) {
    replace(root, picker, note('empty', `No predictions in the ${range.label.toLowerCase()}.`));
    return;
  }
  const coverage = panel('Label coverage', `labelled / all predictions per ${fmtStep(range.step)} window`,
    h('div', { class: 'chart small', id: 'chart-coverage' }));
  if (!labelled) {
    replace(root, picker, note('empty', 'No labels yet: send ground truth with POST /api/v1/feedback, or as ml.label on the prediction span.'),
      task === 'classification' ? estimatedPanel(name, state, range) : null, coverage);
    coverageChart(root.querySelector('#chart-coverage'), windows, range);
    return;
  }
  const scored = whole.windows.reduce((n, w) => n + (task === 'regression' ? w.n : w.labelled), 0);
  const metricEl = h('div', { class: 'chart small', id: 'chart-quality' });
  replace(root, picker,
    h('div', { class: 'cards', id: 'quality-cards' },
      card('Labelled', `${fmtNumber(labelled)} of ${fmtNumber(predictions)}`),
      card('Label coverage', fmtPercent(labelled / predictions)),
      ...headline(task, whole.windows)),
    scored ? null : note('empty', `${fmtNumber(labelled)} labels arrived, but none is a number: regression metrics need numeric labels (try the classification task).`),
    h('div', { class: 'model-grid' },
      scored ? panel(METRICS[task].map((m) => m[1]).join(' and '), `per ${fmtStep(range.step)} window and version`, metricEl) : null,
      coverage),
    task === 'classification' ? estimatedPanel(name, state, range) : null,
    panel('Per version', `the whole ${range.label.toLowerCase()}`, h('div', { id: 'quality-table' }, versionTable(task, whole.windows))),
    task === 'classification' ? confusions(whole.windows) : null,
    scored ? conceptPanel(name, state, range, task, windows) : null);
  if (scored) metricChart(metricEl, task, windows, range);
  coverageChart(root.querySelector('#chart-coverage'), windows, range);
}

function headline(task, windows) {
  if (windows.length !== 1) return [];
  const w = windows[0];
  if (task === 'regression') return [card('MAE', fmtStat(w.mae)), card('RMSE', fmtStat(w.rmse)), card('R²', fmtStat(w.r2))];
  return [card('Accuracy', fmtPercent(w.accuracy)), card('Macro F1', fmtStat(w.macro?.f1))];
}

const timeX = (range) => ({ ...timeAxis, min: range.windows[0] * 1000, max: (range.end + range.step / 2) * 1000 });

function byVersion(windows, value) {
  const out = new Map();
  for (const w of windows) {
    if (!out.has(w.version)) out.set(w.version, []);
    out.get(w.version).push([Number(w.start_unix_nano) / 1e6, value(w)]);
  }
  for (const points of out.values()) points.sort((a, b) => a[0] - b[0]);
  return out;
}

function metricChart(el, task, windows, range) {
  const series = [];
  for (const [key, , value] of METRICS[task]) {
    for (const [version, points] of byVersion(windows.filter((w) => value(w) !== null && value(w) !== undefined), value)) {
      series.push(lineSeries(`${version} ${key}`, points, {
        color: colorFor(version), showSymbol: true, symbolSize: 6, lineStyle: { type: key === METRICS[task][0][0] ? 'solid' : 'dashed' },
      }));
    }
  }
  const percent = task === 'classification';
  chart(el, {
    grid: chartGrid(), legend: { top: 0, right: 8, type: 'scroll', data: series.map((s) => s.name) }, xAxis: timeX(range),
    yAxis: { type: 'value', ...(percent ? { min: 0, max: 1, axisLabel: { formatter: (v) => fmtPercent(v, 0) } } : {}) },
    tooltip: timeTooltip((v) => (percent ? fmtPercent(v) : fmtStat(v))),
    series,
  });
}

function coverageChart(el, windows, range) {
  const versions = [...byVersion(windows, (w) => w.label_coverage)];
  chart(el, {
    grid: chartGrid(), legend: { top: 0, right: 8, data: versions.map(([v]) => v) }, xAxis: timeX(range),
    yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v) => fmtPercent(v, 0) } },
    tooltip: timeTooltip((v) => fmtPercent(v)),
    series: versions.map(([version, points]) => ({ name: version, type: 'bar', barMaxWidth: 22, color: colorFor(version), data: points })),
  });
}

function versionTable(task, windows) {
  const common = [
    { label: 'Version', value: (w) => h('span', { class: 'badge badge-accent' }, w.version) },
    { label: 'Predictions', class: 'num', value: (w) => fmtNumber(w.predictions) },
    { label: 'Labelled', class: 'num', value: (w) => fmtNumber(w.labelled) },
    { label: 'Coverage', class: 'num', value: (w) => h('span', { class: 'coverage' }, fmtPercent(w.label_coverage)) },
  ];
  const specific = task === 'regression' ? [
    { label: 'MAE', class: 'num', value: (w) => fmtStat(w.mae) },
    { label: 'RMSE', class: 'num', value: (w) => fmtStat(w.rmse) },
    { label: 'MAPE', class: 'num', value: (w) => (w.mape === null ? '–' : fmtPercent(w.mape)) },
    { label: 'R²', class: 'num', value: (w) => fmtStat(w.r2) },
  ] : [
    { label: 'Accuracy', class: 'num', value: (w) => h('span', { class: 'accuracy' }, w.labelled ? fmtPercent(w.accuracy) : '–') },
    { label: 'Precision (macro)', class: 'num', value: (w) => fmtStat(w.macro?.precision) },
    { label: 'Recall (macro)', class: 'num', value: (w) => fmtStat(w.macro?.recall) },
    { label: 'F1 (macro)', class: 'num', value: (w) => fmtStat(w.macro?.f1) },
    { label: 'F1 (weighted)', class: 'num', value: (w) => fmtStat(w.weighted?.f1) },
    { label: 'Log loss', class: 'num', value: (w) => fmtStat(w.log_loss) },
  ];
  return table([...common, ...specific], windows, { rowClass: () => 'quality-row' });
}

/** One confusion matrix per version (rows: actual label, columns: predicted). */
function confusions(windows) {
  const shown = windows.filter((w) => w.labelled && w.classes?.length && w.classes.length <= 12);
  if (!shown.length) return null;
  return h('div', { class: 'model-grid' }, shown.map((w) => panel(`Confusion matrix · ${w.version}`, 'rows: actual label · columns: predicted label',
    h('table', { class: 'grid confusion' },
      h('thead', null, h('tr', null, h('th', null, 'actual \\ predicted'), w.classes.map((c) => h('th', { class: 'num' }, c)))),
      h('tbody', null, w.confusion_matrix.map((row, i) => h('tr', null, h('th', null, w.classes[i]),
        row.map((n, j) => h('td', { class: `num${i === j && n ? ' hit' : ''}` }, fmtNumber(n))))))))));
}
