// The as-of time slider over the period the city's data covers (see timeline.js): live data ends at
// "now" (the right end), history ends at its last reading and the slider rests there.
import { t } from '../i18n.js';
import { when } from './dom.js';

const STEPS = 1000;

/**
 * Wire the slider over `range` ({start, end, live} in ms; end is null for live data, whose right end
 * is now). `onChange(isoOrNull, {atEnd})` fires (debounced by the caller) with null at the right end of
 * live data (the current state) and with the last reading's time at the right end of history; `atEnd`
 * says the slider is at its right end (the map then shows the current city).
 */
export function initTimeSlider(range, onChange) {
  const input = document.getElementById('time-range');
  const label = document.getElementById('time-value');
  const end = () => (range.live ? Date.now() : range.end);
  input.min = '0';
  input.max = String(STEPS);
  input.value = String(STEPS);
  input.dataset.start = new Date(range.start).toISOString();
  input.dataset.end = range.live ? '' : new Date(range.end).toISOString();
  const current = () => {
    const v = Number(input.value);
    if (v >= STEPS && range.live) return null;
    return new Date(range.start + ((end() - range.start) * Math.min(v, STEPS)) / STEPS);
  };
  const show = () => {
    const d = current();
    label.textContent = d ? when(d) : t('time.now');
    label.title = !range.live && Number(input.value) >= STEPS ? t('time.last') : '';
  };
  input.addEventListener('input', show);
  input.addEventListener('change', () => {
    show();
    const d = current();
    onChange(d ? d.toISOString() : null, { atEnd: Number(input.value) >= STEPS });
  });
  show();
  return { relabel: show, value: () => current() };
}
