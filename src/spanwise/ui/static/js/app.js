// The single-page app: a router over real URLs (state lives in the path and the query
// string, so every view can be shared and reloaded), the theme switch and the id box.

import { getJSON, pickProject, pickedProject, sendJSON } from './api.js';
import { h, note, replace, seg } from './dom.js';
import { leavePage, navigate, setRenderer } from './nav.js';
import { watchHealth } from './health.js';
import { showRetention } from './retention.js';

const ROUTES = [
  [/^\/(?:traces)?$/, () => import('./pages/traces.js')],
  [/^\/trace\/([^/]+)$/, () => import('./pages/trace.js')],
  [/^\/prediction\/([^/]+)$/, () => import('./pages/prediction.js')],
  [/^\/services$/, () => import('./pages/services.js')],
  [/^\/models$/, () => import('./pages/models.js')],
  [/^\/models\/([^/]+)$/, () => import('./pages/model.js')],
  [/^\/alerts$/, () => import('./pages/alerts.js')],
  [/^\/signin$/, () => import('./pages/signin.js')],
];

const main = document.getElementById('page');
let generation = 0;

async function render() {
  const mine = ++generation;
  leavePage();
  const path = window.location.pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  markNav(path);
  const container = h('div', { class: 'page-body' });
  replace(main, container);
  if (!route) {
    container.append(note('error', `No page at ${path}.`));
    return;
  }
  const args = route[0].exec(path).slice(1).map(decodeURIComponent);
  try {
    const page = await route[1]();
    if (mine !== generation) return;
    await page.render(container, {
      args,
      query: new URLSearchParams(window.location.search),
      isCurrent: () => mine === generation,
    });
  } catch (err) {
    console.warn(err);
    if (mine === generation) container.append(note('error', err.message || String(err)));
  }
}

function markNav(path) {
  const section = path.split('/')[1] || 'traces';
  for (const a of document.querySelectorAll('[data-nav]')) {
    const active = a.dataset.nav === section || (section === 'trace' && a.dataset.nav === 'traces')
      || (section === 'prediction' && a.dataset.nav === 'traces');
    a.classList.toggle('active', active);
  }
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  document.getElementById('theme-toggle').textContent = theme === 'dark' ? 'Light' : 'Dark';
}

function initialTheme() {
  const saved = localStorage.getItem('spanwise.theme');
  if (saved === 'dark' || saved === 'light') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

document.addEventListener('click', (event) => {
  const a = event.target.closest('a[href]');
  if (!a || a.target || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || url.pathname.startsWith('/api/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);

document.getElementById('theme-toggle').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem('spanwise.theme', next);
  applyTheme(next);
  render();
});

document.getElementById('open-box').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('open-id');
  const id = input.value.trim();
  if (!id) return;
  input.value = '';
  navigate(await idPath(id));
});

/** Where an id leads. 32 hex digits may be a trace id or a prediction id (the SDK's are
 * 32 hex too): a stored trace opens, else a known prediction (whose page shows it even when
 * its trace was sampled out), else the trace page says it is missing; anything else is a
 * prediction id. */
async function idPath(id) {
  if (!/^[0-9a-fA-F]{32}$/.test(id)) return `/prediction/${seg(id)}`;
  const found = async (path, params) => getJSON(path, params).then(() => true, () => false);
  if (await found(`/api/v1/traces/${id.toLowerCase()}`, { limit: 1 })) return `/trace/${id.toLowerCase()}`;
  return await found(`/api/v1/predictions/${seg(id)}`) ? `/prediction/${seg(id)}` : `/trace/${id.toLowerCase()}`;
}

/** With auth on and no session, only the sign-in page renders (no API call is made that
 * would be refused); signed in, the header names who and offers signing out. */
async function start() {
  setRenderer(render);
  applyTheme(initialTheme());
  const session = await getJSON('/api/v1/session').catch(() => ({ auth: false }));
  if (session.auth && !session.signed_in) {
    if (window.location.pathname !== '/signin') {
      const here = window.location.pathname + window.location.search;
      history.replaceState(null, '', `/signin?next=${encodeURIComponent(here)}`);
    }
    render();
    return;
  }
  if (session.auth) {
    showSignedIn(session);
    await showProject(session);
  }
  render();
  watchHealth(document.getElementById('health-banner'));
  showRetention(document.getElementById('retention'));
}

/** Every user sees which project the pages show; an admin can switch to any project. */
async function showProject(session) {
  const label = document.getElementById('project');
  const select = document.getElementById('project-select');
  const names = session.role === 'admin'
    ? (await getJSON('/api/v1/projects', {}, { inProject: false }).catch(() => ({ projects: [] }))).projects.map((p) => p.name)
    : [session.project];
  const current = names.includes(pickedProject()) ? pickedProject() : session.project;
  if (current === session.project) pickProject('');
  select.replaceChildren(...names.map((name) => new Option(name, name, false, name === current)));
  select.disabled = session.role !== 'admin';
  select.addEventListener('change', () => {
    pickProject(select.value === session.project ? '' : select.value);
    window.location.reload();
  });
  label.hidden = false;
}

function showSignedIn(session) {
  const button = document.getElementById('sign-out');
  button.textContent = `Sign out ${session.name}`;
  button.title = `${session.role}, project ${session.project}`;
  button.hidden = false;
  button.addEventListener('click', async () => {
    await sendJSON('DELETE', '/api/v1/session').catch(() => null);
    window.location.assign('/signin');
  });
}

start();
