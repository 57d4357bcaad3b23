// Navigation helpers for pages: state lives in the URL so views can be shared and reloaded.

let renderPage = () => {};

/** Called once by app.js with its render function. */
export function setRenderer(fn) {
  renderPage = fn;
}

/** Go to an in-app URL (adds a history entry unless `replace`). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  renderPage();
}

/** Append `params` to `search` (a URLSearchParams) and return it: arrays repeat the key;
 *  null, undefined and '' are left out. The UI's one query-string builder (API calls,
 *  links and the page's own URL all go through it). */
export function appendQuery(search, params) {
  for (const [key, value] of Object.entries(params || {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== '') search.append(key, String(v));
    }
  }
  return search;
}

/** Write page state into the query string without a new history entry or re-render. */
export function setQuery(params) {
  const url = new URL(window.location.href);
  url.search = '';
  appendQuery(url.searchParams, params);
  history.replaceState(null, '', url);
}

const leaving = new Set();

/** Run `fn` when the current page is left (charts dispose themselves this way, so the
 *  router needs no charting code and pages without charts never load the library). */
export function onLeave(fn) {
  leaving.add(fn);
}

/** Called by the router before it renders another page. */
export function leavePage() {
  for (const fn of leaving) fn();
  leaving.clear();
}
