// The city's own layers drawn from vector tiles, styled by what each layer is (its feature class)
// and by the active mode. Ground layers are flat; buildings extrude from their `height`; pipes and
// the utility tunnel sit at their (negative) z, stretched by `depthScale` in the below-ground view.
import { GeoJsonLayer, PathLayer, SolidPolygonLayer } from '@deck.gl/layers';
import { COLORS, landUseColor, networkColor } from './palette.js';
import { vectorTileLayer } from './vectortiles.js';

const ROLE_BY_CLASS = {
  Block: 'blocks',
  Parcel: 'parcels',
  Building: 'buildings',
  Road: 'roads',
  Pipe: 'pipes',
  UtilityTunnel: 'tunnel',
  GreenSpace: 'green',
  ParkingLot: 'parking',
};

/** What a layer of /api/city is to the viewer: 'parcels', 'buildings', 'pipes', 'bim', 'raster', … */
export function layerRole(layer) {
  if (layer.kind === 'bim') return 'bim';
  if (layer.kind === 'raster') return 'raster';
  return ROLE_BY_CLASS[layer.feature_class] || 'generic';
}

/** Draw order: underground first, then flat ground, then volumes. */
export const ROLE_ORDER = ['tunnel', 'pipes', 'blocks', 'green', 'parcels', 'roads', 'parking', 'generic', 'buildings'];
const FLAT = new Set(['blocks', 'green', 'parcels', 'roads', 'parking', 'generic']);
const UNDERGROUND = new Set(['tunnel', 'pipes']);

const num = (v, d = 0) => (Number.isFinite(Number(v)) && v !== null && v !== '' ? Number(v) : d);
const truthy = (v) => v === true || v === 1 || v === 'true' || v === '1';

/** True when the compliance engine found the feature breaking a rule (ids from /api/compliance). */
export function isViolation(p, failures) {
  return Boolean(failures && p && failures.has(p.id));
}

function lines(features) {
  const out = [];
  for (const f of features) {
    const g = f.geometry;
    if (!g) continue;
    const parts = g.type === 'LineString' ? [g.coordinates] : g.type === 'MultiLineString' ? g.coordinates : [];
    const p = f.properties || {};
    const z = (num(p.z_min, -1) + num(p.z_max, num(p.z_min, -1))) / 2;
    for (const path of parts) out.push({ path, z, properties: p });
  }
  return out;
}

function polygons(features) {
  const out = [];
  for (const f of features) {
    const g = f.geometry;
    if (!g) continue;
    const parts = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    const p = f.properties || {};
    for (const polygon of parts) out.push({ polygon, properties: p });
  }
  return out;
}

/** Per-role conversion of decoded tile features into sublayer data. */
export function prepareFor(role) {
  if (role === 'pipes') return lines;
  if (role === 'tunnel') return polygons;
  return (features) => features;
}

function groundAlpha(style) {
  if (style.below) return 40;
  return style.mode === 'manage' ? 150 : 255;
}

function flatColor(role, style) {
  return (f) => {
    const p = f.properties || {};
    const a = groundAlpha(style);
    if (role === 'parcels') {
      if (style.mode === 'build') return truthy(p.worksite) ? [...COLORS.worksite, 220] : [0, 0, 0, 0];
      return [...landUseColor(p.land_use), Math.min(a, 200)];
    }
    if (role === 'green') return [...COLORS.green, a];
    if (role === 'parking') return [...(num(p.chargers) > 0 ? COLORS.charger : COLORS.parking), a];
    if (role === 'blocks') return [...COLORS.block, a];
    return [150, 150, 160, Math.min(a, 160)];
  };
}

function renderFlat(props, role, style) {
  const trigger = [style.mode, style.below];
  return new GeoJsonLayer({
    ...props,
    filled: true,
    stroked: role === 'parcels' || role === 'parking' || role === 'generic',
    getFillColor: flatColor(role, style),
    getLineColor: role === 'parcels' && style.mode === 'build' ? [255, 200, 120, 180] : [20, 20, 20, 160],
    lineWidthMinPixels: 1,
    getLineWidth: 1,
    pointRadiusMinPixels: 3,
    getPointRadius: 4,
    parameters: { depthCompare: 'always' },
    updateTriggers: { getFillColor: trigger, getLineColor: trigger },
  });
}

function renderRoads(props, style) {
  const a = style.below ? 40 : style.mode === 'manage' ? 170 : 255;
  return new GeoJsonLayer({
    ...props,
    stroked: false,
    filled: false,
    lineWidthUnits: 'meters',
    getLineWidth: (f) => num(f.properties?.width, 12),
    lineWidthMinPixels: 1,
    getLineColor: [...COLORS.road, a],
    parameters: { depthCompare: 'always' },
    updateTriggers: { getLineColor: [style.mode, style.below] },
  });
}

// A layer of buildings may hold other city objects too (a CityJSON model: roads, water, plant cover,
// land use): only buildings stand up; the rest lie flat in the colour of what they are.
const STANDING = new Set(['Building', 'BuildingPart']);
const FLAT_BY_CLASS = { Road: COLORS.road, PlantCover: COLORS.green, GreenSpace: COLORS.green, WaterBody: [70, 130, 200] };
const stands = (p) => !p.class || STANDING.has(p.class);

function buildingColor(style) {
  return (f) => {
    const p = f.properties || {};
    if (!stands(p)) return [...(FLAT_BY_CLASS[p.class] || [150, 150, 160]), style.below ? 25 : 120];
    if (style.mode === 'plan') return isViolation(p, style.failures) ? [...COLORS.violation, 255] : [...COLORS.building, 235];
    if (style.below) return [...COLORS.building, 25];
    if (style.mode === 'build') return [...COLORS.building, 90];
    return [...COLORS.building, style.mode === 'manage' ? 120 : 150];
  };
}

function renderBuildings(props, style) {
  return new GeoJsonLayer({
    ...props,
    extruded: true,
    wireframe: false,
    filled: true,
    stroked: false,
    getElevation: (f) => (stands(f.properties || {}) ? Math.max(num(f.properties?.height, 3), 1) : 0),
    getFillColor: buildingColor(style),
    material: { ambient: 0.45, diffuse: 0.6, shininess: 16, specularColor: [60, 64, 70] },
    updateTriggers: { getFillColor: [style.mode, style.below, style.failures?.size] },
  });
}

function renderPipes(props, style) {
  const k = style.depthScale;
  return new PathLayer({
    ...props,
    getPath: (d) => d.path.map((c) => [c[0], c[1], d.z * k]),
    getColor: (d) => networkColor(d.properties.network),
    widthUnits: 'meters',
    getWidth: (d) => Math.max(num(d.properties.diameter_mm, 300) / 1000, 0.3) * (style.below ? 3 : 2),
    widthMinPixels: 2,
    billboard: false,
    updateTriggers: { getPath: k, getWidth: style.below },
  });
}

function renderTunnel(props, style) {
  const k = style.depthScale;
  return new SolidPolygonLayer({
    ...props,
    extruded: true,
    getPolygon: (d) => {
      const base = num(d.properties.z_min, -6) * k;
      return d.polygon.map((ring) => ring.map((c) => [c[0], c[1], base]));
    },
    getElevation: (d) => (num(d.properties.z_max, -2.5) - num(d.properties.z_min, -6)) * k,
    getFillColor: [...COLORS.tunnel, style.below ? 170 : 110],
    updateTriggers: { getPolygon: k, getElevation: k, getFillColor: style.below },
  });
}

function renderer(role, style) {
  if (role === 'buildings') return (props) => renderBuildings(props, style);
  if (role === 'roads') return (props) => renderRoads(props, style);
  if (role === 'pipes') return (props) => renderPipes(props, style);
  if (role === 'tunnel') return (props) => renderTunnel(props, style);
  return (props) => renderFlat(props, role, style);
}

/**
 * Deck layers for the city's vector layers in draw order.
 * @param {Array} layers   /api/city layers (vector ones with `tiles`)
 * @param {object} style   {mode, below, depthScale, visible: name → bool, tileZoom: name → [min, max],
 *                          zRange: name → [lowest, highest] z seen in metres}
 * @param {object} hooks   {onFeatures(role, features), onViewportLoad(name)}
 * @param {object} side    {suffix: appended to layer ids ('@a'), datetime: the time the tiles show
 *                          (null: now), extensions: deck.gl extensions (swipe, section)}
 */
export function cityLayers(layers, style, hooks, { suffix = '', datetime = null, extensions = [] } = {}) {
  // Hidden layers are left out entirely: a hidden TileLayer would still fetch its tiles.
  const vector = layers.filter((l) => l.tiles && !['bim', 'raster'].includes(layerRole(l)) && style.visible[l.name]);
  vector.sort((a, b) => ROLE_ORDER.indexOf(layerRole(a)) - ROLE_ORDER.indexOf(layerRole(b)));
  return vector.map((layer) => {
    const role = layerRole(layer);
    const prepare = prepareFor(role);
    const [minZoom, maxZoom] = style.tileZoom?.[layer.name] || [0, 16];
    return vectorTileLayer({
      id: `city-${layer.name}${suffix}`,
      layer,
      datetime,
      extensions,
      minZoom,
      maxZoom,
      // one tile level coarser than the view: a quarter of the requests, and as the server caps the
      // features of a tile (aggregating beyond), a quarter of the features to draw at city scale
      zoomOffset: -1,
      // the heights and depths seen so far: deck.gl needs them to find (and pick) the tiles whose
      // tall buildings or deep pipes reach into the view from outside their footprint
      zRange: style.zRange?.[layer.name],
      // no requests for tiles outside the layer's bbox (the horizon of a tilted view is empty)
      extent: Array.isArray(layer.bbox) && layer.bbox.length === 4 ? layer.bbox : undefined,
      prepare: (features) => {
        hooks.onFeatures?.(role, features, layer.name);
        return prepare(features);
      },
      render: renderer(role, style),
      onViewportLoad: () => hooks.onViewportLoad?.(layer.name),
      updateTriggers: [style.mode, style.below, style.depthScale, extensions.length],
    });
  });
}

export { FLAT, UNDERGROUND };
