// 3D Tiles (BIM models, massing) — loaded on demand: loaders.gl's 3D Tiles stack is large and
// only the build mode (or a user's toggle) needs it.
import { Tile3DLayer } from '@deck.gl/geo-layers';
import { Tiles3DLoader } from '@loaders.gl/3d-tiles';
import { authHeaders, url } from './api.js';

/** Tile3DLayer over a layer's 3D Tiles 1.1 tileset (BIM models, LOD1 massing). */
export function tilesetLayer(layer, { visible = true, opacity = 1, onLoad, suffix = '', datetime = null,
  extensions = [] } = {}) {
  return new Tile3DLayer({
    id: `3d-${layer.name}${suffix}`,
    data: url(layer.tileset3d, { datetime }),
    extensions,
    loader: Tiles3DLoader,
    // loaders must never reach out for workers or decoders: everything runs in the page
    loadOptions: { worker: false, fetch: { headers: authHeaders() }, tileset: { throttleRequests: true } },
    pickable: true,
    visible,
    opacity,
    onTilesetLoad: (tileset) => onLoad?.(layer, tileset),
    _subLayerProps: { scenegraph: { _lighting: 'pbr' } },
  });
}
