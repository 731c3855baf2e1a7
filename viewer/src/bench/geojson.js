// Bench peer: every feature of the chosen layers fetched as GeoJSON (OGC API Features pages) and
// drawn by deck.gl — the approach the viewer avoids. Reports window.bench = {firstRenderMs, bytes, features}.
import { Deck, MapView, WebMercatorViewport } from '@deck.gl/core';
import { GeoJsonLayer } from '@deck.gl/layers';

const params = new URLSearchParams(window.location.search);
const layers = (params.get('layers') || 'parcels,buildings').split(',');
const pageSize = Number(params.get('page') || 10000);
const headers = params.get('key') ? { 'X-API-Key': params.get('key') } : {};
window.bench = { firstRenderMs: null, bytes: 0, features: 0, error: null };

async function fetchAll(layer) {
  const features = [];
  let next = `/collections/${layer}/items?limit=${pageSize}`;
  while (next) {
    const res = await fetch(next, { headers });
    if (!res.ok) throw new Error(`${next}: ${res.status}`);
    const text = await res.text();
    window.bench.bytes += text.length;
    const fc = JSON.parse(text);
    features.push(...fc.features);
    next = (fc.links || []).find((l) => l.rel === 'next')?.href || null;
  }
  window.bench.features += features.length;
  return { type: 'FeatureCollection', features };
}

async function start() {
  const city = await (await fetch('/api/city', { headers })).json();
  const el = document.getElementById('map');
  const [w, s, e, n] = city.bbox;
  const fit = new WebMercatorViewport({ width: el.clientWidth, height: el.clientHeight })
    .fitBounds([[w, s], [e, n]], { padding: 40 });
  const data = await Promise.all(layers.map(fetchAll));
  let drawn = false;
  new Deck({
    parent: el,
    views: new MapView({ repeat: false }),
    initialViewState: { ...fit, pitch: 45, bearing: -12 },
    controller: true,
    layers: data.map((fc, i) => new GeoJsonLayer({
      id: layers[i], data: fc, extruded: layers[i] === 'buildings',
      getElevation: (f) => f.properties.height || 3, getFillColor: [175, 190, 210, 235],
    })),
    onAfterRender: () => {
      if (!drawn) {
        drawn = true;
        window.bench.firstRenderMs = performance.now();
      }
    },
  });
}

start().catch((err) => {
  window.bench.error = String(err);
});
