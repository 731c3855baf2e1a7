// The side panel of a picked object: its attributes (from /api/features/{id}), its parent chain
// (element → storey → building → parcel) and, for a sensor, a sparkline of its recent values.
import { api } from '../api.js';
import { t } from '../i18n.js';
import { statusColor } from '../palette.js';
import { h, replace, rgb, show, when } from './dom.js';

const root = () => document.getElementById('panel');
let token = 0;
let closedHook = null;

/** Call `fn` when the user closes the panel (the app drops its selection). */
export function onPanelClosed(fn) {
  closedHook = fn;
}

/** Hide the panel. */
export function closePanel() {
  token++;
  const el = root();
  el.hidden = true;
  replace(el);
}

function header(title, subtitle) {
  return h('div', { class: 'panel-head' },
    h('div', {},
      h('div', { class: 'panel-title', id: 'panel-title' }, title),
      subtitle ? h('div', { class: 'panel-sub' }, subtitle) : null),
    h('button', {
      class: 'icon', title: t('panel.close'), 'aria-label': t('panel.close'),
      onclick: () => {
        closePanel();
        closedHook?.();
      },
    }, '×'));
}

function table(rows) {
  return h('table', { class: 'attrs' },
    rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, show(v)))));
}

function featureRows(f) {
  const rows = [[t('field.id'), f.id], [t('field.layer'), t(`layer.${f.layer}`, f.layer)], [t('field.class'), f.class]];
  if (f.name) rows.push([t('field.name'), f.name]);
  if (f.height !== null && f.height !== undefined) rows.push([t('field.height'), f.height]);
  if (f.z_min !== null && f.z_min !== undefined) rows.push([t('field.z'), `${show(f.z_min)} … ${show(f.z_max)}`]);
  for (const [k, v] of Object.entries(f.properties || {})) {
    if (!['name', 'height', 'z_min', 'z_max', 'id'].includes(k)) rows.push([k, v]);
  }
  return rows;
}

function parentChain(parents, onOpen) {
  if (!parents?.length) return null;
  return h('div', { class: 'parents' },
    h('h4', {}, t('panel.parents')),
    h('ol', { id: 'parent-chain' }, parents.map((p) => h('li', {},
      h('a', { href: '#', onclick: (e) => { e.preventDefault(); onOpen(p.id); } }, `${p.class} · ${p.name || p.id}`)))));
}

/**
 * Show a city object by id. `onOpen(id)` opens another object (a parent); returns the feature.
 * Example: showFeature('buildings.BLD0000001', {onOpen: select})
 */
export async function showFeature(id, { onOpen, sensor = null, asOf = null } = {}) {
  const mine = ++token;
  const el = root();
  el.hidden = false;
  replace(el, header(sensor ? sensorTitle(sensor) : id), h('div', { class: 'muted' }, t('panel.loading')));
  let feature = null;
  try {
    if (id) feature = await api.feature(id);
  } catch (err) {
    if (!sensor) {
      if (mine === token) replace(el, header(id), h('div', { class: 'error' }, `${t('error.load')}: ${err.message}`));
      return null;
    }
  }
  if (mine !== token) return feature;
  const title = sensor ? sensorTitle(sensor) : feature.name || feature.id;
  const subtitle = sensor ? `${sensor.name} · ${sensor.property || ''}` : `${feature.class} · ${feature.id}`;
  replace(el,
    header(title, subtitle),
    sensor ? sensorBlock(sensor) : null,
    sensor ? h('div', { id: 'sparkline', class: 'sparkline' }, t('panel.loading')) : null,
    feature ? table(featureRows(feature)) : null,
    feature ? parentChain(feature.parents, onOpen) : null);
  if (sensor) drawSeries(sensor, asOf, mine);
  return feature;
}

/** A sensor's title: its Thing's name (扬尘监测 1) or else its datastream's. */
export function sensorTitle(s) {
  return s.thing || s.name || String(s.datastream_id);
}

function sensorBlock(s) {
  const label = t(`status.${s.status}`, s.status);
  return h('div', { class: 'sensor-now' },
    h('span', { class: 'value', id: 'sensor-value', dataset: { stream: String(s.datastream_id) } },
      `${show(s.value)} ${s.unit || ''}`),
    h('span', { class: 'badge', id: 'sensor-badge', style: { background: rgb(statusColor(s.status)) } }, label),
    h('div', { class: 'muted' }, `${s.property || ''} · ${s.time ? when(s.time) : '—'}`),
    s.feature_id ? h('div', { class: 'muted' }, `${t('panel.parents')}: ${s.feature_id}`) : null);
}

// The sensor's last readings: the server picks the 24 h up to its last reading before the slider's
// time (or its newest), so a sensor silent for a while still shows what it last said.
async function drawSeries(sensor, asOf, mine) {
  let series = { times: [], values: [] };
  try {
    series = await api.series(sensor.datastream_id, asOf ? { end: new Date(asOf).toISOString() } : {});
  } catch {
    /* no series: an empty sparkline says so */
  }
  if (mine !== token) return;
  const box = document.getElementById('sparkline');
  if (box) replace(box, h('h4', {}, t('panel.series')), sparkline(series.values, series.times, sensor.unit));
}

/** Show a live value in the open panel when it is the panel's sensor. */
export function pushLiveValue(sensor) {
  const el = document.getElementById('sensor-value');
  if (!el || el.dataset.stream !== String(sensor.datastream_id)) return;
  el.textContent = `${show(sensor.value)} ${sensor.unit || ''}`;
  const badge = document.getElementById('sensor-badge');
  if (badge) {
    badge.textContent = t(`status.${sensor.status}`, sensor.status);
    badge.style.background = rgb(statusColor(sensor.status));
  }
}

/** An SVG sparkline of `values` with min/max labels. */
export function sparkline(values, times, unit = '') {
  const nums = (values || []).map(Number).filter(Number.isFinite);
  if (nums.length < 2) return h('div', { class: 'muted' }, '—');
  const W = 260;
  const H = 60;
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  const span = max - min || 1;
  const pts = nums.map((v, i) => `${((i / (nums.length - 1)) * W).toFixed(1)},${(H - ((v - min) / span) * (H - 4) - 2).toFixed(1)}`);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('width', W);
  svg.setAttribute('height', H);
  svg.setAttribute('data-points', String(nums.length));
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', pts.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#4fc3f7');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  const first = times?.[0] ? when(times[0]) : '';
  const last = times?.[times.length - 1] ? when(times[times.length - 1]) : '';
  return h('div', {}, svg,
    h('div', { class: 'spark-scale' }, `${show(min)}–${show(max)} ${unit}`, h('span', {}, `${first} → ${last}`)));
}
