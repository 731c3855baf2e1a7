// Picking one element of a 3D Tiles model (a BIM tower): deck.gl picks the whole glb, so the
// viewer takes the 3D point under the cursor (depth buffer) and asks the layer's features around
// it for the element whose footprint and height range hold that point.
import { api } from './api.js';

// containers are chosen only when no element holds the point
const CONTAINERS = new Set(['Site', 'Building', 'Storey', 'BuildingStorey', 'Space', 'OpeningElement']);
const METRES_PER_DEGREE = 111320;

/** A bbox of `radius` metres around lon/lat. */
export function around([lon, lat], radius) {
  const dLat = radius / METRES_PER_DEGREE;
  const dLon = radius / (METRES_PER_DEGREE * Math.cos((lat * Math.PI) / 180));
  return [lon - dLon, lat - dLat, lon + dLon, lat + dLat];
}

function ringContains(ring, [x, y]) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function distanceToRing(ring, [x, y]) {
  let best = Infinity;
  for (let i = 1; i < ring.length; i++) {
    const [x1, y1] = ring[i - 1];
    const [x2, y2] = ring[i];
    const dx = x2 - x1;
    const dy = y2 - y1;
    const t = Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy || 1)));
    best = Math.min(best, Math.hypot(x1 + t * dx - x, y1 + t * dy - y));
  }
  return best;
}

function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

/** Horizontal distance (degrees) from the point to the feature's footprint; 0 inside. */
function footprintDistance(feature, point) {
  let best = Infinity;
  for (const poly of polygonsOf(feature.geometry)) {
    if (ringContains(poly[0], point)) return 0;
    best = Math.min(best, distanceToRing(poly[0], point));
  }
  return best;
}

/**
 * The feature of `features` (GeoJSON with z_min/z_max properties) that best holds `point`
 * [lon, lat, z]: an element before a container, nearest footprint, then the thinnest z range.
 */
export function chooseElement(features, point, tolerance = 0.3) {
  const z = point[2] ?? 0;
  const candidates = features
    .map((f) => {
      const p = f.properties || {};
      const lo = Number(p.z_min);
      const hi = Number(p.z_max);
      if (!Number.isFinite(lo) || !Number.isFinite(hi) || z < lo - tolerance || z > hi + tolerance) return null;
      return { f, container: CONTAINERS.has(p.class), d: footprintDistance(f, point), span: hi - lo };
    })
    .filter((c) => c && Number.isFinite(c.d));
  candidates.sort((a, b) => a.container - b.container || a.d - b.d || a.span - b.span);
  return candidates[0]?.f ?? null;
}

/** Id of the element of 3D layer `layerName` under the 3D point [lon, lat, z], or null. */
export async function elementAt(layerName, point) {
  const bbox = around(point, 1.5);
  const fc = await api.items(layerName, { bbox: bbox.join(','), limit: 500 });
  const hit = chooseElement(fc.features || [], point);
  return hit ? String(hit.id) : null;
}
