// The as-of time slider: from the city's earliest recorded time to now; the right end is "now".
import { t } from '../i18n.js';
import { when } from './dom.js';

const STEPS = 1000;

/**
 * Wire the slider over [start, now]; `onChange(isoOrNull)` fires (debounced by the caller) with
 * null at the right end (the live, current state).
 */
export function initTimeSlider(start, onChange) {
  const input = document.getElementById('time-range');
  const label = document.getElementById('time-value');
  const from = start.getTime();
  const span = () => Date.now() - from;
  input.min = '0';
  input.max = String(STEPS);
  input.value = String(STEPS);
  const current = () => {
    const v = Number(input.value);
    return v >= STEPS ? null : new Date(from + (span() * v) / STEPS);
  };
  const show = () => {
    const d = current();
    label.textContent = d ? when(d) : t('time.now');
  };
  input.addEventListener('input', show);
  input.addEventListener('change', () => {
    show();
    const d = current();
    onChange(d ? d.toISOString() : null);
  });
  show();
  return { relabel: show, value: () => current() };
}
