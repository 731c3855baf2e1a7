// The viewer's state and its deck: which layers each mode shows, what is selected, live data.
import { Deck, MapView, WebMercatorViewport } from '@deck.gl/core';
import { annotationLayers, annotationTip } from './annotations.js';
import { compareLayers, layerFilter, mapSides, sideExtensions, tilesetExtensions, tilesetSuffix } from './compare.js';
import { api, getOptional, url } from './api.js';
import { flyTo, setCamera, setDeck } from './camera.js';
import { FLAT, cityLayers, layerRole } from './citylayers.js';
import { elementAt } from './bimpick.js';
import { applyLabels, setLang, t } from './i18n.js';
import { applyAlert, applyAlertToSensor, applyObservation } from './live.js';
import { MODE_PITCH, MODE_ROLES, legendFor, sensorFilter } from './modes.js';
import { alertLayer, measureLayers, rasterTileLayer, selectionLayer, sensorLayer, tileFeatureId } from './overlays.js';
import { fetchPopulation, populationKpis, populationLayer, unitsSection } from './people.js';
import { closePanel, onPanelClosed, pushLiveValue, sensorTitle, showFeature } from './ui/panel.js';
import { state } from './state.js';
import { renderAlerts, renderKpis, renderLegend, renderToggles } from './ui/sidebar.js';

export { state };
export { deckInstance, flyTo, pickAt, project } from './camera.js';

const MAX_TILE_ZOOM = 17;
const PSEUDO = { sensors: 'sensors', alerts: 'alerts', basemap: 'basemap', population: 'population' };

let deck = null;
let measure = null;
const hooks = { onFirstRender: null };

onPanelClosed(() => {
  state.selection = null;
  state.selectedSensor = null;
  window.cim.selected = null;
  redraw();
});

/** Create the deck in #map fitted to the city's bbox. */
export function createDeck(city, measureTool, onFirstRender) {
  measure = measureTool;
  hooks.onFirstRender = onFirstRender;
  const el = document.getElementById('map');
  const vp = new WebMercatorViewport({ width: el.clientWidth || 1280, height: el.clientHeight || 720 });
  const [w, s, e, n] = city.bbox;
  // the left column covers ~270 px, and tilting the camera widens the near edge: keep clear of both
  const padding = { top: 40, bottom: 90, left: 340, right: 90 };
  const fit = vp.fitBounds([[w, s], [e, n]], { padding, maxZoom: 18 });
  state.viewState = { longitude: fit.longitude, latitude: fit.latitude, zoom: fit.zoom, pitch: MODE_PITCH[state.mode],
    bearing: -12, maxPitch: 85 };
  deck = new Deck({
    parent: el,
    views: new MapView({ repeat: false }),
    initialViewState: state.viewState,
    controller: { doubleClickZoom: false, inertia: true },
    // deck.gl picks on pointerdown before the release is seen: with software WebGL or a big
    // model that pick can take a second, and the default 250 ms press limit would drop the click
    eventRecognizerOptions: { click: { time: 5000 } },
    onViewStateChange: ({ viewState }) => {
      state.viewState = viewState;
      // side by side: the view moved by the user leads, the other follows
      if (splitView()) deck.setProps({ viewState: { a: viewState, b: viewState } });
      return viewState;
    },
    onClick,
    getTooltip,
    getCursor: ({ isHovering, isDragging }) => (measure.active || clickHooks.annotate ? 'crosshair' : isDragging ? 'grabbing' : isHovering ? 'pointer' : 'grab'),
    onAfterRender: afterRender,
    layers: [],
  });
  setDeck(deck);
  return deck;
}

/** How many visible layers are still loading (tiles, 3D tiles, async data); 0 when all is drawn. */
export function tilesLoading() {
  return loadingLayers().length;
}

/** Ids of the visible layers still loading (for the page tests' diagnostics). */
export function loadingLayers() {
  if (!deck) return ['deck'];
  const ids = (deck.props.layers || []).filter((l) => l && l.props.visible !== false && !l.isLoaded).map((l) => l.id);
  if (tiles3dLoading && !tiles3d) ids.push('tiles3d module');
  return ids;
}

/** Is the layer (or pseudo layer) `name` with role `role` on in the current mode? */
export function isVisible(name, role) {
  const own = state.toggles[state.mode]?.[name];
  if (own !== undefined) return own;
  if (role === 'raster') return false;
  if (role === 'basemap') return Boolean(state.basemap);
  return MODE_ROLES[state.mode].includes(role);
}

function vectorStyle() {
  const visible = {};
  for (const l of state.city.layers) visible[l.name] = isVisible(l.name, layerRole(l));
  const k = state.below ? 8 : 1;
  const zRange = {};
  for (const [name, [lo, hi]] of Object.entries(state.zSeen)) zRange[name] = [Math.min(lo * k, 0), Math.max(hi, 0)];
  return { mode: state.mode, below: state.below, depthScale: k, visible, tileZoom: state.tileZoom, zRange,
    failures: state.failures, sides: mapSides(), compare: state.compare.on && state.compare.view,
    section: Boolean(state.section) };
}

function onFeatures(role, features, name) {
  trackHeights(name, features);
  let grew = false;
  const add = (set, v) => {
    if (v && !set.has(v)) {
      set.add(v);
      grew = true;
    }
  };
  for (const f of features) {
    if (role === 'parcels') add(state.seen.landUses, f.properties?.land_use);
    if (role === 'pipes') add(state.seen.networks, f.properties?.network);
    if (role === 'parking' && Number(f.properties?.chargers) > 0) add(state.seen.flags, 'chargers');
  }
  if (grew) queueMicrotask(refreshLegend);
}

/** Keep the lowest and highest z seen in a layer's tiles (heights up, pipes and tunnels down). */
function trackHeights(name, features) {
  const [lo0, hi0] = state.zSeen[name] || [0, 0];
  let lo = lo0;
  let hi = hi0;
  for (const f of features) {
    const p = f.properties || {};
    const top = Number(p.z_max ?? p.height);
    const bottom = Number(p.z_min);
    if (Number.isFinite(top)) hi = Math.max(hi, top);
    if (Number.isFinite(bottom)) lo = Math.min(lo, bottom);
  }
  if (lo < lo0 || hi > hi0) {
    state.zSeen[name] = [lo, hi];
    scheduleRedraw();
  }
}

let tiles3d = null;
let tiles3dLoading = null;
function loadTiles3d() {
  tiles3dLoading ??= import('./tiles3d.js').then((mod) => {
    tiles3d = mod;
    redraw();
  });
}

function overlayLayers() {
  const out = [];
  // hidden tile layers are left out: deck.gl would still fetch their tiles
  for (const l of state.city.layers) {
    const role = layerRole(l);
    if (l.tileset3d && role === 'bim' && isVisible(l.name, role)) {
      if (tiles3d) {
        for (const side of mapSides().filter((sd) => existsAt(l, sd.datetime))) {
          out.push(tiles3d.tilesetLayer(l, { suffix: tilesetSuffix(side), datetime: side.datetime,
            extensions: tilesetExtensions(side.key) }));
        }
      } else loadTiles3d();
    }
    if (l.raster_tiles && isVisible(l.name, 'raster')) {
      out.push(rasterTileLayer(`raster-${l.name}`, url(l.raster_tiles).replace(/%7B/g, '{').replace(/%7D/g, '}'),
        { opacity: 0.6 }));
    }
  }
  const keep = sensorFilter(state.mode, state.worksiteBoxes);
  out.push(sensorLayer(state.sensors.filter(keep), { visible: isVisible(PSEUDO.sensors, 'sensors'), version: state.sensorVersion }));
  out.push(alertLayer(visibleAlerts(), { visible: isVisible(PSEUDO.alerts, 'alerts'), version: state.alertVersion }));
  out.push(...compareLayers());
  out.push(...annotationLayers());
  out.push(selectionLayer(state.selection));
  out.push(...measureLayers(measure.points, measure.kind));
  return out.filter(Boolean);
}

let vectorCache = { key: null, layers: [] };

/**
 * The city's tile layers, rebuilt only when their style changed: the same layer objects are
 * handed back otherwise, so a live reading or a selection does not regenerate every tile's
 * sublayers (which also kept clicks from picking for a moment).
 */
function vectorLayers() {
  const style = vectorStyle();
  const key = JSON.stringify(style);
  if (key !== vectorCache.key) {
    const hooks = { onFeatures, onViewportLoad: (name) => state.loaded.add(name) };
    vectorCache = {
      key,
      layers: style.sides.flatMap((side) => cityLayers(existingAt(side.datetime), style, hooks,
        { suffix: side.suffix, datetime: side.datetime, extensions: sideExtensions(side.key) })),
    };
  }
  return vectorCache.layers;
}

/** Is the map split into two synchronised views (compare side by side)? */
export function splitView() {
  return state.compare.on && state.compare.view === 'split';
}

const SPLIT_VIEWS = () => [
  new MapView({ id: 'a', x: 0, width: '50%', repeat: false, controller: { doubleClickZoom: false, inertia: true } }),
  new MapView({ id: 'b', x: '50%', width: '50%', repeat: false, controller: { doubleClickZoom: false, inertia: true } }),
];

/** One view, or two side by side that move together (the compare tool's 分屏). */
export function applyViews() {
  if (!deck) return;
  const vs = { ...state.viewState };
  for (const k of ['transitionDuration', 'transitionInterpolator', 'onTransitionEnd', 'onTransitionInterrupt']) delete vs[k];
  if (splitView()) {
    deck.setProps({ views: SPLIT_VIEWS(), viewState: { a: vs, b: vs }, layerFilter });
  } else {
    deck.setProps({ views: new MapView({ repeat: false }), viewState: null, initialViewState: vs, layerFilter: null });
  }
  document.body.dataset.compare = state.compare.on ? state.compare.view : '';
  redraw();
}

/** Redraw the picture without rebuilding layers (the swipe handle, the section slider moved). */
export function repaint() {
  deck?.redraw('clip');
}

/** The city's layers that existed at `datetime` (all of them for null: now); a layer's tiles before its first version are empty. */
function existingAt(datetime) {
  return state.city.layers.filter((l) => existsAt(l, datetime));
}

/** Did `layer` exist at `datetime` (null: now)? Unknown first versions count as existing. */
function existsAt(layer, datetime) {
  if (!datetime) return true;
  const start = state.layerStart[layer.name];
  return !(Number.isFinite(start) && Date.parse(datetime) < start);
}

/** Rebuild the deck's layer list from the state. */
export function redraw() {
  if (!deck || !state.city) return;
  const base = state.basemap && isVisible(PSEUDO.basemap, 'basemap') ? [rasterTileLayer('basemap', state.basemap)] : [];
  const vector = vectorLayers();
  // 服 mode's density cells lie under the buildings
  const density = state.population && state.mode === 'serve'
    ? [populationLayer(state.population, { visible: isVisible(PSEUDO.population, 'population') })] : [];
  deck.setProps({ layers: [...base, ...density.filter(Boolean), ...vector, ...overlayLayers()] });
}

function afterRender() {
  if (window.cim.firstRenderMs !== null || !state.city) return;
  const needed = state.city.layers.filter((l) => l.tiles && ['blocks', 'parcels', 'buildings', 'roads'].includes(layerRole(l))
    && isVisible(l.name, layerRole(l)));
  if (needed.every((l) => state.loaded.has(l.name))) {
    window.cim.firstRenderMs = performance.now();
    document.body.dataset.ready = 'true';
    hooks.onFirstRender?.();
  }
}

/** Alerts current at the slider's time (the server answers for that time; now when the slider is at now). */
export function visibleAlerts() {
  return state.alerts;
}

function getTooltip({ object, layer }) {
  if (!object || !layer) return null;
  if (layer.id === 'sensors') return { text: `${sensorTitle(object)}\n${object.value ?? '—'} ${object.unit || ''}` };
  if (layer.id === 'alerts') return { text: object.message || object.rule };
  if (layer.id.startsWith('annotation-') && object.text) return { text: annotationTip(object) };
  if (layer.id === 'compare-diff') return { text: `${object.properties?.id ?? ''} · ${t(`compare.${object.properties?.change}`)}` };
  const p = object.properties;
  if (!p) return null;
  if (p.land_use && (p.far_limit !== undefined || p.height_limit !== undefined)) {
    // zoning limits of a parcel at a glance
    const use = t(`landuse.${p.land_use}`, p.land_use_name || p.land_use);
    return { text: `${p.parcel_id || p.id || ''} ${use}\n${t('tip.far')} ${p.far_limit ?? '—'} · ${t('tip.height')} ${p.height_limit ?? '—'} m` };
  }
  return { text: `${p.name || p.id || ''}` };
}

/**
 * The picked surface under a click as [lon, lat, z]: a roof, a wall or a BIM element from the depth
 * buffer; flat ground layers (parcels, roads, …) and empty ground are at z = 0 exactly.
 */
function surfaceAt(info) {
  const hit = deck.pickObject({ x: info.x, y: info.y, radius: 2, unproject3D: true });
  const at = hit?.coordinate || info.coordinate;
  if (!at) return null;
  const name = (hit?.layer?.id || '').replace(/^city-/, '').replace(/@[ab]$/, '');
  const layer = hit && state.city.layers.find((l) => l.name === name);
  const flat = !hit || (layer && FLAT.has(layerRole(layer)));
  return [at[0], at[1], flat ? 0 : Number(at[2]) || 0];
}

const clickHooks = { annotate: null };

/** While `fn` is set, a click on the map hands it the clicked [lon, lat] (the annotation tool). */
export function onMapClick(fn) {
  clickHooks.annotate = fn;
}

function onClick(info) {
  if (measure.active) {
    // heights need the picked surface (roof, element, ground), not the point on the ground plane
    const at = measure.kind === 'height' ? surfaceAt(info) : info.coordinate;
    if (at) measure.add(at);
    return;
  }
  if (clickHooks.annotate) {
    if (info.coordinate) clickHooks.annotate(info.coordinate);
    return;
  }
  const id = info.layer?.id || '';
  const root = id.split('-')[0];
  if (!info.object) {
    select(null);
  } else if (id === 'sensors') {
    selectSensor(info.object);
  } else if (id === 'alerts') {
    pickAlert(info.object);
  } else if (root === '3d') {
    pickElement(info);
  } else if (info.object.properties?.id) {
    select(String(info.object.properties.id));
  }
}

/** A click on a 3D Tiles model: the element under the cursor (see bimpick.js). */
async function pickElement(info) {
  const deep = deck.pickObject({ x: info.x, y: info.y, radius: 0, unproject3D: true, layerIds: [info.layer.id] });
  const point = deep?.coordinate;
  let id = tileFeatureId(info);
  if (!id && point) {
    try {
      id = await elementAt(info.layer.id.slice(3).replace(/@[ab](-split)?$/, ''), point);
    } catch {
      id = null;
    }
  }
  if (id) select(id);
}

/** Open an object by id in the side panel and outline it on the map (null closes). */
export async function select(id, { sensor = null } = {}) {
  state.selectedSensor = sensor;
  window.cim.selected = null;
  if (!id && !sensor) {
    state.selection = null;
    closePanel();
    redraw();
    return null;
  }
  const feature = await showFeature(id, { onOpen: (pid) => select(pid), sensor, asOf: state.asOf });
  if (state.mode === 'serve' && feature?.class === 'Building') showUnits(feature.id);
  state.selection = feature;
  window.cim.selected = feature?.id || sensor?.datastream_id || null;
  redraw();
  return feature;
}

function selectSensor(sensor) {
  return select(sensor.feature_id || null, { sensor });
}

/** Fly to an alert and open its object. */
export function pickAlert(alert) {
  if (Number.isFinite(alert.lon) && Number.isFinite(alert.lat)) flyTo([alert.lon, alert.lat], { zoom: 18 });
  const sensor = state.sensors.find((s) => String(s.datastream_id) === String(alert.datastream_id));
  if (sensor) selectSensor(sensor);
  else if (alert.feature_id) select(alert.feature_id);
}

/** 服 mode: the picked building's housing units (masked per role) under its details in the panel. */
async function showUnits(buildingId) {
  const section = await unitsSection(buildingId);
  const panel = document.getElementById('panel');
  if (section && panel && !panel.hidden && window.cim.selected === buildingId) panel.append(section);
}

/** Switch mode: layers, legend, KPI cards, camera pitch. */
export async function setMode(mode) {
  state.mode = mode;
  if (mode !== 'manage' && state.below) state.below = false;
  document.body.dataset.mode = mode;
  document.querySelectorAll('#modes button').forEach((b) => b.classList.toggle('on', b.dataset.mode === mode));
  document.getElementById('below-toggle').hidden = mode !== 'manage';
  document.getElementById('below-toggle').classList.toggle('on', state.below);
  setCamera({ pitch: MODE_PITCH[mode] });
  if (mode === 'build') focusWorksites();
  if (mode === 'serve' && !state.population) state.population = await fetchPopulation();
  refreshSidebar();
  redraw();
  await refreshKpis();
}

/** Build mode opens on the worksites (parcels flagged worksite), where the BIM models stand. */
function focusWorksites() {
  const boxes = state.worksiteBoxes;
  if (!boxes.length) return;
  const union = [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])),
    Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))];
  flyTo(union, { duration: 700, maxZoom: 17.6 });
}

/** Toggle the below-ground view (manage mode): ground goes transparent, camera tilts, depths stretch. */
export function setBelow(on) {
  state.below = on;
  document.getElementById('below-toggle').classList.toggle('on', on);
  setCamera({ pitch: on ? 65 : MODE_PITCH[state.mode] });
  redraw();
}

function hasBim() {
  return state.city.layers.some((l) => layerRole(l) === 'bim');
}

function refreshLegend() {
  const roles = new Set(state.city.layers.map(layerRole));
  renderLegend(legendFor(state.mode, state.seen, {
    hasBim: hasBim(), roles, failures: state.failures.size, sensors: state.sensors.length,
    worksites: state.worksiteBoxes.length,
  }));
}

/** Re-render legend, toggles and alerts (after a mode or language change). */
export function refreshSidebar() {
  refreshLegend();
  const items = [
    ...(state.basemap ? [{ name: PSEUDO.basemap, role: 'basemap' }] : []),
    ...state.city.layers.map((l) => ({ name: l.name, role: layerRole(l) })),
    // sensors and alerts are offered only when the city has sensors
    ...(state.sensors.length ? [{ name: PSEUDO.sensors, role: 'sensors' }, { name: PSEUDO.alerts, role: 'alerts' }] : []),
    ...(state.population ? [{ name: PSEUDO.population, role: 'population' }] : []),
  ];
  const label = (it) => t(`layer.${it.name}`, it.role === 'bim' ? `${t('legend.bim')} · ${it.name}` : it.name);
  renderToggles(items.map((it) => ({ name: it.name, label: label(it), on: isVisible(it.name, it.role) })),
    (name, on) => {
      state.toggles[state.mode] = { ...(state.toggles[state.mode] || {}), [name]: on };
      redraw();
    });
  renderAlerts(visibleAlerts(), pickAlert);
  document.getElementById('alerts-box').hidden = !['operate', 'build'].includes(state.mode);
}

let kpiAsked = 0;
/** Fetch and draw the KPI cards of the current mode. */
export async function refreshKpis() {
  const mine = ++kpiAsked;
  const mode = state.mode;
  if (mode === 'serve') {
    renderKpis(populationKpis(state.population));
    return;
  }
  try {
    const kpis = await api.kpis(mode, state.asOf);
    if (mine === kpiAsked) renderKpis(kpis);
  } catch {
    if (mine === kpiAsked) renderKpis([]);
  }
}

// Live events that arrive before the sensors and alerts are loaded wait here, then replay: the
// stream opens first so that nothing between the first fetch and the subscription is lost.
let pending = [];

/** Live observation → sensor colour and value, without reload (not while the slider shows a past time). */
export function onObservation(obs) {
  if (pending) {
    pending.push(['observation', obs]);
    return;
  }
  if (state.asOf) return;
  const changed = applyObservation(state.sensors, obs);
  if (!changed) return;
  state.sensorVersion++;
  pushLiveValue(changed);
  scheduleRedraw();
}

/** Live alert → the open-alerts list, the map rings and the KPI cards. */
export function onAlert(alert) {
  if (pending) {
    pending.push(['alert', alert]);
    return;
  }
  if (state.asOf) return;
  state.alerts = applyAlert(state.alerts, alert);
  state.alertVersion++;
  const sensor = applyAlertToSensor(state.sensors, alert);
  if (sensor) {
    state.sensorVersion++;
    pushLiveValue(sensor);
  }
  renderAlerts(visibleAlerts(), pickAlert);
  scheduleRedraw();
  scheduleKpis();
}

let redrawQueued = false;
function scheduleRedraw() {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    redraw();
  });
}

let kpiTimer = null;
function scheduleKpis() {
  clearTimeout(kpiTimer);
  kpiTimer = setTimeout(refreshKpis, 500);
}

/** Load sensors, alerts, tile zoom ranges and worksite boxes (all optional parts of the server). */
export async function loadSideData() {
  const [sensors, alerts] = await Promise.all([api.sensorsLatest(null, state.asOf), api.alerts(state.asOf),
    loadWorksites(), loadFailures()]);
  state.sensors = sensors || [];
  state.alerts = alerts || [];
  state.sensorVersion++;
  state.alertVersion++;
  const replay = pending || [];
  pending = null;
  for (const [kind, data] of replay) (kind === 'alert' ? onAlert : onObservation)(data);
  renderAlerts(visibleAlerts(), pickAlert);
  if (state.mode === 'build') focusWorksites();
  refreshSidebar();
  redraw();
}

/** Zoom ranges of the layers' tiles from their TileJSON (so a big layer is not asked for at low zoom). */
export async function loadTileZooms() {
  await Promise.all(state.city.layers.filter((l) => l.tiles).map(async (l) => {
    const tj = await getOptional(`/collections/${encodeURIComponent(l.name)}/tiles/WebMercatorQuad`, null, null)
      .catch(() => null);
    // above z17 a tile is ~230 m across: overzooming it is cheaper than asking for more
    if (tj && Number.isFinite(tj.minzoom) && Number.isFinite(tj.maxzoom)) {
      state.tileZoom[l.name] = [tj.minzoom, Math.min(tj.maxzoom, MAX_TILE_ZOOM)];
    }
  }));
}

/** Ids of the buildings the compliance engine found breaking a rule (the 规划 screen's red). */
async function loadFailures() {
  try {
    const fc = await api.compliance();
    state.failures = new Set((fc.features || []).filter((f) => f.properties?.subject_class === 'Building')
      .map((f) => f.properties.subject));
  } catch {
    state.failures = new Set();
  }
}

async function loadWorksites() {
  const parcels = state.city.layers.find((l) => layerRole(l) === 'parcels');
  if (!parcels) return;
  try {
    const fc = await api.items(parcels.name, { filter: 'worksite = true', 'filter-lang': 'cql2-text', limit: 100 });
    state.worksiteBoxes = (fc.features || []).map((f) => f.bbox || bboxOf(f.geometry)).filter(Boolean);
  } catch {
    state.worksiteBoxes = [];
  }
}

function bboxOf(geometry) {
  if (!geometry) return null;
  const xs = [];
  const ys = [];
  const walk = (c) => (typeof c[0] === 'number' ? (xs.push(c[0]), ys.push(c[1])) : c.forEach(walk));
  walk(geometry.coordinates);
  return xs.length ? [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] : null;
}

/** Switch language and re-label everything. */
export function switchLanguage(value) {
  setLang(value);
  localStorage.setItem('cim.lang', value);
  applyLabels();
  refreshSidebar();
  refreshKpis();
  measure.relabel();
  if (state.selection || state.selectedSensor) select(state.selection?.id || null, { sensor: state.selectedSensor });
}

let asOfAsked = 0;
/**
 * As-of time from the slider (ISO) or null for now: sensors, alerts, KPIs and the map layers as they
 * were then. `atEnd` (the slider at its right end) keeps the map on the current city: history data
 * may well be older than the city's first ingest.
 */
export async function setAsOf(iso, { atEnd = false } = {}) {
  state.asOf = iso;
  state.mapTime = atEnd ? null : iso;
  if (state.mapTime) await loadLayerStarts();
  showMapTime();
  redraw();
  const mine = ++asOfAsked;
  const [sensors, alerts] = await Promise.all([api.sensorsLatest(null, iso), api.alerts(iso)]);
  if (mine !== asOfAsked) return;
  state.sensors = sensors || [];
  state.alerts = alerts || [];
  state.sensorVersion++;
  state.alertVersion++;
  renderAlerts(visibleAlerts(), pickAlert);
  redraw();
  refreshKpis();
}

let startsAsked = null;
/** When each layer's first version was made (/api/versions, asked once, when the map first goes back in time). */
export function loadLayerStarts() {
  startsAsked ??= api.versions().then((answer) => {
    for (const v of answer?.versions || []) {
      const at = Date.parse(v.created_at);
      if (Number.isFinite(at) && !(state.layerStart[v.layer] <= at)) state.layerStart[v.layer] = at;
    }
  }).catch(() => {});
  return startsAsked;
}

/** The time bar's note on what the map shows: the city now, or its layers as they were (and which did not exist yet). */
export function showMapTime() {
  const note = document.getElementById('time-map');
  if (!note) return;
  if (!state.mapTime) {
    note.textContent = '';
    note.hidden = true;
    return;
  }
  const at = Date.parse(state.mapTime);
  const absent = state.city.layers.filter((l) => l.tiles && Number.isFinite(state.layerStart?.[l.name])
    && at < state.layerStart[l.name]).map((l) => l.name);
  note.hidden = false;
  note.textContent = `${t('time.map')}${absent.length ? ` · ${t('time.absent')}: ${absent.join(', ')}` : ''}`;
  note.dataset.datetime = state.mapTime;
}
