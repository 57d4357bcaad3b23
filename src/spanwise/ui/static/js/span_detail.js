// The span detail panel: identity, timing and status, then attributes (searchable: long
// lists are common), events relative to the span, links to other traces, and the resource.
// Every key and value is telemetry, so all of it is text (dom.h).

import { badge, colorFor, fmtDuration, fmtTime, h, link, seg } from './dom.js';

const HEX = /^[0-9a-f]{1,32}$/i;

/** The panel for `span` of `trace`; `extra` (the AI panel, or null) goes above the attributes. */
export function spanDetail(trace, span, extra) {
  const status = span.status || {};
  const statusBadge = status.code === 'Error' ? badge('Error', 'error')
    : status.code === 'Ok' ? badge('Ok', 'ok') : badge(status.code || 'Unset');
  const parent = trace.byId.get(span.parentSpanId);
  return h('div', { class: 'span-detail', id: 'span-detail', dataset: { spanId: span.spanId } },
    h('div', { class: 'sd-head' },
      h('div', { class: 'sd-service' },
        h('span', { class: 'wf-svc-mark', style: { background: colorFor(span.serviceName) } }), span.serviceName),
      h('h2', { class: 'sd-name' }, span.name),
      h('div', { class: 'chips' }, statusBadge, badge(span.kind || 'Unspecified'),
        span.prediction ? badge('prediction', 'accent') : null,
        span._orphan ? badge('parent not in trace', 'warn') : null)),
    status.message ? h('div', { class: `note note-${status.code === 'Error' ? 'error' : 'empty'} sd-status` }, status.message) : null,
    h('div', { class: 'kv sd-summary' },
      kvRow('Start', `+${fmtDuration(span._start)}  (${fmtTime(span.startTimeUnixNano)})`),
      kvRow('Duration', fmtDuration(span.durationNano)),
      kvRow('Span ID', span.spanId),
      kvRow('Parent', parent ? `${parent.name} (${parent.spanId})` : (span.parentSpanId || '—')),
      span.scope?.name ? kvRow('Scope', [span.scope.name, span.scope.version].filter(Boolean).join(' ')) : null,
      span.sampleWeight && span.sampleWeight !== 1 ? kvRow('Sample weight', String(span.sampleWeight)) : null),
    extra,
    section('Attributes', Object.keys(span.attributes || {}).length, true, searchableKv(span.attributes || {}, 'attr-search')),
    section('Events', span.events?.length || 0, true, events(span)),
    section('Links', span.links?.length || 0, true, links(trace, span)),
    section('Resource', Object.keys(span.resource || {}).length, false, kvList(span.resource || {})));
}

/** A collapsible section (`<details>`) with a count. */
export function section(title, count, open, content, id) {
  return h('details', { class: 'sd-section', open: open || null, id: id || `sd-${title.toLowerCase()}` },
    h('summary', null, title, count === null ? null : h('span', { class: 'sd-count' }, String(count))),
    count === 0 ? h('div', { class: 'muted sd-empty' }, `No ${title.toLowerCase()}.`) : content);
}

function kvRow(key, value) {
  return [h('div', { class: 'k' }, key), h('div', { class: 'v' }, value)];
}

export function formatValue(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function kvList(map) {
  const keys = Object.keys(map).sort();
  return h('div', { class: 'kv' }, keys.map((k) => kvRow(k, formatValue(map[k]))));
}

/** A key/value list with a search box that filters on keys and values. */
function searchableKv(map, id) {
  const entries = Object.keys(map).sort().map((k) => [k, formatValue(map[k])]);
  const list = h('div', { class: 'kv', id: `${id}-list` });
  const counter = h('span', { class: 'muted sd-match-count' });
  const show = (text) => {
    const needle = text.trim().toLowerCase();
    const shown = needle ? entries.filter(([k, v]) => k.toLowerCase().includes(needle) || v.toLowerCase().includes(needle)) : entries;
    list.replaceChildren(...shown.flatMap(([k, v]) => kvRow(k, v)));
    counter.textContent = needle ? `${shown.length} of ${entries.length}` : '';
    if (needle && !shown.length) list.append(h('div', { class: 'muted sd-empty' }, 'No attribute matches.'));
  };
  const input = h('input', {
    type: 'search', id, class: 'sd-search', placeholder: 'Filter attributes (key or value)', spellcheck: 'false',
    oninput: () => show(input.value),
  });
  show('');
  return h('div', null, entries.length > 6 ? h('div', { class: 'sd-search-row' }, input, counter) : null, list);
}

function events(span) {
  return h('div', { class: 'sd-events' }, (span.events || []).map((event) => {
    const offset = event._offset;
    const outside = offset < 0 || offset > span.durationNano;
    return h('div', { class: 'sd-event' },
      h('div', { class: 'sd-event-head' },
        h('span', { class: 'mono sd-offset', title: fmtTime(event.timeUnixNano) }, `${offset < 0 ? '−' : '+'}${fmtDuration(Math.abs(offset))}`),
        h('b', null, event.name),
        outside ? badge('outside the span', 'warn') : null),
      Object.keys(event.attributes || {}).length ? kvList(event.attributes) : null);
  }));
}

function links(trace, span) {
  return h('div', { class: 'sd-links' }, (span.links || []).map((l) => {
    const valid = HEX.test(l.traceId || '') && HEX.test(l.spanId || '');
    const same = l.traceId === trace.root?.traceId;
    const target = trace.byId.get(l.spanId);
    return h('div', { class: 'sd-link' },
      valid ? link(`/trace/${seg(l.traceId.toLowerCase())}`, { span: l.spanId.toLowerCase() },
        same && target ? `${target.name} (this trace)` : `trace ${l.traceId}`) : h('span', { class: 'mono' }, `${l.traceId} / ${l.spanId}`),
      h('div', { class: 'mono muted' }, `span ${l.spanId}`),
      Object.keys(l.attributes || {}).length ? kvList(l.attributes) : null);
  }));
}
