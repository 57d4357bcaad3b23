// The trace waterfall: one row per span in tree order on a time ruler, with service colours,
// collapse/expand, error marks, the critical path and a find box. Rows are virtualized: the
// body is a fixed-height scroller over a spacer as tall as every visible row, and only the
// rows in (or near) the viewport are in the DOM, so a 10,000-span trace scrolls smoothly.

import { colorFor, fmtDuration, h } from './dom.js';
import { ancestors, spanMatches, visibleRows } from './trace_model.js';

export const ROW_HEIGHT = 26;
const OVERSCAN = 12;
const INDENT = 14;
const MAX_INDENT_DEPTH = 24;
const TICKS = 5;
const MAX_EVENT_MARKS = 20;

/**
 * `trace` from buildTrace, `critical` from criticalPath; `onSelect(span)` on a click.
 * Returns {el, select(spanId, {scroll}), setFind(text), step(delta), matches()}.
 */
export function createWaterfall(trace, critical, { onSelect, onFind }) {
  const total = Math.max(trace.end - trace.start, 1);
  const pct = (ns) => `${(((ns - trace.start) / total) * 100).toFixed(4)}%`;
  const width = (ns) => `${Math.max((ns / total) * 100, 0).toFixed(4)}%`;
  const criticalBySpan = new Map();
  for (const section of critical) {
    if (!criticalBySpan.has(section.spanId)) criticalBySpan.set(section.spanId, []);
    criticalBySpan.get(section.spanId).push(section);
  }
  const collapsed = new Set();
  let rows = visibleRows(trace.order, collapsed);
  let selected = null;
  let needle = '';
  let matchIds = new Set();
  let matchList = [];
  let matchAt = -1;

  const layer = h('div', { class: 'wf-rows' });
  const spacer = h('div', { class: 'wf-spacer' }, gridLines(), layer);
  const body = h('div', { class: 'wf-body', id: 'waterfall-body', tabindex: '0', onscroll: schedule, onkeydown: keys });
  body.append(spacer);
  const el = h('div', { class: 'wf', id: 'waterfall' }, ruler(), body);

  let frame = 0;
  function schedule() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(false); });
  }

  function layout() {
    spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    body.style.height = `${Math.min(rows.length * ROW_HEIGHT + 2, Math.max(320, window.innerHeight - 250))}px`;
    el.dataset.rows = String(rows.length);
  }

  // Rows in the DOM by row number. A scroll only adds the rows that came into range and
  // removes those that left it; a change of state (selection, find, collapse) redraws all.
  const live = new Map();
  function draw(full = true) {
    const viewport = body.clientHeight || 600;
    const first = Math.max(0, Math.floor(body.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((body.scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
    if (full) {
      live.clear();
      layer.replaceChildren();
    }
    for (const [r, node] of live) {
      if (r < first || r >= last) { node.remove(); live.delete(r); }
    }
    for (let r = first; r < last; r++) {
      if (!live.has(r)) {
        const node = row(trace.order[rows[r]], r);
        live.set(r, node);
        layer.append(node);
      }
    }
  }

  function row(span, r) {
    const isCollapsed = collapsed.has(span.spanId);
    const sections = criticalBySpan.get(span.spanId);
    const classes = ['wf-row'];
    if (span.spanId === selected) classes.push('is-selected');
    if (span.status?.code === 'Error') classes.push('is-error');
    if (sections) classes.push('on-critical-path');
    if (needle) classes.push(matchIds.has(span.spanId) ? 'is-match' : 'is-dim');
    const color = colorFor(span.serviceName);
    const depth = Math.min(span._depth, MAX_INDENT_DEPTH);
    const toggle = span._size
      ? h('button', {
        type: 'button', class: 'wf-toggle', title: isCollapsed ? `Expand (${span._size} spans)` : 'Collapse',
        'aria-expanded': String(!isCollapsed), onclick: (event) => { event.stopPropagation(); toggleSpan(span); },
      }, isCollapsed ? '▸' : '▾')
      : h('span', { class: 'wf-toggle-space' });
    const name = h('div', { class: 'wf-name', style: { paddingLeft: `${6 + depth * INDENT}px` } },
      toggle,
      h('span', { class: 'wf-svc-mark', style: { background: color } }),
      h('span', { class: 'wf-svc' }, span.serviceName),
      h('span', { class: 'wf-op' }, span.name),
      isCollapsed ? h('span', { class: 'wf-hidden-count' }, `+${span._size}`) : null,
      span.status?.code === 'Error' ? h('span', { class: 'wf-err', title: span.status.message || 'Error' }, '!') : null,
      span.prediction ? h('span', { class: 'wf-ai', title: 'Prediction span' }, 'AI') : null);
    const start = span._start;
    const timeline = h('div', { class: 'wf-timeline' },
      h('div', { class: 'wf-bar', style: { left: pct(start), width: width(span.durationNano), background: color } }),
      (sections || []).map((s) => h('div', { class: 'wf-crit', style: { left: pct(s.start), width: width(s.end - s.start) } })),
      (span.events || []).slice(0, MAX_EVENT_MARKS).map((e) => h('div', {
        class: 'wf-event', style: { left: pct(span._start + Math.min(Math.max(e._offset, 0), span.durationNano)) },
      })),
      h('span', { class: 'wf-dur', style: { left: `calc(${pct(start + span.durationNano)} + 4px)` } }, fmtDuration(span.durationNano)));
    return h('div', {
      class: classes.join(' '), style: { top: `${r * ROW_HEIGHT}px`, height: `${ROW_HEIGHT}px` },
      dataset: { spanId: span.spanId, row: String(r) },
      title: `${span.serviceName}: ${span.name} — ${fmtDuration(span.durationNano)} at +${fmtDuration(span._start)}`,
      onclick: () => { select(span.spanId, { scroll: false }); onSelect(span); },
    }, name, timeline);
  }

  function ruler() {
    const labels = [];
    for (let i = 0; i <= TICKS - 1; i++) {
      labels.push(h('span', { class: 'wf-tick-label', style: { left: `${(i / (TICKS - 1)) * 100}%` } },
        i ? fmtDuration((total * i) / (TICKS - 1)) : '0'));
    }
    return h('div', { class: 'wf-head' },
      h('div', { class: 'wf-name wf-head-name' }, 'Service & operation'),
      h('div', { class: 'wf-timeline wf-ruler' }, labels));
  }

  function gridLines() {
    const lines = [];
    for (let i = 1; i < TICKS - 1; i++) lines.push(h('div', { class: 'wf-gridline', style: { left: `${(i / (TICKS - 1)) * 100}%` } }));
    return h('div', { class: 'wf-grid' }, lines);
  }

  function refresh() {
    rows = visibleRows(trace.order, collapsed);
    layout();
    draw();
  }

  function toggleSpan(span) {
    if (collapsed.has(span.spanId)) collapsed.delete(span.spanId);
    else collapsed.add(span.spanId);
    refresh();
  }

  function collapseAll() {
    for (const span of trace.order) if (span._size && span._depth >= 1) collapsed.add(span.spanId);
    refresh();
  }

  function expandAll() {
    collapsed.clear();
    refresh();
  }

  /** Select a span (expanding its ancestors); `scroll` brings its row into view. */
  function select(spanId, { scroll = true } = {}) {
    const span = trace.byId.get(spanId);
    if (!span) return null;
    selected = spanId;
    let opened = false;
    for (const parent of ancestors(trace, span)) opened = collapsed.delete(parent.spanId) || opened;
    if (opened) rows = visibleRows(trace.order, collapsed);
    layout();
    if (scroll) {
      const r = rows.indexOf(span._index);
      const top = r * ROW_HEIGHT;
      if (top < body.scrollTop || top + ROW_HEIGHT > body.scrollTop + body.clientHeight) {
        body.scrollTop = Math.max(0, top - body.clientHeight / 2);
      }
    }
    draw();
    return span;
  }

  function setFind(text) {
    needle = (text || '').trim().toLowerCase();
    matchList = needle ? trace.order.filter((s) => spanMatches(s, needle)) : [];
    matchIds = new Set(matchList.map((s) => s.spanId));
    matchAt = -1;
    draw();
    return matchList.length;
  }

  /** Go to the next (+1) or previous (-1) match and select it. */
  function step(delta) {
    if (!matchList.length) return null;
    matchAt = (matchAt + delta + matchList.length) % matchList.length;
    const span = select(matchList[matchAt].spanId);
    onSelect(span);
    onFind?.(matchAt, matchList.length);
    return span;
  }

  function keys(event) {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    event.preventDefault();
    const current = selected ? rows.indexOf(trace.byId.get(selected)._index) : -1;
    const next = Math.min(rows.length - 1, Math.max(0, current + (event.key === 'ArrowDown' ? 1 : -1)));
    const span = trace.order[rows[next]];
    select(span.spanId);
    onSelect(span);
  }

  const onResize = () => {
    if (!el.isConnected) { window.removeEventListener('resize', onResize); return; }
    layout();
    draw();
  };
  window.addEventListener('resize', onResize);
  layout();
  return { el, select, setFind, step, collapseAll, expandAll, draw, rowCount: () => rows.length };
}
