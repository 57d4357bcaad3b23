// A prediction, found by its id. When its trace is stored, the trace opens with the
// prediction span selected (the span's AI panel shows everything below, and the
// waterfall around it). When sampling dropped the trace (or it is not stored yet), the
// prediction is still in the predictions table: this page shows it from there — model
// and version, time, output, scores, ground truth, features, attributions — and says
// why there is no trace.

import { ApiError, getJSON } from '../api.js';
import { badge, fmtMs, fmtTime, h, link, note, replace, seg, withQuery } from '../dom.js';
import { navigate } from '../nav.js';

export async function render(root, { args, isCurrent }) {
  const id = args[0];
  replace(root, note('loading', `Loading prediction ${id}…`));
  let prediction;
  try {
    prediction = await getJSON(`/api/v1/predictions/${seg(id)}`);
  } catch (err) {
    if (!isCurrent()) return;
    const text = err instanceof ApiError && err.status === 404 ? `Prediction ${id} was not found.` : err.message;
    replace(root, h('h1', null, 'Prediction'), note('error', text));
    return;
  }
  const traceId = String(prediction.trace_id || '').toLowerCase();
  const trace = /^[0-9a-f]{32}$/.test(traceId) ? await traceStored(traceId) : false;
  if (!isCurrent()) return;
  if (trace === true) {
    navigate(withQuery(`/trace/${seg(traceId)}`, { span: prediction.span_id }), { replace: true });
    return;
  }
  await standalone(root, prediction, traceId, trace, isCurrent);
}

/** True when the trace is stored, false when it is not, or the error's text. */
async function traceStored(traceId) {
  try {
    await getJSON(`/api/v1/traces/${seg(traceId)}`, { limit: 1 });
    return true;
  } catch (err) {
    return err instanceof ApiError && err.status === 404 ? false : err.message;
  }
}

async function standalone(root, p, traceId, traceError, isCurrent) {
  const slot = h('div', { class: 'ai-slot', id: 'prediction-detail' }, note('loading', 'Loading the prediction…'));
  const why = traceError
    ? `Its trace ${traceId} could not be read: ${traceError}`
    : `Its trace ${traceId || '(none)'} is not stored: sampling dropped it, or it has not arrived yet. `
      + 'The prediction itself is kept in the predictions table, shown here.';
  replace(root,
    h('h1', null, 'Prediction ', h('span', { class: 'mono', id: 'prediction-id' }, p.prediction_id)),
    h('div', { class: 'muted', id: 'prediction-meta' },
      p.model ? link(`/models/${seg(p.model)}`, null, p.model) : null, ' ',
      p.version ? badge(p.version) : null,
      ` · ${fmtTime(p.timestamp_unix_nano)}`,
      p.service ? ` · ${p.service}` : '',
      p.duration_ms !== null && p.duration_ms !== undefined ? ` · ${fmtMs(p.duration_ms)}` : ''),
    note('empty', why),
    slot);
  const span = {
    startTimeUnixNano: p.timestamp_unix_nano,
    links: [],
    status: { code: p.status, message: '' },
    prediction: {
      model_name: p.model, model_version: p.version, prediction_id: p.prediction_id,
      prediction_value: p.prediction_value, prediction_label: p.prediction_label, confidence: p.confidence,
      scores: p.scores, features: p.features, string_features: p.string_features,
      attributions: p.attributions, ground_truth: null,
    },
  };
  const { aiPanel } = await import('../ai_panel.js');
  if (!isCurrent()) return;
  await aiPanel(slot, span, isCurrent);
  const noLinks = slot.querySelector('#lineage-empty');
  if (noLinks && isCurrent()) {  // span links are stored with the trace, which is not
    noLinks.textContent = 'Unknown: span links (the lineage) are stored with the trace, which is not stored.';
  }
}
