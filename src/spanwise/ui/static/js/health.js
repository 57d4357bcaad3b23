// The platform's own trouble, on every page: batches the store refused (quarantined),
// read from /api/v1/status when the app loads and every minute after. A failure to read
// the status is not shown here (each page reports its own API errors).

import { h, replace } from './dom.js';
import { getJSON } from './api.js';

const INTERVAL_MS = 60_000;

function render(banner, status) {
  const quarantine = status.quarantine || {};
  if (!quarantine.segments) {
    banner.hidden = true;
    replace(banner);
    return;
  }
  banner.hidden = false;
  replace(banner,
    h('strong', {}, `${quarantine.segments} ingest batch${quarantine.segments === 1 ? '' : 'es'} `
      + (quarantine.rows ? `(${quarantine.rows} spans) ` : '') + 'quarantined.'),
    ` The store refused them: ${quarantine.last_error || 'see the server log'}. They are kept in the `
      + 'data directory (ingest-log/quarantine/); after a fix, POST /api/v1/ingest/quarantine/replay stores them.');
}

export function watchHealth(banner) {
  const check = () => getJSON('/api/v1/status').then((status) => render(banner, status), () => {});
  check();
  setInterval(check, INTERVAL_MS);
}
