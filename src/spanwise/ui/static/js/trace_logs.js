// Correlated logs of a trace: OTLP log records that carry its trace id, in time order, with
// their severity, service, body and attributes; a record's span is one click away.

import { getJSON } from './api.js';
import { badge, colorFor, fmtDuration, h, note, replace } from './dom.js';

const SEVERITY_KIND = [[17, 'error'], [13, 'warn'], [9, 'accent'], [0, 'neutral']];

function severityBadge(entry) {
  const kind = SEVERITY_KIND.find(([floor]) => entry.severityNumber >= floor)[1];
  return badge(entry.severityText || (entry.severityNumber ? `SEV${entry.severityNumber}` : 'UNSET'), kind);
}

/** A panel that loads the trace's logs; `onSpan(spanId)` selects a span in the trace view.
 *  `startNs` is the trace start (offsets are shown relative to it). */
export function logsPanel(traceId, startNs, spanNames, onSpan) {
  const body = h('div', { class: 'tv-logs-body' }, note('loading', 'Loading logs…'));
  const count = h('span', { class: 'muted', id: 'trace-log-count' });
  const filter = h('input', {
    type: 'search', class: 'tv-logs-filter', placeholder: 'Filter logs: text, severity, service',
    'aria-label': 'Filter logs', spellcheck: 'false',
  });
  const panel = h('section', { class: 'panel tv-logs', id: 'trace-logs' },
    h('div', { class: 'row' }, h('h3', { class: 'grow' }, 'Logs ', count), filter), body);
  load(traceId, startNs, spanNames, onSpan, body, count, filter);
  return panel;
}

async function load(traceId, startNs, spanNames, onSpan, body, count, filter) {
  let logs;
  try {
    logs = (await getJSON(`/api/v1/traces/${encodeURIComponent(traceId)}/logs`)).logs;
  } catch (err) {
    replace(body, note('error', `Logs could not be loaded: ${err.message}`));
    return;
  }
  count.textContent = `(${logs.length})`;
  if (!logs.length) {
    replace(body, note('empty', 'No OTLP log records carry this trace id. Send logs to /v1/logs (or LogsService on :4317) from inside spans to see them here.'));
    return;
  }
  const rows = logs.map((entry) => ({ entry, el: logRow(entry, startNs, spanNames, onSpan), text: searchable(entry) }));
  const list = h('div', { class: 'tv-logs-list' }, rows.map((r) => r.el));
  replace(body, list);
  filter.addEventListener('input', () => {
    const needle = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const visible = !needle || row.text.includes(needle);
      row.el.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    count.textContent = needle ? `(${shown} of ${logs.length})` : `(${logs.length})`;
  });
}

function searchable(entry) {
  return [entry.body, entry.severityText, entry.serviceName, ...Object.entries(entry.attributes).flat()]
    .join('\u0000').toLowerCase();
}

function logRow(entry, startNs, spanNames, onSpan) {
  const attributes = Object.entries(entry.attributes);
  const spanName = spanNames.get(entry.spanId);
  return h('div', { class: `tv-log${entry.severityNumber >= 17 ? ' is-error' : ''}`, dataset: { spanId: entry.spanId } },
    h('div', { class: 'tv-log-head' },
      h('span', { class: 'mono muted tv-log-offset', title: new Date(entry.timeUnixNano / 1e6).toISOString() },
        `+${fmtDuration(Math.max(0, entry.timeUnixNano - startNs))}`),
      severityBadge(entry),
      h('span', { class: 'tv-log-service' }, h('span', { class: 'wf-svc-mark', style: { background: colorFor(entry.serviceName) } }), entry.serviceName),
      entry.spanId
        ? h('button', { type: 'button', class: 'link-button tv-log-span', title: `Select span ${entry.spanId}`, onclick: () => onSpan(entry.spanId) },
          spanName ? `span: ${spanName}` : `span ${entry.spanId}`)
        : null),
    h('div', { class: 'tv-log-body mono' }, entry.body),
    attributes.length
      ? h('details', { class: 'tv-log-attrs' }, h('summary', null, `${attributes.length} attribute${attributes.length === 1 ? '' : 's'}`),
        h('div', { class: 'kv' }, attributes.map(([k, v]) => [h('div', { class: 'k' }, k), h('div', { class: 'v' }, v)])))
      : null);
}
