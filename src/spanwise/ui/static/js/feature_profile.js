// A prediction's features against its model's reference profile: percentiles from the
// profile's quantile bins, and per-feature data-quality flags. Pure functions, no DOM.
//
// A numeric profile (as in store/profiles.py) has inner edges e_1 < ... < e_k and k + 1 bin
// counts; bin i spans [e_i, e_{i+1}) with e_0 = min and e_{k+1} = max.

/** The baseline the drift report would use: the version's newest, else the newest for every version. */
export function pickBaseline(baselines, version) {
  for (const wanted of version ? [version, null] : [null]) {
    const found = baselines.filter((b) => (b.version || null) === wanted);
    if (found.length) return found.reduce((a, b) => (b.created_unix_nano > a.created_unix_nano ? b : a));
  }
  return null;
}

/** Percentile (0-100) of `value` in a numeric reference {edges, counts, min, max}, or null. */
export function percentile(value, ref) {
  if (!ref || !ref.count || ref.min === null || ref.max === null) return null;
  if (value <= ref.min) return 0;
  if (value >= ref.max) return 100;
  const edges = ref.edges || [];
  const counts = ref.counts || [];
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  let bin = 0;
  while (bin < edges.length && edges[bin] <= value) bin += 1;
  const lower = bin === 0 ? ref.min : edges[bin - 1];
  const upper = bin === edges.length ? ref.max : edges[bin];
  const fraction = upper > lower ? Math.min(Math.max((value - lower) / (upper - lower), 0), 1) : 0.5;
  let below = 0;
  for (let i = 0; i < bin; i++) below += counts[i];
  return (100 * (below + fraction * (counts[bin] || 0))) / total;
}

/**
 * One row per feature: sent (numeric and string) and expected (the model version's feature
 * list) ones. `reference`: drift-report features by name (null without a baseline).
 * Each row: {name, value, missing, kind, percentile, min, max, share, attribution, flags}.
 */
export function featureRows(prediction, reference, expected) {
  const numeric = prediction.features || {};
  const strings = prediction.string_features || {};
  const attributions = prediction.attributions || {};
  const names = new Set([...Object.keys(numeric), ...Object.keys(strings)]);
  const rows = [];
  for (const name of names) {
    const isNumber = Object.prototype.hasOwnProperty.call(numeric, name);
    const value = isNumber ? numeric[name] : strings[name];
    const ref = reference ? reference[name] : null;
    const row = { name, value, missing: false, kind: isNumber ? 'numeric' : 'categorical', percentile: null, share: null,
      min: null, max: null, attribution: attributions[name], flags: [], referenceText: '' };
    if (!reference) row.referenceText = 'no baseline';
    else if (!ref || !ref.reference) row.flags.push({ code: 'not_in_baseline', severity: 'warn' });
    else if (ref.type === 'numeric' && !isNumber) row.flags.push({ code: 'type_string', severity: 'warn' });
    else if (ref.type === 'categorical' && isNumber) row.flags.push({ code: 'type_number', severity: 'warn' });
    else if (isNumber) {
      const r = ref.reference;
      row.min = r.min;
      row.max = r.max;
      row.percentile = percentile(value, r);
      if (r.min !== null && value < r.min) row.flags.push({ code: 'below_range', severity: 'error', bound: r.min });
      if (r.max !== null && value > r.max) row.flags.push({ code: 'above_range', severity: 'error', bound: r.max });
    } else {
      const counts = ref.reference.counts || {};
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (Object.prototype.hasOwnProperty.call(counts, value)) row.share = total ? counts[value] / total : null;
      else row.flags.push({ code: 'new_category', severity: 'warn' });
    }
    rows.push(row);
  }
  for (const feature of expected || []) {
    if (names.has(feature.name)) continue;
    rows.push({ name: feature.name, value: null, missing: true, kind: feature.type, percentile: null, share: null,
      attribution: attributions[feature.name], flags: [{ code: 'missing', severity: 'warn' }], referenceText: '' });
  }
  rows.sort((a, b) => Math.abs(b.attribution ?? 0) - Math.abs(a.attribution ?? 0) || (a.name < b.name ? -1 : 1));
  return rows;
}

export function flagText(flag) {
  switch (flag.code) {
    case 'missing': return 'missing';
    case 'below_range': return `below reference min ${flag.bound}`;
    case 'above_range': return `above reference max ${flag.bound}`;
    case 'new_category': return 'new category';
    case 'not_in_baseline': return 'not in baseline';
    case 'type_string': return 'string, reference numeric';
    case 'type_number': return 'number, reference categorical';
    default: return flag.code;
  }
}
