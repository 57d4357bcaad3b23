// Traces: search by service, operation, any attribute (model name/version and confidence
// range included), duration, status and time; a duration scatter plot and the results list.

import { getJSON } from '../api.js';
import { chart, esc, timeAxis } from '../charts.js';
import {
  badge, colorFor, field, fmtDuration, fmtTime, h, link, note, replace, select, seg, table,
} from '../dom.js';
import { navigate, setQuery } from '../nav.js';

const LOOKBACKS = [['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'], ['2d', 'Last 2 days'], ['7d', 'Last 7 days']];
const STATUSES = [['', 'Any status'], ['Error', 'Error'], ['Ok', 'Ok'], ['Unset', 'Unset']];
const FIELDS = ['service', 'operation', 'tags', 'model', 'version', 'min_confidence', 'max_confidence',
  'min_duration', 'max_duration', 'status', 'lookback', 'limit'];

/** `key=value` pairs separated by spaces; values may be "quoted" to hold spaces. */
export function parseTags(text) {
  const pairs = [];
  const pattern = /([^\s=]+)=(?:"([^"]*)"|(\S*))/g;
  let match;
  while ((match = pattern.exec(text || '')) !== null) pairs.push([match[1], match[2] ?? match[3]]);
  return pairs;
}

function apiParams(state) {
  const attributes = parseTags(state.tags).map(([k, v]) => `${k}:${v}`);
  if (state.model) attributes.push(`ml.model.name:${state.model}`);
  if (state.version) attributes.push(`ml.model.version:${state.version}`);
  return {
    service: state.service, operation: state.operation, attribute: attributes,
    min_confidence: state.min_confidence, max_confidence: state.max_confidence,
    min_duration: state.min_duration, max_duration: state.max_duration, status: state.status,
    lookback: state.lookback || '1h', limit: state.limit || 50,
  };
}

export async function render(root, { query, isCurrent }) {
  const state = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) || '']));
  // The search starts now, beside the service list, not after the form is built.
  const firstResults = getJSON('/api/v1/traces', apiParams(state));
  firstResults.catch(() => {});
  const services = await getJSON('/api/v1/services').then((r) => r.services).catch(() => []);
  if (!isCurrent()) return;

  const operationSelect = select('operation', [['', 'All operations']], state.operation);
  const form = h('form', { class: 'panel search-form', id: 'trace-search' },
    field('Service', select('service', [['', 'All services'], ...services], state.service,
      { onchange: () => loadOperations(form.service.value, operationSelect, '') })),
    field('Operation', operationSelect),
    field('Attributes', h('input', { name: 'tags', value: state.tags, placeholder: 'http.status_code=500 user.id=42', spellcheck: 'false' })),
    field('Model', h('input', { name: 'model', value: state.model, placeholder: 'ml.model.name' })),
    field('Version', h('input', { name: 'version', value: state.version, placeholder: 'ml.model.version' })),
    field('Min confidence', h('input', { name: 'min_confidence', value: state.min_confidence, type: 'number', step: 'any', min: 0, max: 1 })),
    field('Max confidence', h('input', { name: 'max_confidence', value: state.max_confidence, type: 'number', step: 'any', min: 0, max: 1 })),
    field('Min duration', h('input', { name: 'min_duration', value: state.min_duration, placeholder: 'e.g. 100ms' })),
    field('Max duration', h('input', { name: 'max_duration', value: state.max_duration, placeholder: 'e.g. 2s' })),
    field('Status', select('status', STATUSES, state.status)),
    field('Time', select('lookback', LOOKBACKS, state.lookback || '1h')),
    field('Limit', h('input', { name: 'limit', value: state.limit || 50, type: 'number', min: 1, max: 1000 })),
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, 'Find traces')));
  const results = h('div', { id: 'trace-results' });
  replace(root, h('h1', null, 'Traces'), form, results);
  if (state.service) await loadOperations(state.service, operationSelect, state.operation);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = Object.fromEntries(FIELDS.map((f) => [f, form[f].value.trim()]));
    setQuery(next);
    search(next, results, isCurrent);
  });
  await search(state, results, isCurrent, firstResults);
}

async function loadOperations(service, selectEl, current) {
  const options = [['', 'All operations']];
  if (service) {
    const ops = await getJSON(`/api/v1/services/${seg(service)}/operations`).catch(() => ({ operations: [] }));
    for (const name of new Set(ops.operations.map((o) => o.name))) options.push([name, name]);
  }
  replace(selectEl, [...select("operation", options, current).children]);
}

async function search(state, results, isCurrent, pending = null) {
  replace(results, note('loading', 'Searching…'));
  let traces;
  try {
    traces = (await (pending || getJSON('/api/v1/traces', apiParams(state)))).traces;
  } catch (err) {
    replace(results, note('error', err.message));
    return;
  }
  if (!isCurrent()) return;
  if (!traces.length) {
    replace(results, note('empty', 'No traces match. Widen the time range or remove a filter.'));
    return;
  }
  const plot = h('div', { class: 'chart small', id: 'trace-scatter' });
  replace(results,
    h('div', { class: 'panel' }, h('div', { class: 'muted' }, `${traces.length} traces`), plot),
    h('div', { class: 'panel' }, resultsTable(traces)));
  scatter(plot, traces);
}

function resultsTable(traces) {
  return table([
    { label: 'Trace', value: (t) => h('div', null,
      link(`/trace/${seg(t.traceId)}`, null, h('b', null, t.rootServiceName), ': ', t.rootSpanName),
      h('div', { class: 'mono muted' }, t.traceId)) },
    { label: 'Services', value: (t) => h('div', { class: 'chips' }, t.services.map((s) => serviceChip(s))) },
    { label: 'Predictions', value: (t) => h('div', { class: 'chips' }, (t.models || []).map((m) => h('span', { class: 'badge badge-accent model-chip', title: `${m.predictions} prediction${m.predictions === 1 ? '' : 's'}` },
      `${m.name}${m.version ? ` ${m.version}` : ''}${m.predictions > 1 ? ` ×${m.predictions}` : ''}`))) },
    { label: 'Spans', class: 'num', value: (t) => [String(t.spanCount), t.errorCount ? [' ', badge(`${t.errorCount} error${t.errorCount === 1 ? '' : 's'}`, 'error')] : null] },
    { label: 'Duration', class: 'num', value: (t) => fmtDuration(t.durationNano) },
    { label: 'Started', class: 'num', value: (t) => fmtTime(t.startTimeUnixNano) },
  ], traces, { rowClass: (t) => `trace-row${t.errorCount ? ' is-error' : ''}` });
}

function serviceChip(name) {
  return h('span', { class: 'badge', style: { borderLeft: `3px solid ${colorFor(name)}` } }, name);
}

function scatter(el, traces) {
  const point = (t) => ({
    value: [t.startTimeUnixNano / 1e6, t.durationNano / 1e6],
    traceId: t.traceId, name: `${t.rootServiceName}: ${t.rootSpanName}`, spans: t.spanCount,
  });
  // Dot size grows with the span count, as in Jaeger's scatter plot.
  const size = (value, p) => Math.min(24, 7 + Math.sqrt(p.data.spans));
  const instance = chart(el, {
    grid: { left: 64, right: 20, top: 28, bottom: 30 },
    legend: { top: 0, right: 10, data: ['ok', 'error'] },
    xAxis: { ...timeAxis, min: (v) => v.min - (v.max - v.min || 60000) * 0.03, max: (v) => v.max + (v.max - v.min || 60000) * 0.03 },
    yAxis: { type: 'value', name: 'ms', min: 0 },
    tooltip: {
      formatter: (p) => `${esc(p.data.name)}<br>${esc(fmtDuration(p.data.value[1] * 1e6))}, ${esc(p.data.spans)} spans`,
    },
    series: [
      { name: 'ok', type: 'scatter', symbolSize: size, itemStyle: { color: '#5b8ff9' }, data: traces.filter((t) => !t.errorCount).map(point) },
      { name: 'error', type: 'scatter', symbolSize: size, itemStyle: { color: '#e8684a' }, data: traces.filter((t) => t.errorCount).map(point) },
    ],
  });
  instance.on('click', (p) => navigate(`/trace/${seg(p.data.traceId)}`));
}
