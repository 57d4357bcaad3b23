// One model: its versions and features, and tabs (in the URL with the version and the time
// range) for operations, quality, drift, data quality, explanations, version comparison and
// the stored monitoring signals. Alerts firing for the model show under its name.

import { firingAlerts } from '../alert_links.js';
import { getJSON } from '../api.js';
import {
  field, fmtNumber, fmtTime, h, replace, select, seg, withQuery,
} from '../dom.js';
import { navigate } from '../nav.js';
import { DEFAULT_LOOKBACK, LOOKBACKS, timeRange } from '../model/range.js';

const TABS = [
  ['overview', 'Overview', () => import('../model/overview.js')],
  ['quality', 'Quality', () => import('../model/quality.js')],
  ['drift', 'Drift', () => import('../model/drift.js')],
  ['data-quality', 'Data quality', () => import('../model/data_quality.js')],
  ['explanations', 'Explanations', () => import('../model/explain.js')],
  ['compare', 'Compare versions', () => import('../model/compare.js')],
  ['monitoring', 'Monitoring', () => import('../model/signals.js')],
];
/** Query keys each tab keeps in the URL besides tab, version and lookback. */
const TAB_KEYS = ['task', 'feature', 'window', 'a', 'b'];

export async function render(root, { args, query, isCurrent }) {
  const name = args[0];
  const state = {
    tab: TABS.some(([key]) => key === query.get('tab')) ? query.get('tab') : 'overview',
    version: query.get('version') || '',
    lookback: query.get('lookback') || DEFAULT_LOOKBACK,
  };
  for (const key of TAB_KEYS) state[key] = query.get(key) || '';
  const model = await getJSON(`/api/v1/models/${seg(name)}`);
  if (!isCurrent()) return;
  if (state.version && !model.versions.some((v) => v.version === state.version)) state.version = '';

  const url = (next) => modelUrl(name, { ...state, ...next });
  const go = (next, options) => navigate(url(next), options);
  const body = h('div', { id: 'model-tab', class: 'model-tab' });
  replace(root,
    header(model, state, go),
    h('nav', { class: 'tabs', id: 'model-tabs' }, TABS.map(([key, label]) => h('a', {
      href: modelUrl(name, { ...state, tab: key, feature: '', window: '' }),
      class: key === state.tab ? 'active' : null, dataset: { tab: key },
    }, label))),
    body);
  const tab = await TABS.find(([key]) => key === state.tab)[2]();
  if (!isCurrent()) return;
  await tab.render(body, {
    name, model, state, range: timeRange(state.lookback), go, url, isCurrent,
  });
}

export function modelUrl(name, state) {
  const query = {};
  if (state.tab && state.tab !== 'overview') query.tab = state.tab;
  for (const key of ['version', 'lookback', ...TAB_KEYS]) if (state[key]) query[key] = state[key];
  return withQuery(`/models/${seg(name)}`, query);
}

function header(model, state, go) {
  const seen = model.versions.reduce((n, v) => n + v.predictions, 0);
  const services = [...new Set(model.versions.flatMap((v) => v.services))];
  return h('div', { class: 'model-header' },
    h('div', { class: 'row' },
      h('div', { class: 'grow' },
        h('div', { class: 'muted crumbs' }, h('a', { href: withQuery('/models', { lookback: state.lookback }) }, 'Models'), ' / '),
        h('h1', { class: 'model-title' }, model.name),
        h('div', { class: 'muted model-facts' },
          `${fmtNumber(seen)} predictions stored · ${model.versions.length} version${model.versions.length === 1 ? '' : 's'} · `,
          `${model.features.length} features · served by `, services.join(', ') || '–',
          ` · last seen ${fmtTime(model.last_seen)}`),
        h('div', { id: 'model-alerts' }, firingAlerts({ model: model.name }))),
      h('div', { class: 'model-controls' },
        field('Version', select('version', [['', 'All versions'], ...model.versions.map((v) => [v.version, v.version])],
          state.version, { onchange: (e) => go({ version: e.target.value, window: '' }) })),
        field('Time', select('lookback', LOOKBACKS.map(([k, label]) => [k, label]), state.lookback,
          { onchange: (e) => go({ lookback: e.target.value, window: '' }) })))));
}
