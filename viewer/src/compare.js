// Compare mode: side A and side B of the map, each "now", a past version or time of the city
// (tiles with datetime=, docs/compare.md), or a planning proposal (方案) drawn on the current city;
// shown by swipe (卷帘: one view, a handle splits the screen) or side by side (分屏: two views that
// move together). Features that differ between the two versions are highlighted from the layer's
// diff endpoint. Every endpoint is optional: a server without it gets a message, not a blank map.
import { GeoJsonLayer } from '@deck.gl/layers';
import { api } from './api.js';
import { SectionExtension, SwipeExtension } from './clip.js';
import { t } from './i18n.js';
import { state } from './state.js';

export const CHANGE_COLORS = {
  added: [40, 180, 90],
  removed: [225, 50, 50],
  modified: [245, 160, 20],
};

/**
 * A side from the value of its picker: 'now', 'v:<version>:<time>' (a version of the compared layer),
 * 't:<ISO time>' (any time) or 'p:<proposal name>'.
 */
export function parseSide(value) {
  if (!value || value === 'now') return { kind: 'now' };
  const [kind, ...rest] = value.split(':');
  if (kind === 'v') {
    const version = Number(rest[0]);
    return { kind: 'version', version, time: rest.slice(1).join(':') };
  }
  if (kind === 't') return { kind: 'time', time: rest.join(':') };
  if (kind === 'p') return { kind: 'proposal', name: rest.join(':') };
  return { kind: 'now' };
}

/** The picker value of a side (the inverse of parseSide). */
export function sideValue(side) {
  if (side.kind === 'version') return `v:${side.version}:${side.time}`;
  if (side.kind === 'time') return `t:${side.time}`;
  if (side.kind === 'proposal') return `p:${side.name}`;
  return 'now';
}

/** The datetime= a side's map tiles ask for: a version's or a chosen time, null for now and proposals. */
export function sideTime(side) {
  return side.kind === 'version' || side.kind === 'time' ? side.time || null : null;
}

/** What the diff endpoint is given for a side (from=/to=): a version number, a time, or null (now). */
export function diffBound(side) {
  if (side.kind === 'version') return String(side.version);
  if (side.kind === 'time') return side.time;
  return null;
}

/** Versions of `layer` for the pickers ([] and a message when the server lists none). */
export async function loadVersions(layer) {
  const answer = await api.versions(layer).catch(() => null);
  if (!answer) return { versions: [], message: t('compare.noversions') };
  return { versions: (answer.versions || []).filter((v) => v.layer === layer), message: '' };
}

/** Proposals for the pickers ([] when the server has none or no such endpoint). */
export async function loadProposals() {
  const answer = await api.proposals().catch(() => null);
  return answer?.proposals || [];
}

/**
 * Fetch what compare mode draws beside the tiles: the diff of the compared layer between A and B,
 * and the footprints of the proposals on either side. Sets state.compare.diff/proposals/message.
 */
export async function loadCompareData() {
  const c = state.compare;
  const messages = [];
  c.diff = null;
  c.summary = null;
  const from = diffBound(c.a);
  const to = diffBound(c.b);
  const timeSides = [c.a, c.b].every((s) => s.kind !== 'proposal');
  if (c.layer && timeSides && (from || to) && from !== to) {
    // "now" is the layer's newest version: the diff endpoint names it by the current time
    const now = new Date().toISOString();
    const fc = await api.diff(c.layer, from || now, to || now).catch((err) => ({ error: err.message }));
    if (!fc) messages.push(t('compare.nodiff'));
    else if (fc.error) messages.push(`${t('compare.nodiff')} (${fc.error})`);
    else {
      c.diff = fc;
      c.summary = fc.summary || summarise(fc.features || []);
    }
  }
  for (const key of ['a', 'b']) {
    const side = c[key];
    c.proposals[key] = null;
    if (side.kind !== 'proposal') continue;
    const fc = await api.proposalFeatures(side.name).catch(() => null);
    if (fc) c.proposals[key] = fc;
    else messages.push(`${t('compare.noproposal')}: ${side.name}`);
  }
  c.message = messages.join(' · ');
}

function summarise(features) {
  const out = { added: 0, removed: 0, modified: 0 };
  for (const f of features) if (out[f.properties?.change] !== undefined) out[f.properties.change] += 1;
  return out;
}

const swipeA = new SwipeExtension({ side: 'a' });
const swipeB = new SwipeExtension({ side: 'b' });
const section = new SectionExtension();

/** Extensions of side `key` ('a', 'b' or '' outside compare mode): swipe clipping and the section plane. */
export function sideExtensions(key) {
  const out = [];
  if (key && state.compare.on && state.compare.view === 'swipe') out.push(key === 'a' ? swipeA : swipeB);
  if (state.section) out.push(section);
  return out;
}

/**
 * Extensions of a 3D tileset of side `key`: deck.gl's glTF layers build their shaders once, so the
 * section extension is always there (it cuts nothing without a plane), and the tileset's id changes
 * with the compare view (`tilesetSuffix`) so that swipe clipping comes and goes with new sublayers.
 */
export function tilesetExtensions(key) {
  const out = [];
  if (key && state.compare.on && state.compare.view === 'swipe') out.push(key === 'a' ? swipeA : swipeB);
  out.push(section);
  return out;
}

/** The id suffix of a side's 3D tileset: its side, and the compare view it was made for. */
export function tilesetSuffix(side) {
  return side.suffix && state.compare.view === 'split' ? `${side.suffix}-split` : side.suffix;
}

/** The sides to draw: [{key, suffix, datetime}], one side ('' suffix, the slider's time) outside compare mode. */
export function mapSides() {
  if (!state.compare.on) return [{ key: '', suffix: '', datetime: state.mapTime }];
  return ['a', 'b'].map((key) => ({ key, suffix: `@${key}`, datetime: sideTime(state.compare[key]) }));
}

/** Extra layers of compare mode: proposals on their side, the changed features over both. */
export function compareLayers() {
  const c = state.compare;
  if (!c.on) return [];
  const out = [];
  for (const key of ['a', 'b']) {
    const fc = c.proposals[key];
    if (!fc) continue;
    out.push(new GeoJsonLayer({
      id: `proposal-${c[key].name}@${key}`,
      data: fc,
      extruded: true,
      filled: true,
      stroked: false,
      getElevation: (f) => Number(f.properties?.height) || 10,
      getFillColor: [80, 140, 255, 220],
      pickable: true,
      extensions: sideExtensions(key),
    }));
  }
  if (c.diff) {
    out.push(new GeoJsonLayer({
      id: 'compare-diff',
      data: c.diff,
      filled: true,
      stroked: true,
      getFillColor: (f) => [...(CHANGE_COLORS[f.properties?.change] || [200, 200, 200]), 90],
      getLineColor: (f) => [...(CHANGE_COLORS[f.properties?.change] || [200, 200, 200]), 255],
      lineWidthMinPixels: 3,
      pointRadiusMinPixels: 6,
      pickable: true,
      parameters: { depthCompare: 'always' },
    }));
  }
  return out;
}

/** In side-by-side mode a layer is drawn in its own side's view; layers of neither side in both. */
export function layerFilter({ layer, viewport }) {
  const id = layer.id || '';
  const at = id.lastIndexOf('@');
  if (at < 0) return true;
  const side = id.slice(at + 1).split('-')[0];
  return side === viewport.id;
}
