// The trace as a tree for the waterfall: depth-first order (children by start time), depth
// and subtree size per span, and the critical path. Pure functions over the spans of
// `GET /api/v1/traces/{id}`; no DOM.

/**
 * Build the tree. Returns {spans, byId, order, index, roots, root, start, end, services,
 * errors, predictions}. `order` holds the spans depth-first; each span gets `_depth`,
 * `_size` (descendants), `_children` (spans), `_end` and `_orphan` (parent not in trace).
 */
export function buildTrace(spans) {
  const byId = new Map();
  // Unix nanoseconds exceed 2^53: offsets from the trace's first start are computed exactly
  // (BigInt, from the JSON source text when fetchTrace kept it) and used for all layout.
  let base = null;
  for (const span of spans) {
    span._startBig = bigNs(span.startTimeUnixNano);
    if (base === null || span._startBig < base) base = span._startBig;
  }
  for (const span of spans) {
    span._children = [];
    span._start = Number(span._startBig - base);
    span._end = span._start + span.durationNano;
    span.startTimeUnixNano = Number(span._startBig);
    for (const event of span.events || []) {
      const at = bigNs(event.timeUnixNano);
      event._offset = Number(at - span._startBig);
      event.timeUnixNano = Number(at);
    }
    byId.set(span.spanId, span);
  }
  const roots = [];
  for (const span of spans) {
    const parent = span.parentSpanId && span.parentSpanId !== span.spanId ? byId.get(span.parentSpanId) : null;
    span._orphan = Boolean(span.parentSpanId) && !parent;
    if (parent) parent._children.push(span);
    else roots.push(span);
  }
  const byStart = (a, b) => a._start - b._start || (a.spanId < b.spanId ? -1 : 1);
  roots.sort((a, b) => (a._orphan - b._orphan) || byStart(a, b));
  const order = [];
  const seen = new Set();
  // Iterative depth-first walk: a 10,000-span trace may be deep; a cycle of bad parent ids
  // is cut by `seen` (each span appears once).
  for (const top of roots) {
    const stack = [[top, 0]];
    while (stack.length) {
      const [span, depth] = stack.pop();
      if (seen.has(span.spanId)) continue;
      seen.add(span.spanId);
      span._depth = depth;
      span._index = order.length;
      order.push(span);
      span._children.sort(byStart);
      for (let i = span._children.length - 1; i >= 0; i--) stack.push([span._children[i], depth + 1]);
    }
  }
  for (const span of spans) if (!seen.has(span.spanId)) { span._depth = 0; span._index = order.length; order.push(span); }
  for (let i = order.length - 1; i >= 0; i--) {
    const span = order[i];
    span._size = span._children.reduce((n, c) => n + (c._index > i ? 1 + c._size : 0), 0);
  }
  const start = 0;
  let end = 0;
  const services = new Map();
  let errors = 0;
  const predictions = [];
  for (const span of order) {
    end = Math.max(end, span._end);
    services.set(span.serviceName, (services.get(span.serviceName) || 0) + 1);
    if (span.status?.code === 'Error') errors += 1;
    if (span.prediction) predictions.push(span);
  }
  const root = roots.find((r) => !r._orphan) || order[0];
  return { spans: order, byId, order, roots, root, start, end, startUnixNano: Number(base), services, errors, predictions };
}

function bigNs(value) {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  const n = Number(value);
  return Number.isFinite(n) ? BigInt(Math.round(n)) : 0n;
}

/** A JSON reviver that keeps Unix-nanosecond fields as their exact source text. */
export function keepNanos(key, value, context) {
  if ((key === 'startTimeUnixNano' || key === 'timeUnixNano') && typeof value === 'number' && context?.source) {
    return context.source;
  }
  return value;
}

/**
 * The critical path as Jaeger computes it: from the root, repeatedly follow the child that
 * finished last (before the point where we came back from a later child), so each returned
 * section is the part of one span that determined the end-to-end latency. Children are first
 * clipped to their parent's bounds. Returns [{spanId, start, end}] (ns offsets), latest first.
 */
export function criticalPath(root) {
  if (!root) return [];
  const sections = [];
  const clipped = new Map(); // span -> {start, end, kids (by end desc), cursor}
  const info = (span, lo, hi) => {
    let found = clipped.get(span);
    if (!found) {
      found = { span, start: Math.max(span._start, lo), end: Math.min(span._end, hi), cursor: 0, parent: null };
      clipped.set(span, found);
    }
    return found;
  };
  const kidsOf = (node) => {
    if (!node.kids) {
      node.kids = node.span._children
        .filter((c) => c._start < node.end && c._end > node.start)
        .map((c) => Object.assign(info(c, node.start, node.end), { parent: node }))
        .sort((a, b) => b.end - a.end);
    }
    return node.kids;
  };
  let node = info(root, -Infinity, Infinity);
  let returning = null; // start time of the child we just came back from
  for (let guard = 0; node && guard < 4 * clipped.size + 100000; guard++) {
    const kids = kidsOf(node);
    // The last-finishing child that ended before (or as) `returning` began: sequential calls
    // touch. The cursor only moves forward: each return to a parent comes from an earlier child.
    let next = null;
    while (node.cursor < kids.length) {
      const kid = kids[node.cursor];
      if (returning === null || kid.end <= returning) { next = kid; break; }
      node.cursor += 1;
    }
    const until = returning ?? node.end;
    if (next) {
      node.cursor += 1;
      if (next.end !== until) sections.push({ spanId: node.span.spanId, start: next.end, end: until });
      node = next;
      returning = null;
    } else {
      if (node.start !== until) sections.push({ spanId: node.span.spanId, start: node.start, end: until });
      returning = node.start;
      node = node.parent;
    }
  }
  return sections;
}

/** Ids of the visible spans (ancestors not collapsed) in tree order, as indexes into `order`. */
export function visibleRows(order, collapsed) {
  const rows = [];
  for (let i = 0; i < order.length; i++) {
    rows.push(i);
    if (collapsed.has(order[i].spanId)) i += order[i]._size;
  }
  return rows;
}

/** Every ancestor of `span` (to expand them when a span is selected or found). */
export function ancestors(trace, span) {
  const found = [];
  const seen = new Set();
  let parent = trace.byId.get(span.parentSpanId);
  while (parent && !seen.has(parent.spanId)) {
    seen.add(parent.spanId);
    found.push(parent);
    parent = trace.byId.get(parent.parentSpanId);
  }
  return found;
}

/** Does `span` match the (lower-case) filter text: name, service, attribute keys or values? */
export function spanMatches(span, needle) {
  if (!needle) return false;
  if (span.name.toLowerCase().includes(needle) || span.serviceName.toLowerCase().includes(needle)) return true;
  if (span.spanId.includes(needle)) return true;
  for (const [key, value] of Object.entries(span.attributes || {})) {
    if (key.toLowerCase().includes(needle) || String(value).toLowerCase().includes(needle)) return true;
  }
  return false;
}
