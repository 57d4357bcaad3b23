// Alerts: firing and pending alerts, rules with their state (create from JSON, delete
// those made through the API), silences (add, expire) and the history of state changes.
// Everything comes from /api/v1/alerts/...; the page refreshes itself every few seconds.
// A rule's evaluated series is charted with its threshold (alert_series.js); `?rule=`
// charts that rule, `?draft=<rule JSON>` opens the editor with it ("Alert on this" on the
// service and model pages links here).

import { seriesPanel } from '../alert_series.js';
import { getJSON, sendJSON } from '../api.js';
import { badge, fmtNumber, fmtTime, h, link, note, replace, table } from '../dom.js';

const REFRESH_MS = 5000;
const SERIES_EVERY = 6;
const STATE_KIND = { firing: 'error', pending: 'warn', inactive: 'ok', resolved: 'ok' };
const EXAMPLE_RULE = {
  name: 'HighErrorRate',
  query: { kind: 'span_metric', metric: 'error_rate', window_s: 300 },
  condition: { type: 'threshold', op: '>', threshold: 0.05, resolve_threshold: 0.03, min_samples: 50 },
  interval_s: 60,
  for_s: 120,
  labels: { severity: 'page' },
  annotations: { summary: '{{ $labels.service }} fails {{ $value }} of requests' },
};

export async function render(root, { query, isCurrent }) {
  const body = h('div', { id: 'alerts-body' });
  const chart = seriesPanel();
  const draft = query.get('draft');
  // The editor's text and whether it is open survive the page's refreshes.
  const editing = { text: draft ? pretty(draft) : JSON.stringify(EXAMPLE_RULE, null, 2), open: Boolean(draft) };
  const showSeries = (name) => chart.show(name).catch((err) => console.warn(err));
  replace(root, h('div', { class: 'row' }, h('h1', { class: 'grow' }, 'Alerts')), chart.panel, body);
  const refresh = async () => {
    const [rules, alerts, silences, history] = await Promise.all([
      getJSON('/api/v1/alerts/rules'), getJSON('/api/v1/alerts'),
      getJSON('/api/v1/alerts/silences'), getJSON('/api/v1/alerts/history', { lookback: '24h', limit: 200 }),
    ]);
    if (!isCurrent()) return;
    replace(body,
      alertsPanel(alerts.alerts),
      rulesPanel(rules.rules, chart.selected() || query.get('rule'), refresh, editing, showSeries),
      silencesPanel(silences.silences, refresh),
      historyPanel(history.history));
  };
  await refresh();
  await showSeries(query.get('rule'));
  let ticks = 0;
  const timer = setInterval(() => {
    if (!isCurrent()) { clearInterval(timer); return; }
    if (!document.activeElement || !['TEXTAREA', 'INPUT'].includes(document.activeElement.tagName)) {
      ticks += 1;
      // The series costs up to 120 store reads: redrawn every SERIES_EVERY refreshes only.
      refresh().then(() => chart.selected() && ticks % SERIES_EVERY === 0 && showSeries(null))
        .catch((err) => console.warn(err));
    }
  }, REFRESH_MS);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function labelsText(labels) {
  return Object.entries(labels || {}).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(', ');
}

function msTime(ms) {
  return ms ? fmtTime(ms * 1e6) : '';
}

function alertsPanel(alerts) {
  const live = alerts.filter((a) => a.state === 'firing' || a.state === 'pending');
  return h('div', { class: 'panel', id: 'alerts-active' }, h('h3', null, `Firing and pending (${live.length})`),
    live.length ? table([
      { label: 'Rule', value: (a) => h('b', null, a.rule) },
      { label: 'Labels', value: (a) => labelsText(a.labels) },
      { label: 'State', value: (a) => [badge(a.state, STATE_KIND[a.state]), a.silenced ? badge('silenced') : null] },
      { label: 'Value', class: 'num', value: (a) => fmtNumber(a.value) },
      { label: 'Since', value: (a) => msTime(a.fired_at_ms || a.active_at_ms) },
      { label: 'Summary', value: (a) => a.annotations?.summary || '' },
      { label: '', value: (a) => (a.annotations?.link ? h('a', { href: a.annotations.link }, 'view') : '') },
    ], live, { rowClass: (a) => `alert-row alert-${a.state}` }) : note('empty', 'Nothing is firing.'));
}

function conditionText(c) {
  if (c.type === 'absence') return 'no data';
  const line = c.op === 'outside' ? `outside [${c.low}, ${c.high}]` : `${c.op} ${c.threshold}`;
  const what = { threshold: 'value', rate_of_change: 'change', anomaly: 'robust z-score' }[c.type];
  return `${what} ${line}${c.resolve_threshold !== null ? ` (resolves past ${c.resolve_threshold})` : ''}`;
}

function rulesPanel(rules, focus, refresh, editing, showSeries) {
  const editor = h('textarea', { id: 'rule-json', rows: 14, cols: 80, spellcheck: 'false' }, editing.text);
  editor.addEventListener('input', () => { editing.text = editor.value; });
  const message = h('div', { id: 'rule-message' });
  const create = async () => {
    try {
      const rule = await sendJSON('POST', '/api/v1/alerts/rules', JSON.parse(editor.value));
      editing.open = false;
      replace(message, note('ok', 'Rule created.'));
      await refresh();
      await showSeries(rule.name);
    } catch (err) {
      replace(message, note('error', err.message));
    }
  };
  const remove = async (rule) => {
    try {
      await sendJSON('DELETE', `/api/v1/alerts/rules/${encodeURIComponent(rule.name)}`);
      await refresh();
    } catch (err) {
      replace(message, note('error', err.message));
    }
  };
  return h('div', { class: 'panel', id: 'alerts-rules' }, h('h3', null, `Rules (${rules.length})`),
    rules.length ? table([
      { label: 'Rule', value: (r) => h('b', null, r.name) },
      { label: 'Watches', value: (r) => `${r.query.kind} ${r.query.metric} over ${r.query.window_s}s` },
      { label: 'Condition', value: (r) => conditionText(r.condition) },
      { label: 'Every / for', value: (r) => `${r.interval_s}s / ${r.for_s}s` },
      { label: 'State', value: ruleState },
      { label: 'Source', value: (r) => r.source },
      { label: '', value: (r) => h('button', { type: 'button', class: 'rule-chart', onclick: () => showSeries(r.name) }, 'Chart') },
      { label: '', value: (r) => (r.source === 'api' ? h('button', { type: 'button', class: 'rule-delete', onclick: () => remove(r) }, 'Delete') : '') },
    ], rules, { rowClass: (r) => `rule-row${r.name === focus ? ' selected' : ''}` }) : note('empty', 'No rules yet.'),
    h('details', { id: 'rule-editor', open: editing.open, ontoggle: (e) => { editing.open = e.target.open; } },
      h('summary', null, 'New rule (JSON)'), editor,
      h('div', null, h('button', { type: 'button', id: 'rule-create', onclick: create }, 'Create rule')), message));
}

/** A rule's state; a rule whose evaluation fails says why, since it cannot fire until fixed. */
function ruleState(r) {
  const state = [badge(r.state, STATE_KIND[r.state]), r.alerts ? ` ${r.alerts} alert(s)` : ''];
  if (!r.error) return state;
  return [...state, ' ', badge('failing', 'error'), h('div', { class: 'rule-error' }, r.error)];
}

function silencesPanel(silences, refresh) {
  const name = h('input', { id: 'silence-name', placeholder: 'label, e.g. service' });
  const value = h('input', { id: 'silence-value', placeholder: 'value' });
  const hours = h('input', { id: 'silence-hours', type: 'number', value: '1', min: '0.1', step: '0.5' });
  const message = h('div', { id: 'silence-message' });
  const add = async () => {
    try {
      await sendJSON('POST', '/api/v1/alerts/silences', {
        matchers: [{ name: name.value, value: value.value }], duration_s: Number(hours.value) * 3600,
      });
      await refresh();
    } catch (err) {
      replace(message, note('error', err.message));
    }
  };
  const expire = async (s) => {
    await sendJSON('DELETE', `/api/v1/alerts/silences/${encodeURIComponent(s.id)}`);
    await refresh();
  };
  return h('div', { class: 'panel', id: 'alerts-silences' }, h('h3', null, 'Silences'),
    silences.length ? table([
      { label: 'Matches', value: (s) => s.matchers.map((m) => `${m.name}${m.regex ? '=~' : '='}${m.value}`).join(', ') },
      { label: 'Status', value: (s) => badge(s.status, s.status === 'active' ? 'warn' : 'neutral') },
      { label: 'Until', value: (s) => msTime(s.ends_at_ms) },
      { label: 'Comment', value: (s) => s.comment },
      { label: '', value: (s) => h('button', { type: 'button', class: 'silence-expire', onclick: () => expire(s) }, 'Expire') },
    ], silences, { rowClass: () => 'silence-row' }) : note('empty', 'No silences.'),
    h('div', { class: 'row' }, name, value, hours, h('button', { type: 'button', id: 'silence-add', onclick: add }, 'Silence')),
    message);
}

function historyPanel(history) {
  return h('div', { class: 'panel', id: 'alerts-history' }, h('h3', null, 'History (24 h)'),
    history.length ? table([
      { label: 'Time', value: (r) => msTime(r.at_ms) },
      { label: 'Rule', value: (r) => link('/alerts', { rule: r.rule }, r.rule) },
      { label: 'Labels', value: (r) => labelsText(r.labels) },
      { label: 'Change', value: (r) => [badge(r.from_state, STATE_KIND[r.from_state]), ' → ', badge(r.to_state, STATE_KIND[r.to_state])] },
      { label: 'Value', class: 'num', value: (r) => (r.value === null ? '' : fmtNumber(r.value)) },
    ], history, { rowClass: () => 'history-row' }) : note('empty', 'No state changes in the last 24 hours.'));
}
