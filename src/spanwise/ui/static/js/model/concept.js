// Concept drift on the Quality tab: the model's error on labelled predictions in the latest
// labelled window of the page's range against the first one, overall and per categorical
// segment (Bonferroni-corrected), from `/api/v1/models/{name}/concept-drift`.

import { getJSON } from '../api.js';
import { badge, fmtNumber, fmtPercent, h, note, table } from '../dom.js';
import { fmtStat, panel } from './parts.js';
import { fmtStep, fmtWindow, ns } from './range.js';

const TESTS = { chi2: 'χ²', mann_whitney_u: 'Mann-Whitney U' };

/** A panel element that fills itself in when the answer arrives; `windows` are the quality
 *  tab's windows (start_unix_nano, labelled). */
export function conceptPanel(name, state, range, task, windows) {
  const labelled = [...new Set(windows.filter((w) => w.labelled).map((w) => Number(w.start_unix_nano) / 1e9))].sort((a, b) => a - b);
  const title = 'Concept drift';
  if (labelled.length < 2) {
    return panel(title, 'the latest labelled window against the first', h('div', { id: 'concept-drift' },
      note('empty', `Needs labelled predictions in two ${fmtStep(range.step)} windows of the ${range.label.toLowerCase()}.`)));
  }
  const [first, last] = [labelled[0], labelled[labelled.length - 1]];
  const body = h('div', { id: 'concept-drift' }, note('loading', 'Testing for concept drift…'));
  load(body, name, state, task, first, last, range.step);
  return panel(title, `${task === 'regression' ? 'MAE' : 'error rate'} in the latest labelled window (${fmtWindow(last, range.step)}) against the first (${fmtWindow(first, range.step)})`, body);
}

async function load(body, name, state, task, first, last, step) {
  let found;
  try {
    found = await getJSON(`/api/v1/models/${encodeURIComponent(name)}/concept-drift`, {
      start: ns(last), end: ns(last + step), reference_start: ns(first), reference_end: ns(first + step),
      version: state.version, task,
    });
  } catch (err) {
    body.replaceChildren(note('empty', `No concept-drift test: ${err.message}`));
    return;
  }
  const o = found.overall;
  const metric = task === 'regression' ? 'MAE' : 'error rate';
  const fmt = task === 'regression' ? fmtStat : fmtPercent;
  const headline = h('div', { class: 'concept-headline' },
    found.concept_drift ? badge('concept drift', 'error') : badge('no concept drift', 'ok'), ' ',
    `${metric} ${fmt(o.reference_error_rate ?? o.reference_mae)} → ${fmt(o.current_error_rate ?? o.current_mae)}`,
    ` (${fmtNumber(o.reference_labelled)} → ${fmtNumber(o.current_labelled)} labelled; ${TESTS[found.test] || found.test} p ${fmtStat(o.p_value)})`);
  const segments = found.segments.length ? table([
    { label: 'Segment', value: (s) => [h('span', { class: 'muted' }, `${s.feature} = `), s.value] },
    { label: 'Reference', class: 'num', value: (s) => fmt(s.reference_error_rate ?? s.reference_mae) },
    { label: 'Current', class: 'num', value: (s) => fmt(s.current_error_rate ?? s.current_mae) },
    { label: 'Labelled', class: 'num', value: (s) => `${fmtNumber(s.reference_labelled)} → ${fmtNumber(s.current_labelled)}` },
    { label: 'p (adjusted)', class: 'num', value: (s) => fmtStat(s.p_value_adjusted) },
    { label: 'Status', value: (s) => (s.drift ? badge('shifted', 'error') : badge('stable', 'ok')) },
  ], found.segments, { rowClass: (s) => `concept-row${s.drift ? ' is-error' : ''}` })
    : note('empty', `No categorical segment has ${found.min_count} labelled predictions in both windows.`);
  body.replaceChildren(headline, segments);
}
