// The period the city's sensor data covers (/api/sensors/period) and what the time slider spans:
// readings that are all from 2017 give a slider over 2017 resting on the last reading, not one that
// ends at an empty "now"; live data gives a slider up to now. Times show on the city's clock.
import { api } from './api.js';
import { state } from './state.js';
import { setTimeZone } from './ui/dom.js';

const DAY = 24 * 3600 * 1000;

/**
 * The slider's range {start, end, live} (ms since 1970; end null when live) from the data's period
 * ({first, last, live}) and the layers' start times; without sensor data, a week back to now.
 * Example: sliderRange({first: '2017-02-01T00:00Z', last: '2017-02-28T15:00Z', live: false}) → 2017 only.
 */
export function sliderRange(period, layerStarts = [], now = Date.now()) {
  const first = Date.parse(period?.first ?? '');
  const last = Date.parse(period?.last ?? '');
  if (Number.isFinite(last) && !period.live) {
    const start = Number.isFinite(first) && first < last ? first : last - DAY;
    return { start, end: last, live: false };
  }
  const starts = [now - 7 * DAY, ...layerStarts, first].filter(Number.isFinite);
  return { start: Math.min(...starts), end: null, live: true };
}

/** The slider's time where the viewer opens: null (now) for live data, the last reading for history. */
export function initialAsOf(range) {
  return range.live ? null : new Date(range.end).toISOString();
}

/** Fetch the data's period, show times in the city's zone, and plan the slider. */
export async function loadTimeline() {
  const [period, collections] = await Promise.all([api.period().catch(() => null),
    api.collections().catch(() => null)]);
  setTimeZone(period?.timezone || null);
  // when each layer's first version was made: before it, the map has no such layer
  state.layerStart = Object.fromEntries((collections?.collections || [])
    .map((c) => [c.id, Date.parse(c.extent?.temporal?.interval?.[0]?.[0] ?? '')])
    .filter(([, start]) => Number.isFinite(start)));
  return sliderRange(period, Object.values(state.layerStart));
}
