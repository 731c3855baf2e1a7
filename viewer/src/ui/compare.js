// The compare bar: swipe or side by side, the layer whose versions are listed and diffed, and what
// sides A and B show (now, a version, a time, a proposal); the swipe handle; the split labels.
import { applyViews, loadLayerStarts, redraw, repaint } from '../app.js';
import { clipState } from '../clip.js';
import { CHANGE_COLORS, loadCompareData, loadProposals, loadVersions, parseSide, sideValue } from '../compare.js';
import { layerRole } from '../citylayers.js';
import { t } from '../i18n.js';
import { state } from '../state.js';
import { h, replace, rgb, when } from './dom.js';

const $ = (id) => document.getElementById(id);

/** Wire the compare tool (its button, bar and handle). */
export function initCompare() {
  const bar = $('compare-bar');
  $('compare-toggle').addEventListener('click', () => setCompare(!state.compare.on));
  $('compare-view').addEventListener('change', (e) => {
    state.compare.view = e.target.value;
    showHandle();
    applyViews();
  });
  $('compare-layer').addEventListener('change', async (e) => {
    state.compare.layer = e.target.value;
    state.compare.a = { kind: 'now' };
    state.compare.b = { kind: 'now' };
    await fillSides();
  });
  for (const key of ['a', 'b']) {
    $(`compare-${key}`).addEventListener('change', (e) => chooseSide(key, e.target.value));
    $(`compare-${key}-time`).addEventListener('change', (e) => {
      const d = new Date(e.target.value);
      if (Number.isNaN(d.getTime())) return;
      state.compare[key] = { kind: 'time', time: d.toISOString() };
      apply();
    });
  }
  initHandle();
  bar.dataset.ready = 'false';
}

/** Turn compare mode on (A: the layer's previous version when there is one, B: now) or off. */
export async function setCompare(on) {
  const c = state.compare;
  c.on = on;
  $('compare-toggle').classList.toggle('on', on);
  $('compare-bar').hidden = !on;
  if (on) {
    const layers = state.city.layers.filter((l) => l.tiles);
    const preferred = layers.find((l) => layerRole(l) === 'buildings') || layers[0];
    c.layer = c.layer || preferred?.name || null;
    replace($('compare-layer'), layers.map((l) => h('option', { value: l.name, selected: l.name === c.layer }, l.name)));
    await fillSides({ pickPrevious: true });
  } else {
    c.diff = null;
    c.proposals = { a: null, b: null };
    showHandle();
    applyViews();
  }
}

let versions = [];
let proposals = [];

/** Fill the A/B pickers with now, the layer's versions, a custom time and the proposals. */
async function fillSides({ pickPrevious = false } = {}) {
  const c = state.compare;
  const bar = $('compare-bar');
  bar.dataset.ready = 'false';
  // the layers' first versions too: a side in the past leaves out layers that did not exist yet
  const [listed, props] = await Promise.all([loadVersions(c.layer), loadProposals(), loadLayerStarts()]);
  versions = listed.versions;
  proposals = props;
  if (pickPrevious && versions.length >= 2 && c.a.kind === 'now') {
    const previous = [...versions].sort((x, y) => y.version - x.version)[1];
    c.a = { kind: 'version', version: previous.version, time: previous.created_at };
  }
  for (const key of ['a', 'b']) {
    const side = c[key];
    const options = [h('option', { value: 'now' }, t('compare.now'))];
    for (const v of versions) {
      const value = sideValue({ kind: 'version', version: v.version, time: v.created_at });
      options.push(h('option', { value }, `${t('compare.version')} ${v.version} · ${when(new Date(v.created_at))}`));
    }
    options.push(h('option', { value: 'time' }, t('compare.time')));
    for (const p of proposals) options.push(h('option', { value: `p:${p.name}` }, `${t('compare.proposal')} · ${p.name}`));
    const select = $(`compare-${key}`);
    replace(select, options);
    select.value = side.kind === 'time' ? 'time' : sideValue(side);
    $(`compare-${key}-time`).hidden = side.kind !== 'time';
  }
  $('compare-message').textContent = listed.message;
  await apply(listed.message);
}

function chooseSide(key, value) {
  const input = $(`compare-${key}-time`);
  if (value === 'time') {
    input.hidden = false;
    input.focus();
    return; // applied when a time is entered
  }
  input.hidden = true;
  state.compare[key] = parseSide(value);
  apply();
}

/** Load the diff and proposals of the chosen sides, then draw. */
async function apply(extraMessage = '') {
  const bar = $('compare-bar');
  bar.dataset.ready = 'false';
  await loadCompareData();
  const c = state.compare;
  $('compare-message').textContent = [extraMessage, c.message].filter(Boolean).join(' · ');
  const s = c.summary;
  replace($('compare-summary'), s ? ['added', 'removed', 'modified'].map((k) => h('span', {
    class: 'change', dataset: { change: k }, style: { color: rgb(CHANGE_COLORS[k]) },
  }, `${t(`compare.${k}`)} ${s[k] ?? 0}`)) : []);
  showHandle();
  applyViews();
  bar.dataset.ready = 'true';
  bar.dataset.a = sideValue(c.a);
  bar.dataset.b = sideValue(c.b);
}

/** The swipe handle over the map (swipe mode) or the A|B labels (side by side). */
function showHandle() {
  const c = state.compare;
  const handle = $('swipe-handle');
  handle.hidden = !(c.on && c.view === 'swipe');
  $('split-divider').hidden = !(c.on && c.view === 'split');
  handle.style.left = `${clipState.swipe * 100}%`;
  handle.dataset.swipe = String(clipState.swipe);
}

function initHandle() {
  const handle = $('swipe-handle');
  const map = $('map');
  let dragging = false;
  const move = (e) => {
    if (!dragging) return;
    const r = map.getBoundingClientRect();
    clipState.swipe = Math.min(Math.max((e.clientX - r.left) / r.width, 0), 1);
    showHandle();
    repaint();
  };
  handle.addEventListener('pointerdown', (e) => {
    dragging = true;
    handle.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  handle.addEventListener('pointermove', move);
  handle.addEventListener('pointerup', (e) => {
    move(e);
    dragging = false;
    redraw();
  });
}
