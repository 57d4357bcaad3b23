// The UI reads only the public HTTP API (`/api/v1/...`), like any other client. With auth
// on, the browser sends the session cookie; writes also carry the CSRF token the server
// set in the (readable) `spanwise_csrf` cookie, and a 401 leads to the sign-in page.

import { appendQuery } from './nav.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const CSRF_COOKIE = 'spanwise_csrf';
const CSRF_HEADER = 'X-Spanwise-CSRF';
// An admin acts in the project picked in the header (the server ignores it for others and
// refuses a project that does not exist).
const PROJECT_HEADER = 'X-Spanwise-Project';
const PROJECT_KEY = 'spanwise_project';

/** The project an admin picked ('' = the token's own). */
export function pickedProject() {
  return window.localStorage.getItem(PROJECT_KEY) || '';
}

export function pickProject(name) {
  if (name) window.localStorage.setItem(PROJECT_KEY, name);
  else window.localStorage.removeItem(PROJECT_KEY);
}

function withProject(headers) {
  const project = pickedProject();
  return project ? { ...headers, [PROJECT_HEADER]: project } : headers;
}

function csrfToken() {
  const found = document.cookie.split('; ').find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return found ? decodeURIComponent(found.slice(CSRF_COOKIE.length + 1)) : '';
}

/** Off to the sign-in page (once), coming back here afterwards. */
export function toSignIn() {
  if (window.location.pathname === '/signin') return;
  const here = window.location.pathname + window.location.search;
  window.location.assign(`/signin?next=${encodeURIComponent(here)}`);
}

async function request(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, `Spanwise is not reachable (${err.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401 && !String(url).endsWith('/api/v1/session')) toSignIn();
    throw new ApiError(response.status, body?.error?.message || `${response.status} ${response.statusText}`);
  }
  return body;
}

/** GET `path` with `params` (arrays repeat the key; empty values are left out) as JSON;
 *  `inProject: false` leaves out the picked project (the project list must load even when
 *  the pick names a project that no longer exists, which the server refuses with a 404). */
export async function getJSON(path, params = {}, { inProject = true } = {}) {
  const url = new URL(path, window.location.origin);
  appendQuery(url.searchParams, params);
  const headers = { Accept: 'application/json' };
  return request(url, { headers: inProject ? withProject(headers) : headers });
}

/** A write (POST, PUT, DELETE) with a JSON body, carrying the CSRF header. */
export async function sendJSON(method, path, body) {
  const headers = withProject({ Accept: 'application/json', [CSRF_HEADER]: csrfToken() });
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return request(new URL(path, window.location.origin), {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Unix nanoseconds `lookback` (e.g. "1h", "7d") before now, for `start` parameters. */
export function lookbackStartNs(lookback) {
  const match = /^(\d+)(m|h|d)$/.exec(lookback || '1h');
  const seconds = match ? Number(match[1]) * { m: 60, h: 3600, d: 86400 }[match[2]] : 3600;
  return (Date.now() - seconds * 1000) * 1e6;
}
