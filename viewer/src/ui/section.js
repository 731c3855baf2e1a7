// The section tool (剖切): a horizontal plane at an elevation (everything above is cut away: a plan
// through buildings and BIM storeys) or a vertical plane facing the camera (a cross-section), moved
// with a slider. Layers get the section extension once; the slider only moves the plane.
import { redraw, repaint } from '../app.js';
import { clipState, horizontalPlane, verticalPlane } from '../clip.js';
import { state } from '../state.js';

const $ = (id) => document.getElementById(id);

/** The highest top seen in the city's tiles (metres), at least 30 m. */
function tallest() {
  return Math.max(30, ...Object.values(state.zSeen).map(([, hi]) => hi));
}

/** The plane of the current section and view (null when the tool is off). */
export function sectionPlane(section = state.section, view = state.viewState) {
  if (!section || !view) return null;
  if (section.kind === 'vertical') return verticalPlane(view.longitude, view.latitude, view.bearing || 0, section.value);
  return horizontalPlane(view.longitude, view.latitude, section.value);
}

function show() {
  const range = $('section-range');
  const s = state.section;
  $('section-bar').hidden = !s;
  $('section-toggle').classList.toggle('on', Boolean(s));
  clipState.section = sectionPlane();
  if (!s) return;
  $('section-kind').value = s.kind;
  if (s.kind === 'vertical') {
    range.min = '-500';
    range.max = '500';
    range.step = '1';
  } else {
    range.min = '0';
    range.max = String(Math.ceil(tallest()));
    range.step = '0.5';
  }
  range.value = String(s.value);
  $('section-value').textContent = s.kind === 'vertical' ? `${s.value} m` : `${Number(s.value).toFixed(1)} m`;
  const bar = $('section-bar');
  bar.dataset.kind = s.kind;
  bar.dataset.value = String(s.value);
}

/** Turn the section on ({kind, value}) or off (null). */
export function setSection(section) {
  const had = Boolean(state.section);
  state.section = section;
  show();
  // the extension is added to or removed from the layers only when the tool turns on or off
  if (had !== Boolean(section)) redraw();
  else repaint();
}

/** Wire the section tool (button, kind, slider). */
export function initSection() {
  $('section-toggle').addEventListener('click', () => setSection(state.section ? null
    : { kind: 'horizontal', value: Math.round(tallest() / 2) }));
  $('section-kind').addEventListener('change', (e) => setSection({ kind: e.target.value,
    value: e.target.value === 'vertical' ? 0 : Math.round(tallest() / 2) }));
  $('section-range').addEventListener('input', (e) => setSection({ ...state.section, value: Number(e.target.value) }));
}
