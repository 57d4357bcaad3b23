// A prediction id opens the trace of its prediction span, with that span selected.

import { getJSON } from '../api.js';
import { seg, withQuery } from '../dom.js';
import { navigate } from '../nav.js';

export async function render(root, { args }) {
  const prediction = await getJSON(`/api/v1/predictions/${seg(args[0])}`);
  navigate(withQuery(`/trace/${seg(prediction.trace_id)}`, { span: prediction.span_id }), { replace: true });
}
