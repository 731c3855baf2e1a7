// Vector tiles from the city's own layers: a deck.gl TileLayer that fetches MVT from
// /collections/<layer>/tiles/WebMercatorQuad/{z}/{y}/{x}, decodes it to GeoJSON in lon/lat
// (so heights and depths are plain metres) and hands the features to a sublayer renderer.
// Features are never loaded as a whole layer: only the tiles in view, cached by deck.gl.
import { TileLayer } from '@deck.gl/geo-layers';
import { parse } from '@loaders.gl/core';
import { MVTLoader } from '@loaders.gl/mvt';
import { authHeaders, url } from './api.js';

/** Parse one MVT tile body into GeoJSON features in lon/lat (no worker: nothing is fetched from outside). */
export async function decodeTile(buffer, index) {
  if (!buffer || buffer.byteLength === 0) return [];
  const features = await parse(buffer, MVTLoader, {
    worker: false,
    mvt: { shape: 'geojson', coordinates: 'wgs84', tileIndex: index },
  });
  return Array.isArray(features) ? features : features?.features || [];
}

/**
 * The tile URL template of a layer from /api/city as an absolute URL with {z}/{x}/{y} kept;
 * `datetime` (ISO time or version) asks for the tiles of the layer as it was then.
 */
export function tileTemplate(layer, datetime = null) {
  const u = new URL(url(layer.tiles));
  if (datetime) u.searchParams.set('datetime', datetime);
  return u.toString().replace(/%7B/g, '{').replace(/%7D/g, '}');
}

/**
 * A TileLayer over one city layer.
 * @param {object} o
 * @param {object} o.layer       the layer entry of /api/city
 * @param {Function} o.prepare   features → data for the sublayers (called once per tile)
 * @param {Function} o.render    (props with data, tile) → deck layer(s)
 * @param {object} o.stats       counters the app reads (tiles loaded, features seen)
 */
export function vectorTileLayer({ id, layer, prepare, render, minZoom = 0, maxZoom = 16, zoomOffset = 0,
  onTileLoad, onViewportLoad, updateTriggers, extent, zRange, datetime = null, extensions = [] }) {
  const callbacks = {};
  if (onTileLoad) callbacks.onTileLoad = onTileLoad;
  if (onViewportLoad) callbacks.onViewportLoad = onViewportLoad;
  return new TileLayer({
    ...callbacks,
    id,
    data: tileTemplate(layer, datetime),
    // handed on to every tile's sublayers (swipe and section clipping)
    extensions,
    minZoom,
    maxZoom,
    extent,
    // below the layer's own minzoom nothing is asked for (deck would otherwise fetch minzoom tiles
    // over the whole extent — thousands for a big city)
    visibleMinZoom: minZoom > 0 ? minZoom - zoomOffset - 0.5 : undefined,
    zoomOffset,
    zRange: zRange || null,
    pickable: true,
    maxRequests: 6,
    refinementStrategy: 'no-overlap',
    updateTriggers: { renderSubLayers: updateTriggers },
    getTileData: async (tile) => {
      const res = await fetch(tile.url, { headers: authHeaders(), signal: tile.signal });
      // 404: no tile there, or (with datetime) no version of the layer yet at that time
      if (res.status === 204 || res.status === 404) return prepare([]);
      if (!res.ok) throw new Error(`tile ${tile.url}: ${res.status}`);
      const features = await decodeTile(await res.arrayBuffer(), tile.index);
      return prepare(features);
    },
    renderSubLayers: (props) => (props.data ? render(props) : null),
  });
}
