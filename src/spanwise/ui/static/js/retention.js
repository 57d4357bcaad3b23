// How long the project shown keeps its data (retention per project and kind, from
// /api/v1/retention), read-only at the foot of every page. A failure to read it leaves
// the footer hidden (pages report their own API errors).

import { getJSON } from './api.js';
import { replace } from './dom.js';

const KINDS = [
  ['spans', 'spans'], ['logs', 'logs'], ['metrics', 'OTLP metrics'], ['predictions', 'predictions'], ['labels', 'labels'],
];

function kept(days) {
  if (!days) return 'forever';
  return days === 1 ? '1 day' : `${days} days`;
}

export async function showRetention(footer) {
  const retention = await getJSON('/api/v1/retention').catch(() => null);
  if (!retention) return;
  const parts = KINDS.map(([key, label]) => `${label} ${kept(retention[`${key}_days`])}`);
  replace(footer, `Retention in project ${retention.project}: ${parts.join(' · ')}`);
  footer.hidden = false;
}
