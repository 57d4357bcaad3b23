// DOM building without HTML strings: everything from telemetry (span names, attribute keys
// and values, service names) becomes a text node, never markup. No UI code parses strings
// as HTML (tests/unit/test_ui_static.py checks for the DOM's HTML sinks).

import { appendQuery } from './nav.js';

/** Create an element. `props`: class, style (object), dataset (object), on<event>
 *  (function), other keys as attributes. Children: nodes, strings, numbers, arrays, null. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'style') Object.assign(el.style, value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) {
      if (typeof value !== 'function') throw new Error(`event handler ${key} must be a function`);
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Append children as `h` does (strings become text nodes). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An in-app link: `path` is built by us, `query` values are encoded. */
export function link(path, query, ...children) {
  return h('a', { href: withQuery(path, query) }, ...children);
}

export function withQuery(path, query) {
  const text = appendQuery(new URLSearchParams(), query).toString();
  return text ? `${path}?${text}` : path;
}

/** A path segment from telemetry, safe inside our URLs. */
export const seg = (text) => encodeURIComponent(String(text));

export function fmtDuration(ns) {
  if (ns === null || ns === undefined || Number.isNaN(ns)) return '–';
  const ms = ns / 1e6;
  if (ms < 1) return `${(ns / 1e3).toFixed(ms < 0.01 ? 2 : 0)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

export const fmtMs = (ms) => fmtDuration(ms * 1e6);

export function fmtTime(ns) {
  if (!ns) return '–';
  const d = new Date(Number(ns) / 1e6);
  return d.toLocaleString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

export function fmtNumber(value, digits = 3) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return value.toLocaleString();
  return Number(value.toPrecision(digits)).toLocaleString(undefined, { maximumSignificantDigits: digits });
}

export function fmtPercent(ratio, digits = 1) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return '–';
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** A loading / error / empty message block. */
export function note(kind, text) {
  return h('div', { class: `note note-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A table from column specs `{label, value(row) -> node|text, class?}`. */
export function table(columns, rows, { rowClass, onRow } = {}) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class }, c.label))));
  const body = h('tbody', null, rows.map((row) => {
    const tr = h('tr', { class: rowClass ? rowClass(row) : null },
      columns.map((c) => h('td', { class: c.class }, c.value(row))));
    if (onRow) { tr.classList.add('clickable'); tr.addEventListener('click', (e) => onRow(row, e)); }
    return tr;
  }));
  return h('table', { class: 'grid' }, head, body);
}

/** A labelled form field. */
export function field(label, control) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
}

/** A <select> from `[value, label]` pairs (or plain values). */
export function select(name, options, current, props = {}) {
  return h('select', { name, ...props }, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: String(value) === String(current ?? '') }, label);
  }));
}

/** A small colored status badge. */
export function badge(text, kind = 'neutral') {
  return h('span', { class: `badge badge-${kind}` }, text);
}

/** A stable colour per name (services in the waterfall, series in charts). */
const PALETTE = ['#5b8ff9', '#5ad8a6', '#f6bd16', '#e8684a', '#6dc8ec', '#9270ca', '#ff9d4d',
  '#269a99', '#ff99c3', '#5d7092', '#a0d911', '#c41d7f'];
export function colorFor(name) {
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}
