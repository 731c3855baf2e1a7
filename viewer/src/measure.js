// Geodesic measuring on the WGS84 ellipsoid (Karney's algorithms via geographiclib): path length
// in metres and polygon area in square metres, from [lon, lat] points picked on the map.
import geographiclib from 'geographiclib-geodesic';

const WGS84 = geographiclib.Geodesic.WGS84;

/** Length in metres of the path through `points` ([[lon, lat], …]); 0 for fewer than two points. */
export function pathLength(points) {
  let total = 0;
  for (let i = 1; i < points.length; i++) {
    const [lon1, lat1] = points[i - 1];
    const [lon2, lat2] = points[i];
    total += WGS84.Inverse(lat1, lon1, lat2, lon2).s12;
  }
  return total;
}

/** Area in m² of the polygon whose ring is `points` (open or closed); 0 for fewer than three points. */
export function polygonArea(points) {
  const ring = isClosed(points) ? points.slice(0, -1) : points;
  if (ring.length < 3) return 0;
  const poly = WGS84.Polygon(false);
  for (const [lon, lat] of ring) poly.AddPoint(lat, lon);
  return Math.abs(poly.Compute(false, true).area);
}

function isClosed(points) {
  if (points.length < 2) return false;
  const a = points[0];
  const b = points[points.length - 1];
  return a[0] === b[0] && a[1] === b[1];
}

/** '1 234.5 m' or '12.35 km' for a length in metres. */
export function formatLength(metres) {
  if (metres >= 10000) return `${(metres / 1000).toFixed(2)} km`;
  return `${metres.toFixed(1)} m`;
}

/** '5 320 m²' or '1.25 km²' for an area in square metres. */
export function formatArea(squareMetres) {
  if (squareMetres >= 1e6) return `${(squareMetres / 1e6).toFixed(3)} km²`;
  return `${Math.round(squareMetres).toLocaleString('en-US')} m²`;
}

/**
 * Height measurement between two picked points [lon, lat, z] (z in metres above the city's datum,
 * 0 on the ground): the difference in elevation (second minus first), the horizontal (geodesic)
 * distance and the slope in degrees; null for fewer than two points.
 */
export function heightDifference(points) {
  if (points.length < 2) return null;
  const [a, b] = points.slice(-2);
  const dz = (b[2] || 0) - (a[2] || 0);
  const horizontal = pathLength([a, b]);
  const slope = horizontal > 0 ? (Math.atan2(Math.abs(dz), horizontal) * 180) / Math.PI : 90;
  return { dz, horizontal, slope, from: a[2] || 0, to: b[2] || 0 };
}

/** '+23.4 m' / '-3.0 m' for a signed height difference in metres. */
export function formatHeight(metres) {
  return `${metres >= 0 ? '+' : '−'}${Math.abs(metres).toFixed(1)} m`;
}
