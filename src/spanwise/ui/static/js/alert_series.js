// A rule's evaluated series (GET /api/v1/alerts/rules/{name}/series): one line per label
// set, the values the rule's condition compared, and its threshold lines dashed in red.

import { getJSON } from './api.js';
import { chart, lineSeries, timeAxis, timeTooltip } from './charts.js';
import { fmtNumber, h, note, replace, select, seg } from './dom.js';

const LOOKBACKS = ['15m', '1h', '6h', '24h'];
const LINE = { color: '#d4380d', type: 'dashed', width: 1.5 };

/** A panel (hidden until a rule is picked) that charts the rule `show(name)` picks (null:
 *  the same rule again, e.g. on a refresh), or says why it cannot; one ECharts instance,
 *  updated in place. */
export function seriesPanel() {
  const head = h('div', { id: 'rule-series-head' });
  const el = h('div', { class: 'chart', id: 'rule-series-chart', style: { height: '260px', display: 'none' } });
  const lookback = select('lookback', LOOKBACKS, '1h', { id: 'rule-series-lookback' });
  const panel = h('div', { class: 'panel', id: 'alerts-series', style: { display: 'none' } },
    h('h3', null, 'Evaluated series'), head, el);
  let current = null;
  let instance = null;
  const show = async (name) => {
    current = name || current;
    if (!current) return;
    const first = panel.style.display === 'none';
    panel.style.display = '';
    let found;
    try {
      found = await getJSON(`/api/v1/alerts/rules/${seg(current)}/series`, { lookback: lookback.value });
    } catch (err) { // e.g. a rule whose query does not fit its metric: say why instead of a stale chart
      replace(head, h('div', { class: 'row' }, h('b', { class: 'grow' }, current), lookback),
        note('error', err.message));
      el.style.display = 'none';
      return;
    }
    replace(head, h('div', { class: 'row' }, h('b', { class: 'grow' }, `${found.rule}: ${found.value}`), lookback),
      h('div', { id: 'rule-series-lines' }, found.thresholds.map((t) => `${t.name} ${t.op} ${fmtNumber(t.value)}`).join(' · ')),
      found.series.length ? null : note('empty', 'No data in this range.'),
      found.truncated ? note('warn', 'Only the first 50 label sets are shown.') : null);
    Object.assign(el.dataset, { rule: found.rule, series: String(found.series.length),
      thresholds: found.thresholds.map((t) => t.value).join(',') });
    el.style.display = found.series.length ? '' : 'none';
    if (found.series.length && instance) {
      instance.setOption(option(found), true);
      instance.resize();
    } else if (found.series.length) {
      instance = chart(el, option(found));
    }
    if (first && name) panel.scrollIntoView({ block: 'nearest' });
  };
  lookback.addEventListener('change', () => show(null));
  return { panel, show, selected: () => current };
}

function labelsText(labels) {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(', ');
}

function option(found) {
  const ms = found.points.map((t) => t / 1e6);
  const series = found.series.map((s) => lineSeries(labelsText(s.labels) || found.rule,
    ms.map((t, i) => [t, s.values[i]]), { showSymbol: true, symbolSize: 4 }));
  for (const t of found.thresholds) {
    series.push(lineSeries(`${t.name} ${t.op} ${t.value}`, [[ms[0], t.value], [ms[ms.length - 1], t.value]],
      { lineStyle: LINE, itemStyle: { color: LINE.color }, tooltip: { show: false } }));
  }
  return {
    legend: { top: 0, type: 'scroll' },
    xAxis: timeAxis,
    yAxis: { type: 'value', scale: true },
    tooltip: timeTooltip((v) => (v === null || v === undefined ? 'no data' : fmtNumber(v))),
    series,
  };
}
