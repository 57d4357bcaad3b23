// Services: the service map (request rate, error rate and p95 on nodes and edges) and RED
// charts (rate, errors, duration) per service and operation, each with "Alert on this"
// (a rule for that series in the Alerts page's editor), and the service's firing alerts.

import { alertOnThis, firingAlerts, ruleName } from '../alert_links.js';
import { getJSON, lookbackStartNs } from '../api.js';
import { chart, esc, lineSeries, timeAxis, timeTooltip } from '../charts.js';
import {
  badge, field, fmtMs, fmtNumber, fmtPercent, h, link, note, replace, select, table, withQuery,
} from '../dom.js';
import { navigate, setQuery } from '../nav.js';

const LOOKBACKS = [['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'], ['7d', 'Last 7 days']];
const STEP_SECONDS = { '15m': 15, '1h': 60, '6h': 300, '24h': 900, '7d': 3600 };

export async function render(root, { query, isCurrent }) {
  const state = { lookback: query.get('lookback') || '1h', service: query.get('service') || '', operation: query.get('operation') || '' };
  const range = { lookback: state.lookback };
  const [red, deps] = await Promise.all([
    getJSON('/api/v1/metrics/red', range),
    getJSON('/api/v1/dependencies', range),
  ]);
  if (!isCurrent()) return;
  const go = (next) => navigate(servicesUrl({ ...state, ...next }));
  const controls = h('div', { class: 'row' },
    h('h1', { class: 'grow' }, 'Services'),
    field('Time', select('lookback', LOOKBACKS, state.lookback, { onchange: (e) => go({ lookback: e.target.value }) })));
  if (!red.rows.length) {
    replace(root, controls, note('empty', 'No spans in this time range. Send OTLP traces to :4317 or :4318.'));
    return;
  }
  const mapEl = h('div', { class: 'chart tall', id: 'service-map' });
  const detail = h('div', { id: 'service-detail' });
  replace(root, controls,
    h('div', { class: 'panel' }, h('h3', null, 'Service map'),
      h('div', { class: 'muted' }, 'Nodes: request rate, error rate and p95 of each service. Edges: calls from one service to another. Click a service for its RED charts.'),
      mapEl),
    h('div', { class: 'panel' }, serviceTable(red.rows, state, go)),
    detail);
  serviceMap(mapEl, red, deps.dependencies, state, go);
  if (state.service) await serviceDetail(detail, state, go, isCurrent);
}

function servicesUrl(state) {
  return withQuery('/services', { lookback: state.lookback, service: state.service, operation: state.operation });
}

function errorKind(rate) {
  if (rate >= 0.05) return 'error';
  if (rate > 0) return 'warn';
  return 'ok';
}

function serviceTable(rows, state, go) {
  return table([
    { label: 'Service', value: (r) => h('b', null, r.name) },
    { label: 'Rate', class: 'num', value: (r) => `${fmtNumber(r.rate_per_s)}/s` },
    { label: 'Error rate', class: 'num', value: (r) => badge(fmtPercent(r.error_rate), errorKind(r.error_rate)) },
    { label: 'p50', class: 'num', value: (r) => fmtMs(r.p50_ms) },
    { label: 'p95', class: 'num', value: (r) => fmtMs(r.p95_ms) },
    { label: 'p99', class: 'num', value: (r) => fmtMs(r.p99_ms) },
    { label: 'Spans', class: 'num', value: (r) => fmtNumber(r.count) },
  ], rows, {
    rowClass: (r) => `service-row${r.name === state.service ? ' selected' : ''}`,
    onRow: (r) => go({ service: r.name, operation: '' }),
  });
}

/** Left-to-right layers: a service sits one column right of its deepest caller. */
function layout(names, edges) {
  const depth = Object.fromEntries(names.map((n) => [n, 0]));
  for (let pass = 0; pass < names.length; pass += 1) {
    let changed = false;
    for (const e of edges) {
      if (e.parent !== e.child && depth[e.child] < depth[e.parent] + 1 && depth[e.parent] + 1 < names.length) {
        depth[e.child] = depth[e.parent] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns = {};
  for (const name of names) (columns[depth[name]] ||= []).push(name);
  const position = {};
  for (const [col, members] of Object.entries(columns)) {
    members.forEach((name, i) => { position[name] = [Number(col) * 300, (i - (members.length - 1) / 2) * 110]; });
  }
  return position;
}

function serviceMap(el, red, edges, state, go) {
  const byName = Object.fromEntries(red.rows.map((r) => [r.name, r]));
  const names = [...new Set([...red.rows.map((r) => r.name), ...edges.flatMap((e) => [e.parent, e.child])])];
  const position = layout(names, edges);
  // Room for the tallest column of services, so nodes and labels keep their size.
  const perColumn = {};
  for (const [x] of Object.values(position)) perColumn[x] = (perColumn[x] || 0) + 1;
  el.style.height = `${Math.max(300, 110 * Math.max(...Object.values(perColumn)) + 100)}px`;
  const colors = { ok: '#47b881', warn: '#f0a020', error: '#e5484d' };
  const nodes = names.map((name) => {
    const r = byName[name];
    return {
      name, x: position[name][0], y: position[name][1], symbolSize: 46,
      itemStyle: { color: colors[errorKind(r ? r.error_rate : 0)], borderColor: name === state.service ? '#3b6fe0' : '#fff', borderWidth: name === state.service ? 4 : 1 },
      label: {
        show: true, position: 'bottom', lineHeight: 15,
        formatter: () => (r ? `${name}\n${fmtNumber(r.rate_per_s)}/s · ${fmtPercent(r.error_rate)} err · p95 ${fmtMs(r.p95_ms)}` : name),
      },
      red: r,
    };
  });
  // Two invisible anchors fix the drawing's bounding box: with one row of services its
  // height would be zero and ECharts would stretch the nodes.
  // Its height follows the chart's aspect ratio, so nodes stay round.
  const xs = nodes.map((n) => n.x);
  const aspect = el.clientHeight / el.clientWidth;
  const need = Math.max(...nodes.map((n) => Math.abs(n.y) + 70));
  const widen = Math.max(0, (2 * need) / aspect - (Math.max(...xs) - Math.min(...xs) + 240)) / 2;
  const [left, right] = [Math.min(...xs) - 120 - widen, Math.max(...xs) + 120 + widen];
  const half = ((right - left) * aspect) / 2;
  for (const [x, y] of [[left, -half], [right, half]]) {
    nodes.push({ name: `\u0000anchor${x}`, x, y, symbolSize: 0, label: { show: false }, tooltip: { show: false }, silent: true, anchor: true });
  }
  const links = edges.filter((e) => e.parent !== e.child).map((e) => ({
    source: e.parent, target: e.child, edge: e,
    label: { show: true, formatter: () => `${fmtNumber(e.call_count / red.window_seconds)}/s · p95 ${fmtMs(e.p95_ns / 1e6)}` },
    lineStyle: { width: 1.5 + Math.min(4, Math.log10(1 + e.call_count)), color: e.error_count ? '#e5484d' : '#8a94a6', curveness: 0.08 },
  }));
  const instance = chart(el, {
    tooltip: {
      formatter: (p) => {
        if (p.dataType === 'edge') {
          const e = p.data.edge;
          return `${esc(e.parent)} → ${esc(e.child)}<br>${esc(fmtNumber(e.call_count))} calls, ${esc(fmtNumber(e.error_count))} errors<br>p95 ${esc(fmtMs(e.p95_ns / 1e6))}`;
        }
        const r = p.data.red;
        if (p.data.anchor) return '';
        if (!r) return esc(p.name);
        return `<b>${esc(p.name)}</b><br>${esc(fmtNumber(r.rate_per_s))} spans/s<br>errors ${esc(fmtPercent(r.error_rate))}<br>p50 ${esc(fmtMs(r.p50_ms))} · p95 ${esc(fmtMs(r.p95_ms))} · p99 ${esc(fmtMs(r.p99_ms))}`;
      },
    },
    series: [{
      type: 'graph', layout: 'none', roam: true, draggable: true, data: nodes, links,
      edgeSymbol: ['none', 'arrow'], edgeSymbolSize: 9, edgeLabel: { fontSize: 11 },
      label: { fontSize: 12 }, emphasis: { focus: 'adjacency' }, left: 20, right: 20, top: 20, bottom: 20,
    }],
  });
  instance.on('click', (p) => { if (p.dataType === 'node' && !p.data.anchor) go({ service: p.name, operation: '' }); });
}

async function serviceDetail(el, state, go, isCurrent) {
  const step = STEP_SECONDS[state.lookback] || 60;
  const [ops, series] = await Promise.all([
    getJSON('/api/v1/metrics/red', { lookback: state.lookback, service: state.service }),
    getJSON('/api/v1/metrics/latency', {
      service: state.service, operation: state.operation, step, start: Math.round(lookbackStartNs(state.lookback)),
    }),
  ]);
  if (!isCurrent()) return;
  const points = series.points;
  const at = (p) => p.start_unix_nano / 1e6;
  const rateEl = h('div', { class: 'chart small', id: 'red-rate' });
  const errorEl = h('div', { class: 'chart small', id: 'red-errors' });
  const durationEl = h('div', { class: 'chart small', id: 'red-duration' });
  const scope = state.operation ? [state.service, ' · ', state.operation] : [state.service];
  const alertOn = redAlerts(state, points);
  replace(el,
    h('div', { class: 'panel' },
      h('div', { class: 'row' },
        h('h2', { class: 'grow' }, 'RED: ', ...scope),
        link('/traces', { service: state.service, operation: state.operation, lookback: state.lookback }, 'Find traces'),
        state.operation ? h('button', { type: 'button', onclick: () => go({ operation: '' }) }, 'All operations') : null),
      h('div', { id: 'service-alerts' }, firingAlerts({ service: state.service })),
      h('div', { class: 'charts-2' },
        h('div', null, h('div', { class: 'row' }, h('h3', { class: 'grow' }, 'Rate (spans/s)'), alertOn.rate), rateEl),
        h('div', null, h('div', { class: 'row' }, h('h3', { class: 'grow' }, 'Errors (per step)'), alertOn.errors), errorEl)),
      h('div', { class: 'row' }, h('h3', { class: 'grow' }, 'Duration'), alertOn.duration), durationEl),
    h('div', { class: 'panel' }, h('h3', null, 'Operations'), table([
      { label: 'Operation', value: (r) => r.name },
      { label: 'Rate', class: 'num', value: (r) => `${fmtNumber(r.rate_per_s)}/s` },
      { label: 'Error rate', class: 'num', value: (r) => badge(fmtPercent(r.error_rate), errorKind(r.error_rate)) },
      { label: 'p50', class: 'num', value: (r) => fmtMs(r.p50_ms) },
      { label: 'p95', class: 'num', value: (r) => fmtMs(r.p95_ms) },
      { label: 'p99', class: 'num', value: (r) => fmtMs(r.p99_ms) },
    ], ops.rows, {
      rowClass: (r) => `operation-row${r.name === state.operation ? ' selected' : ''}`,
      onRow: (r) => go({ operation: r.name }),
    })));
  if (!points.length) {
    durationEl.replaceWith(note('empty', 'No spans of this service in the time range.'));
    return;
  }
  const common = { xAxis: timeAxis, grid: { left: 56, right: 16, top: 28, bottom: 28 } };
  chart(rateEl, { ...common, yAxis: { type: 'value' }, tooltip: timeTooltip((v) => `${fmtNumber(v)}/s`),
    series: [lineSeries('rate', points.map((p) => [at(p), p.count / step]), { areaStyle: { opacity: 0.15 } })] });
  chart(errorEl, { ...common, yAxis: { type: 'value', minInterval: 1 }, tooltip: timeTooltip((v) => fmtNumber(v)),
    series: [{ name: 'errors', type: 'bar', itemStyle: { color: '#e5484d' }, data: points.map((p) => [at(p), p.error_count]) }] });
  chart(durationEl, { ...common, legend: { top: 0 }, yAxis: { type: 'value', name: 'ms' }, tooltip: timeTooltip((v) => fmtMs(v)),
    series: ['p50', 'p95', 'p99'].map((q) => lineSeries(q, points.map((p) => [at(p), p[`${q}_ms`]]))) });
}

/** "Alert on this" links for the RED charts: the service (or operation) going silent, its
 *  error rate past 5%, its p95 past twice the worst p95 in view (at least 100 ms). */
function redAlerts(state, points) {
  const query = { kind: 'span_metric', service: state.service, window_s: 300 };
  if (state.operation) query.operation = state.operation;
  const worst = Math.max(0, ...points.map((p) => p.p95_ms || 0));
  const p95 = Math.max(100, Math.round(2 * worst));
  const name = (what) => ruleName(state.service, state.operation, what);
  return {
    rate: alertOnThis({ name: name('silent'), query: { ...query, metric: 'rate' },
      condition: { type: 'absence' } }),
    errors: alertOnThis({ name: name('error-rate'), query: { ...query, metric: 'error_rate' },
      condition: { type: 'threshold', op: '>', threshold: 0.05, resolve_threshold: 0.03, min_samples: 20 } }),
    duration: alertOnThis({ name: name('p95'), query: { ...query, metric: 'p95_ms' },
      condition: { type: 'threshold', op: '>', threshold: p95, resolve_threshold: Math.round(p95 * 0.8), min_samples: 20 } }),
  };
}
