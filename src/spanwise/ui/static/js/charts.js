// Charts with Apache ECharts (vendored, see scripts/vendor-ui.sh). Axis labels and legends
// are drawn on canvas; tooltips are HTML, so every tooltip formatter here escapes its text.

import * as echarts from '/static/vendor/echarts/echarts.esm.min.mjs';
import { onLeave } from './nav.js';

const live = new Set();

export function isDark() {
  return document.documentElement.dataset.theme === 'dark';
}

/** Escape text for the HTML of an ECharts tooltip. */
export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Render `option` into `el` (which needs a height); returns the ECharts instance. */
export function chart(el, option) {
  const instance = echarts.init(el, isDark() ? 'dark' : null, { renderer: 'canvas' });
  instance.setOption({
    backgroundColor: 'transparent',
    animation: false,
    textStyle: { fontFamily: 'inherit' },
    grid: { left: 56, right: 24, top: 36, bottom: 36, containLabel: false },
    ...option,
  });
  live.add(instance);
  onLeave(() => {
    instance.dispose();
    live.delete(instance);
  });
  return instance;
}

window.addEventListener('resize', () => {
  for (const instance of live) instance.resize();
});

/** A time axis option (x) with values in ms since epoch. ECharts' default labels a day
 * boundary with the day of the month alone ("3" at midnight reads as 3 o'clock): name it. */
export const timeAxis = {
  type: 'time',
  axisLabel: {
    hideOverlap: true,
    formatter: {
      year: '{yyyy}', month: '{MMM} {yyyy}', day: '{MMM} {d}',
      hour: '{HH}:{mm}', minute: '{HH}:{mm}', second: '{HH}:{mm}:{ss}', millisecond: '{HH}:{mm}:{ss}.{SSS}',
    },
  },
};

/** Line series over time: `points` are [ms, value] pairs. */
export function lineSeries(name, points, extra = {}) {
  return { name, type: 'line', showSymbol: false, connectNulls: false, data: points, ...extra };
}

/** A tooltip that lists each series' value at the hovered time, escaped. */
export function timeTooltip(format = (v) => v) {
  return {
    trigger: 'axis',
    formatter: (items) => {
      if (!items.length) return '';
      const when = new Date(items[0].value[0]).toLocaleString(undefined, { hour12: false });
      const lines = items.map((i) => `${i.marker}${esc(i.seriesName)}: <b>${esc(format(i.value[1]))}</b>`);
      return [esc(when), ...lines].join('<br>');
    },
  };
}

export { echarts };
