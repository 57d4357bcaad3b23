// Sign-in (when the server runs with auth): paste an API token; the server answers with
// an HttpOnly session cookie, so the token is never kept by the page or in storage.

import { ApiError, sendJSON } from '../api.js';
import { field, h, note, replace } from '../dom.js';

/** Where to go after signing in: an in-app path from `?next=`, else the traces page. */
function nextPath(query) {
  const next = query.get('next') || '/traces';
  return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/signin') ? next : '/traces';
}

export async function render(root, { query }) {
  const input = h('input', {
    type: 'password', name: 'token', id: 'signin-token', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'sw_...', 'aria-label': 'API token', style: { width: '100%' },
  });
  const message = h('div', { id: 'signin-message', role: 'status' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', {
    class: 'panel signin', id: 'signin-form', autocomplete: 'off', style: { maxWidth: '560px', margin: '40px auto' },
  },
    h('h1', {}, 'Sign in to Spanwise'),
    h('p', { class: 'muted' }, 'Paste an API token (viewer, editor or admin). The first admin token is in the '
      + 'server\'s data directory, in the file admin-token.'),
    field('Token', input), h('div', { class: 'actions', style: { marginTop: '10px' } }, button), message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    try {
      await sendJSON('POST', '/api/v1/session', { token });
      input.value = '';
      window.location.assign(nextPath(query));  // a full load: the header and health banner start signed in
    } catch (err) {
      const text = err instanceof ApiError && err.status === 401 ? 'That token is not valid (unknown, expired or revoked).'
        : err.message;
      replace(message, note('error', text));
      button.disabled = false;
    }
  });
  replace(root, form);
  input.focus();
}
