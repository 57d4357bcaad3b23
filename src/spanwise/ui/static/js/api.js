// The UI reads only the public HTTP API (`/api/v1/...`), like any other client.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET `path` with `params` (arrays repeat the key; empty values are left out) as JSON. */
export async function getJSON(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== '') url.searchParams.append(key, String(v));
    }
  }
  let response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (err) {
    throw new ApiError(0, `Spanwise is not reachable (${err.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.error?.message || `${response.status} ${response.statusText}`);
  }
  return body;
}

/** Unix nanoseconds `lookback` (e.g. "1h", "7d") before now, for `start` parameters. */
export function lookbackStartNs(lookback) {
  const match = /^(\d+)(m|h|d)$/.exec(lookback || '1h');
  const seconds = match ? Number(match[1]) * { m: 60, h: 3600, d: 86400 }[match[2]] : 3600;
  return (Date.now() - seconds * 1000) * 1e6;
}
