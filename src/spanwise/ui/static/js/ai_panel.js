// The AI panel of a prediction span: model and version, prediction and confidence, ground
// truth when it arrived, the features with each numeric value's percentile in the model's
// reference baseline, data-quality flags, attributions as a bar chart and the lineage (the
// pipeline runs the prediction's span links point to).

import { getJSON } from './api.js';
import { chart, esc } from './charts.js';
import { badge, fmtNumber, fmtPercent, fmtTime, h, link, note, replace, seg } from './dom.js';
import { featureRows, flagText, pickBaseline } from './feature_profile.js';

const MAX_BARS = 20;
const MAX_LINEAGE = 5;
let attributionChart = null;

/** Fill `el` for the prediction span `span`; `isCurrent()` is false once another span is shown. */
export async function aiPanel(el, span, isCurrent) {
  const p = span.prediction;
  const model = p.model_name || '';
  const version = p.model_version || '';
  const [prediction, versionInfo, baselines] = await Promise.all([
    p.prediction_id ? getJSON(`/api/v1/predictions/${seg(p.prediction_id)}`).catch(() => null) : null,
    model && version ? getJSON(`/api/v1/models/${seg(model)}/versions/${seg(version)}`).catch(() => null) : null,
    model ? getJSON(`/api/v1/models/${seg(model)}/baselines`).catch(() => null) : null,
  ]);
  const baseline = pickBaseline(baselines?.baselines || [], version);
  let reference = null;
  let referenceError = null;
  if (baseline) {
    // The drift report carries the baseline's profile (bin edges, counts, min/max, category
    // counts); a two-second window around the prediction keeps its current side tiny.
    const ts = span.startTimeUnixNano;
    try {
      const drift = await getJSON(`/api/v1/models/${seg(model)}/drift`, {
        version, baseline: baseline.name, start: ts - 1e9, end: ts + 1e9,
      });
      reference = Object.fromEntries(drift.features.map((f) => [f.feature, f]));
    } catch (err) {
      referenceError = err.message;
    }
  }
  if (!isCurrent()) return;
  const rows = featureRows(p, reference, versionInfo?.features || baseline && [
    ...(baseline.numeric || []).map((name) => ({ name, type: 'numeric' })),
    ...(baseline.categorical || []).map((name) => ({ name, type: 'categorical' })),
  ] || []);
  const chartEl = h('div', { class: 'chart ai-attr-chart', id: 'attribution-chart' });
  const attributions = Object.entries(p.attributions || {}).filter(([, v]) => typeof v === 'number');
  replace(el, h('div', { class: 'ai-panel', id: 'ai-panel' },
    h('div', { class: 'ai-title' }, badge('AI', 'accent'), h('h3', null, 'Prediction'),
      model ? link(`/models/${seg(model)}`, null, model) : null,
      version ? badge(version) : null),
    facts(p, prediction, span),
    h('h4', null, 'Features'),
    baselineNote(model, version, baseline, referenceError),
    featureTable(rows, Boolean(reference)),
    flagsSummary(rows),
    attributions.length ? [h('h4', null, 'Attributions'), chartEl,
      attributions.length > MAX_BARS ? h('div', { class: 'muted' }, `The ${MAX_BARS} largest of ${attributions.length}.`) : null] : null,
    h('h4', null, 'Lineage'),
    h('div', { id: 'lineage' }, note('loading', 'Loading linked runs…'))));
  if (attributions.length) attributionBars(chartEl, attributions);
  await lineage(el.querySelector('#lineage'), prediction?.lineage
    || (span.links || []).map((l) => ({ trace_id: l.traceId, span_id: l.spanId, attributes: l.attributes })), isCurrent);
}

function facts(p, prediction, span) {
  const value = p.prediction_label || (p.prediction_value ?? null);
  const truth = prediction?.label ?? prediction?.label_value ?? (p.ground_truth || null);
  const scores = Object.entries(p.scores || {});
  const kv = (k, v, id) => [h('div', { class: 'k' }, k), h('div', { class: 'v', id }, v)];
  let verdict = null;
  if (truth !== null && truth !== undefined && truth !== '' && value !== null) {
    verdict = String(truth) === String(value) ? badge('correct', 'ok') : badge('wrong', 'error');
  }
  return h('div', { class: 'kv ai-facts' },
    kv('Prediction id', p.prediction_id || '—', 'ai-prediction-id'),
    kv('Prediction', [value === null ? '—' : String(value),
      p.prediction_label && p.prediction_value !== null && p.prediction_value !== undefined ? ` (${fmtNumber(p.prediction_value, 4)})` : ''],
    'ai-prediction'),
    kv('Confidence', p.confidence === null || p.confidence === undefined ? '—' : confidenceMeter(p.confidence), 'ai-confidence'),
    kv('Ground truth', truth === null || truth === undefined || truth === ''
      ? h('span', { class: 'muted' }, prediction ? 'not arrived yet' : 'unknown (prediction not found)')
      : [String(truth), ' ', verdict,
        prediction?.label_timestamp_unix_nano ? h('span', { class: 'muted' }, ` ${prediction.label_source || ''} ${fmtTime(prediction.label_timestamp_unix_nano)}`) : null],
    'ai-ground-truth'),
    scores.length ? kv('Scores', scores.map(([k, v]) => `${k}: ${fmtNumber(v, 4)}`).join('  ')) : null,
    span.status?.code === 'Error' ? kv('Status', badge(span.status.message || 'Error', 'error')) : null);
}

function confidenceMeter(confidence) {
  return h('span', { class: 'ai-meter-wrap' },
    h('span', { class: 'ai-meter' }, h('span', { class: 'ai-meter-fill', style: { width: fmtPercent(Math.min(Math.max(confidence, 0), 1)) } })),
    h('span', { class: 'ai-confidence-value' }, String(confidence)));
}

function baselineNote(model, version, baseline, error) {
  if (error) return note('error', `The baseline could not be read: ${error}`);
  if (!baseline) {
    return h('div', { class: 'muted ai-baseline', id: 'ai-baseline' },
      `No reference baseline for ${model} ${version}, so no percentiles: set one with POST /api/v1/models/${model}/baselines.`);
  }
  const rows = baseline.rows ? `, ${baseline.rows.toLocaleString()} rows` : '';
  return h('div', { class: 'muted ai-baseline', id: 'ai-baseline' },
    `Percentiles in baseline “${baseline.name}” (${baseline.kind}${rows}${baseline.version ? `, version ${baseline.version}` : ', every version'}).`);
}

function featureTable(rows, haveReference) {
  if (!rows.length) return h('div', { class: 'muted' }, 'This prediction has no features.');
  const head = [['Feature', null], ['Value', 'num'], [haveReference ? 'Percentile' : 'Reference', null], ['Attribution', 'num']];
  return h('table', { class: 'grid ai-features', id: 'ai-features' },
    h('thead', null, h('tr', null, head.map(([label, cls]) => h('th', { class: cls }, label)))),
    h('tbody', null, rows.map((r) => h('tr', { dataset: { feature: r.name }, class: r.flags.length ? 'has-flags' : null },
      h('td', { class: 'ai-feature' }, h('span', { class: 'mono' }, r.name),
        r.flags.length ? h('div', { class: 'ai-feature-flags' }, r.flags.map((f) => badge(flagText(f), f.severity))) : null),
      h('td', { class: 'num mono ai-value' }, r.missing ? h('span', { class: 'muted' }, 'missing') : String(r.value)),
      h('td', { class: 'ai-percentile' }, percentileCell(r)),
      h('td', { class: 'num mono' }, r.attribution === undefined ? '' : fmtNumber(r.attribution, 3))))));
}

function percentileCell(r) {
  if (r.percentile !== null && r.percentile !== undefined) {
    const at = Math.min(Math.max(r.percentile, 0), 100);
    return h('span', { class: 'ai-pct', title: `${at.toFixed(1)}% of the reference values are below ${r.value} (reference ${r.min} – ${r.max})` },
      h('span', { class: 'ai-pct-track' }, h('span', { class: 'ai-pct-dot', style: { left: `${at}%` } })),
      h('span', { class: 'ai-pct-text' }, `p${Math.round(at)}`));
  }
  if (r.share !== null && r.share !== undefined) return h('span', { class: 'muted' }, `${fmtPercent(r.share)} of reference`);
  return h('span', { class: 'muted' }, r.referenceText || '');
}

function flagsSummary(rows) {
  const flags = rows.flatMap((r) => r.flags.filter((f) => f.severity !== 'neutral').map((f) => [r.name, f]));
  if (!flags.length) return h('div', { class: 'ai-dq', id: 'ai-dq' }, badge('no data-quality flags', 'ok'));
  const worst = flags.some(([, f]) => f.severity === 'error') ? 'error' : 'warn';
  return h('div', { class: 'ai-dq', id: 'ai-dq' },
    badge(`${flags.length} data-quality flag${flags.length === 1 ? '' : 's'}`, worst),
    h('span', { class: 'muted' }, flags.map(([name, f]) => `${name}: ${flagText(f)}`).join(' · ')));
}

function attributionBars(el, attributions) {
  const top = [...attributions].sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, MAX_BARS).reverse();
  el.style.height = `${Math.max(120, top.length * 26 + 56)}px`;
  if (attributionChart && !attributionChart.isDisposed()) attributionChart.dispose();
  attributionChart = chart(el, {
    grid: { left: 8, right: 56, top: 10, bottom: 28, containLabel: true },
    xAxis: { type: 'value', splitLine: { lineStyle: { opacity: 0.4 } } },
    yAxis: { type: 'category', data: top.map(([name]) => name), axisTick: { show: false },
      axisLabel: { width: 150, overflow: 'truncate' } },
    tooltip: {
      trigger: 'item',
      formatter: (item) => `${esc(item.name)}<br><b>${esc(fmtNumber(item.value, 4))}</b> ${item.value >= 0 ? 'towards' : 'away from'} the prediction`,
    },
    series: [{
      type: 'bar', barMaxWidth: 16,
      data: top.map(([, value]) => ({ value, itemStyle: { color: value >= 0 ? '#e8684a' : '#5b8ff9' } })),
      label: { show: true, position: 'right', formatter: (item) => fmtNumber(item.value, 3), fontSize: 11 },
    }],
  });
}

async function lineage(el, links, isCurrent) {
  if (!links.length) {
    replace(el, h('div', { class: 'muted', id: 'lineage-empty' }, 'No span links: no pipeline run is linked to this prediction.'));
    return;
  }
  const shown = links.slice(0, MAX_LINEAGE);
  const traces = await Promise.all(shown.map((l) => (/^[0-9a-f]{1,32}$/i.test(l.trace_id)
    ? getJSON(`/api/v1/traces/${seg(l.trace_id.toLowerCase())}`).catch(() => null) : null)));
  if (!isCurrent()) return;
  replace(el, h('ul', { class: 'ai-lineage' }, shown.map((l, i) => {
    const spans = traces[i]?.spans || [];
    const target = spans.find((s) => s.spanId === l.span_id);
    const runRoot = spans.find((s) => !s.parentSpanId) || spans[0];
    const label = runRoot ? `${runRoot.serviceName}: ${runRoot.name}` : `trace ${l.trace_id}`;
    const valid = /^[0-9a-f]{1,32}$/i.test(l.trace_id) && /^[0-9a-f]{1,16}$/i.test(l.span_id);
    return h('li', { class: 'ai-run' },
      valid ? link(`/trace/${seg(l.trace_id.toLowerCase())}`, { span: l.span_id.toLowerCase() }, label) : h('span', null, label),
      target && target !== runRoot ? h('span', { class: 'muted' }, ` → ${target.name}`) : null,
      runRoot ? h('span', { class: 'muted' }, ` · ${fmtTime(runRoot.startTimeUnixNano)}`) : h('span', { class: 'muted' }, ' · not stored'),
      Object.entries(l.attributes || {}).map(([k, v]) => h('span', { class: 'badge' }, `${k}=${v}`)));
  })), links.length > MAX_LINEAGE ? h('div', { class: 'muted' }, `${links.length - MAX_LINEAGE} more links in the span's Links.`) : null);
}
