// Everything drawn over the city's tiles (3D Tiles live in tiles3d.js): sensors, alerts, the selected object,
// the measuring line, the optional online basemap and the terrain raster.
import { COORDINATE_SYSTEM } from '@deck.gl/core';
import { TileLayer } from '@deck.gl/geo-layers';
import { BitmapLayer, GeoJsonLayer, PathLayer, ScatterplotLayer, SolidPolygonLayer } from '@deck.gl/layers';
import { authHeaders, url } from './api.js';
import { COLORS, statusColor } from './palette.js';

/** Id of the element under the cursor in a 3D tile (batch table or feature id), or null. */
export function tileFeatureId(info) {
  const tile = info.object;
  if (!tile || info.index < 0) return null;
  const table = tile.content?.batchTableJson;
  for (const key of ['id', 'feature_id', 'GlobalId', 'globalId']) {
    const column = table?.[key];
    if (Array.isArray(column) && column[info.index] !== undefined) return String(column[info.index]);
  }
  return null;
}

/** Sensor dots coloured by status; `data` is /api/sensors/latest, `version` bumps on live updates. */
export function sensorLayer(data, { visible = true, version = 0 } = {}) {
  return new ScatterplotLayer({
    id: 'sensors',
    data,
    visible,
    pickable: true,
    stroked: true,
    filled: true,
    radiusUnits: 'pixels',
    getRadius: (d) => (d.status === 'alarm' ? 9 : 7),
    getPosition: (d) => [d.lon, d.lat, 3],
    getFillColor: (d) => statusColor(d.status),
    getLineColor: [15, 15, 15, 255],
    lineWidthMinPixels: 1.5,
    billboard: true,
    parameters: { depthCompare: 'always' },
    updateTriggers: { getFillColor: version, getRadius: version },
  });
}

/** Rings around the places of open alerts. */
export function alertLayer(alerts, { visible = true, version = 0 } = {}) {
  return new ScatterplotLayer({
    id: 'alerts',
    data: alerts.filter((a) => Number.isFinite(a.lon) && Number.isFinite(a.lat)),
    visible,
    pickable: true,
    stroked: true,
    filled: false,
    radiusUnits: 'pixels',
    getRadius: 16,
    lineWidthUnits: 'pixels',
    getLineWidth: 3,
    getPosition: (d) => [d.lon, d.lat, 3],
    getLineColor: (d) => statusColor(d.level),
    billboard: true,
    parameters: { depthCompare: 'always' },
    updateTriggers: { getLineColor: version },
  });
}

/** The selected object's own geometry (from /api/features/{id}), outlined at its own z range. */
export function selectionLayer(feature) {
  if (!feature?.geometry) return null;
  const base = Number.isFinite(feature.z_min) ? feature.z_min : 0;
  const top = Number.isFinite(feature.z_max) ? feature.z_max : base + (Number(feature.height) || 0);
  const lift = (c) => (typeof c[0] === 'number' ? [c[0], c[1], base] : c.map(lift));
  const geometry = { ...feature.geometry, coordinates: lift(feature.geometry.coordinates) };
  return new GeoJsonLayer({
    id: 'selection',
    data: { type: 'Feature', geometry, properties: {} },
    filled: true,
    stroked: true,
    extruded: top - base > 0,
    wireframe: true,
    getElevation: Math.max(top - base, 0) + 0.3,
    getFillColor: COLORS.highlight,
    getLineColor: [255, 255, 0, 255],
    lineWidthMinPixels: 3,
    pointRadiusMinPixels: 10,
    pickable: false,
    parameters: { depthCompare: 'always' },
  });
}

/** The measuring line or polygon with its vertices. */
export function measureLayers(points, kind) {
  if (!points.length) return [];
  const out = [];
  if (kind === 'area' && points.length >= 3) {
    out.push(new SolidPolygonLayer({
      id: 'measure-area', data: [{ polygon: points }], getPolygon: (d) => d.polygon,
      getFillColor: [255, 255, 255, 50], parameters: { depthCompare: 'always' },
    }));
  }
  const path = kind === 'area' && points.length >= 3 ? [...points, points[0]] : points;
  out.push(new PathLayer({
    id: 'measure-line', data: [{ path }], getPath: (d) => d.path, getColor: COLORS.measure,
    widthUnits: 'pixels', getWidth: 2, parameters: { depthCompare: 'always' },
  }));
  out.push(new ScatterplotLayer({
    id: 'measure-points', data: points, getPosition: (d) => d, radiusUnits: 'pixels', getRadius: 4,
    getFillColor: COLORS.measure, parameters: { depthCompare: 'always' },
  }));
  return out;
}

/** Raster tiles (an optional online basemap, or a city raster such as the DEM) as bitmaps. */
export function rasterTileLayer(id, template, { visible = true, opacity = 1, maxZoom = 19 } = {}) {
  return new TileLayer({
    id,
    data: template,
    visible,
    opacity,
    maxZoom,
    tileSize: 256,
    getTileData: async (tile) => {
      const res = await fetch(tile.url, { signal: tile.signal, headers: authHeaders() });
      if (!res.ok || res.status === 204) return null;
      return createImageBitmap(await res.blob());
    },
    renderSubLayers: (props) => {
      if (!props.data) return null;
      const { west, south, east, north } = props.tile.bbox;
      return new BitmapLayer(props, {
        data: null, image: props.data, bounds: [west, south, east, north],
        coordinateSystem: COORDINATE_SYSTEM.LNGLAT, parameters: { depthCompare: 'always' },
      });
    },
  });
}
