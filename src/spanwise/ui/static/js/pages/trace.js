// Trace view: header (root operation, timing, services, errors), the virtualized waterfall
// with the critical path and a find box, and the detail panel of the selected span (with the
// AI panel for prediction spans). The selected span and the find text live in the URL
// (`?span=&find=`), so a link can open a trace with a span selected. A trace bigger than
// the server's page (`server.max_trace_spans`) shows "N of M spans" and loads more on demand.

import { ApiError } from '../api.js';
import { badge, colorFor, fmtDuration, fmtTime, h, note, replace, seg, withQuery } from '../dom.js';
import { setQuery } from '../nav.js';
import { spanDetail } from '../span_detail.js';
import { logsPanel } from '../trace_logs.js';
import { buildTrace, criticalPath, keepNanos } from '../trace_model.js';
import { createWaterfall } from '../waterfall.js';

export async function render(root, { args, query, isCurrent }) {
  const traceId = args[0].toLowerCase();
  const started = performance.now();
  replace(root, note('loading', `Loading trace ${traceId}…`));
  let data;
  try {
    data = await fetchTrace(traceId);
  } catch (err) {
    if (!isCurrent()) return;
    const text = err instanceof ApiError && err.status === 404
      ? `Trace ${traceId} was not found: it may not be stored yet, or it was sampled out.`
      : err.message;
    replace(root, h('h1', null, 'Trace'), note('error', text));
    return;
  }
  if (!isCurrent()) return;
  if (!data.spans?.length) {
    replace(root, h('h1', null, 'Trace'), note('empty', `Trace ${traceId} has no spans.`));
    return;
  }
  show(root, { query, isCurrent }, traceId, data.spans, data, started);
}

/** Build the view from the spans loaded so far; `page` is the last page's answer. */
function show(root, { query, isCurrent }, traceId, spans, page, started) {
  const trace = buildTrace(spans);
  const critical = criticalPath(trace.root);
  const state = { span: query.get('span') || '', find: query.get('find') || '' };
  const detail = h('aside', { class: 'panel tv-detail', id: 'tv-detail' });
  const matchCount = h('span', { class: 'muted tv-matches', id: 'find-count' });
  let aiToken = 0;

  const showDetail = async (span) => {
    const token = ++aiToken;
    if (!span) {
      replace(detail, note('empty', 'Select a span to see its attributes, events and links.'));
      return;
    }
    const ai = span.prediction ? h('div', { class: 'ai-slot' }, note('loading', 'Loading the prediction…')) : null;
    replace(detail, spanDetail(trace, span, ai));
    if (ai) {
      const { aiPanel } = await import('../ai_panel.js');
      if (token !== aiToken || !isCurrent()) return;
      await aiPanel(ai, span, () => token === aiToken && isCurrent());
    }
  };

  const onSelect = (span) => {
    state.span = span.spanId;
    setQuery(state);
    showDetail(span);
  };
  const waterfall = createWaterfall(trace, critical, {
    onSelect,
    onFind: (at, count) => { matchCount.textContent = `${at + 1} of ${count}`; },
  });

  const find = h('input', {
    type: 'search', id: 'span-find', class: 'tv-find', value: state.find, spellcheck: 'false',
    placeholder: 'Find spans: name, service, attribute key or value', 'aria-label': 'Find spans',
    onkeydown: (event) => { if (event.key === 'Enter') { event.preventDefault(); waterfall.step(event.shiftKey ? -1 : 1); } },
  });
  let findTimer = 0;
  const applyFind = () => {
    const count = waterfall.setFind(find.value);
    matchCount.textContent = find.value.trim() ? `${count} match${count === 1 ? '' : 'es'}` : '';
    state.find = find.value.trim();
    setQuery(state);
  };
  find.addEventListener('input', () => { clearTimeout(findTimer); findTimer = setTimeout(applyFind, 120); });

  const toolbar = h('div', { class: 'tv-toolbar' },
    find, matchCount,
    h('button', { type: 'button', title: 'Previous match (Shift+Enter)', onclick: () => waterfall.step(-1) }, '↑'),
    h('button', { type: 'button', title: 'Next match (Enter)', onclick: () => waterfall.step(1) }, '↓'),
    h('span', { class: 'tv-toolbar-gap' }),
    h('span', { class: 'tv-legend' }, h('span', { class: 'tv-legend-crit' }), 'critical path'),
    h('button', { type: 'button', id: 'collapse-all', onclick: () => waterfall.collapseAll() }, 'Collapse all'),
    h('button', { type: 'button', id: 'expand-all', onclick: () => waterfall.expandAll() }, 'Expand all'));

  const selectById = (spanId) => {
    const span = waterfall.select(spanId);
    if (span) onSelect(span);
  };
  const spanNames = new Map(trace.order.map((span) => [span.spanId, span.name]));
  const loadMore = async (button) => {
    button.disabled = true;
    button.textContent = 'Loading…';
    try {
      const next = await fetchTrace(traceId, page.nextOffset, page.limit);
      if (!isCurrent()) return;
      show(root, { query, isCurrent }, traceId, exactNanos(spans).concat(next.spans), next, performance.now());
    } catch (err) {
      button.disabled = false;
      button.textContent = 'Load more spans';
      button.after(note('error', `Could not load more spans: ${err.message}`));
    }
  };
  replace(root,
    header(trace, traceId, (name) => { find.value = name; applyFind(); }, (span) => { waterfall.select(span.spanId); onSelect(span); }, page),
    truncation(trace.order.length, page, loadMore),
    h('div', { class: 'tv-split' },
      h('section', { class: 'panel tv-waterfall' }, toolbar, waterfall.el),
      detail),
    logsPanel(traceId, trace.startUnixNano, spanNames, selectById));

  if (state.find) applyFind();
  const selected = state.span ? waterfall.select(state.span) : null;
  waterfall.draw();
  if (state.span && !selected) {
    replace(detail, note('error', `Span ${state.span} is not in this trace.`));
  } else {
    showDetail(selected || trace.root);
  }
  waterfall.el.dataset.renderMs = String(Math.round(performance.now() - started));
}

/** "Showing N of M spans" and a button for the next page, when the trace was cut (else null). */
function truncation(shown, page, loadMore) {
  const total = page.totalSpans ?? shown;
  if (total <= shown) return null;
  const next = page.nextOffset == null ? 0 : Math.min(page.limit, total - shown);
  return h('div', { class: 'note tv-truncated', id: 'trace-truncated' },
    `Showing ${shown.toLocaleString()} of ${total.toLocaleString()} spans (the earliest first). `,
    next ? h('button', { type: 'button', id: 'load-more-spans', onclick: (event) => loadMore(event.currentTarget) },
      `Load next ${next.toLocaleString()} spans`) : null);
}

/** Spans already through buildTrace, with their times as exact text again, to be rebuilt. */
function exactNanos(spans) {
  for (const span of spans) {
    span.startTimeUnixNano = String(span._startBig);
    for (const event of span.events || []) event.timeUnixNano = String(span._startBig + BigInt(event._offset));
  }
  return spans;
}

/** GET (a page of) the trace, keeping Unix-nanosecond times exact (api.getJSON would round them to doubles). */
async function fetchTrace(traceId, offset = 0, limit = null) {
  const url = withQuery(`/api/v1/traces/${seg(traceId)}`, { offset: offset || null, limit: limit || null });
  let response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (err) {
    throw new ApiError(0, `Spanwise is not reachable (${err.message})`);
  }
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text, keepNanos);
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body?.error?.message || `${response.status} ${response.statusText}`);
  if (!body) throw new ApiError(response.status, 'The trace is not valid JSON.');
  return body;
}

function spanCount(shown, total) {
  return total && total > shown ? `${shown.toLocaleString()} of ${total.toLocaleString()}` : String(shown);
}

function startedCard(unixNano) {
  const when = new Date(unixNano / 1e6);
  const time = when.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(when.getMilliseconds()).padStart(3, '0');
  return h('div', { class: 'card', title: fmtTime(unixNano) },
    h('div', { class: 'label' }, 'Started ', h('span', { class: 'tv-date' }, when.toLocaleDateString())),
    h('div', { class: 'value' }, time));
}

function header(trace, traceId, onService, onPrediction, page) {
  const root = trace.root;
  const services = [...trace.services.entries()].sort((a, b) => b[1] - a[1]);
  const depth = trace.order.reduce((max, s) => Math.max(max, s._depth), 0) + 1;
  const card = (label, value, extra = {}) => h('div', { class: 'card', ...extra },
    h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
  return h('header', { class: 'tv-header', id: 'trace-header' },
    h('div', { class: 'tv-title' },
      h('span', { class: 'wf-svc-mark tv-title-mark', style: { background: colorFor(root.serviceName) } }),
      h('h1', null, h('span', { class: 'tv-root-svc' }, root.serviceName), ': ', root.name),
      trace.errors ? badge(`${trace.errors} error${trace.errors === 1 ? '' : 's'}`, 'error') : badge('no errors', 'ok')),
    h('div', { class: 'mono muted tv-trace-id' }, `Trace ${traceId}`),
    h('div', { class: 'cards tv-cards' },
      startedCard(trace.startUnixNano),
      card('Duration', fmtDuration(trace.end - trace.start), { id: 'trace-duration' }),
      card('Spans', spanCount(trace.order.length, page.totalSpans), { id: 'trace-span-count' }),
      card('Depth', String(depth)),
      card('Errors', String(trace.errors), { class: `card${trace.errors ? ' is-error' : ''}` }),
      card('Services', String(services.length))),
    h('div', { class: 'tv-services chips', id: 'trace-services' },
      services.map(([name, count]) => h('button', {
        type: 'button', class: 'tv-service', title: `Find the spans of ${name}`, onclick: () => onService(name),
      }, h('span', { class: 'wf-svc-mark', style: { background: colorFor(name) } }), name, h('span', { class: 'muted' }, ` ${count}`))),
      trace.predictions.slice(0, 5).map((span) => h('button', {
        type: 'button', class: 'tv-prediction', title: 'Select the prediction span', onclick: () => onPrediction(span),
      }, badge('AI', 'accent'), ` ${span.prediction.model_name} ${span.prediction.model_version || ''} · ${span.prediction.prediction_id || span.name}`)),
      trace.predictions.length > 5 ? h('span', { class: 'muted' }, `+${trace.predictions.length - 5} predictions`) : null));
}
