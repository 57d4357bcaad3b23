// "Alert on this" and the alerts firing for what a page shows, for the service and model
// pages. A link opens the Alerts page's rule editor filled in with a rule (`?draft=`);
// the firing list reads GET /api/v1/alerts and keeps those whose labels match the page.

import { getJSON } from './api.js';
import { badge, h, link, replace } from './dom.js';

const RULE_DEFAULTS = { interval_s: 60, for_s: 120, labels: { severity: 'ticket' } };

/** A link to the Alerts page's editor holding `rule` (name, query, condition). */
export function alertOnThis(rule, text = 'Alert on this') {
  // The rule's own keys first (readable), then the defaults it does not set.
  const draft = JSON.stringify({ ...rule, ...RULE_DEFAULTS, ...rule });
  const el = link('/alerts', { draft }, text);
  el.classList.add('alert-on-this');
  el.title = 'Open the rule editor with a rule for this series';
  return el;
}

/** A rule name from parts (letters, digits, _ . : - only, as rules require). */
export function ruleName(...parts) {
  return parts.filter(Boolean).join('-').replace(/[^A-Za-z0-9_.:-]+/g, '_').slice(0, 128);
}

/** An element listing the pending and firing alerts whose labels include `match`
 *  (e.g. { service: 'checkout' }); empty when none, or when alerting is off. */
export function firingAlerts(match) {
  const el = h('div', { class: 'page-alerts row', dataset: { count: '0' } });
  getJSON('/api/v1/alerts').then((found) => {
    const mine = found.alerts.filter((a) => (a.state === 'firing' || a.state === 'pending')
      && Object.entries(match).every(([k, v]) => a.labels[k] === v));
    el.dataset.count = String(mine.length);
    replace(el, mine.map((a) => link('/alerts', { rule: a.rule },
      h('span', { class: `page-alert page-alert-${a.state}` },
        badge(a.state, a.state === 'firing' ? 'error' : 'warn'), ' ', a.rule, extraLabels(a.labels, match)))));
  }).catch(() => {});
  return el;
}

function extraLabels(labels, match) {
  const shown = Object.entries(labels).filter(([k]) => !(k in match) && ['operation', 'version', 'feature'].includes(k));
  return shown.length ? ` (${shown.map(([k, v]) => `${k}=${v}`).join(', ')})` : '';
}
