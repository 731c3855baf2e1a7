// Colours of the map: land use (GB 50137 conventions), pipe networks, sensor and alert states.

/** Land-use colours by the first letter of the GB 50137 code, with a few sub-codes of their own. */
export const LAND_USE_COLORS = {
  R: [250, 221, 106],
  R1: [255, 236, 139],
  R2: [250, 221, 106],
  R3: [232, 196, 76],
  A: [236, 120, 160],
  A3: [226, 110, 180],
  B: [232, 72, 72],
  B1: [232, 72, 72],
  M: [170, 120, 80],
  M1: [184, 140, 100],
  W: [150, 110, 170],
  S: [170, 170, 170],
  S4: [150, 150, 160],
  U: [70, 140, 200],
  U1: [70, 140, 200],
  G: [90, 180, 90],
  G1: [90, 180, 90],
  other: [200, 200, 200],
};

/** Colour of a parcel from its land-use code ('R2', 'B1', …); unknown codes fall back by first letter. */
export function landUseColor(code) {
  if (!code) return LAND_USE_COLORS.other;
  return LAND_USE_COLORS[code] || LAND_USE_COLORS[String(code)[0]] || LAND_USE_COLORS.other;
}

/** The i18n key naming a land-use code. */
export function landUseKey(code) {
  return `landuse.${code}`;
}

export const NETWORK_COLORS = {
  water: [40, 120, 255],
  gas: [255, 200, 0],
  power: [255, 70, 70],
  sewer: [140, 90, 40],
  storm: [0, 180, 200],
  heat: [255, 120, 0],
  telecom: [60, 200, 90],
  other: [200, 200, 200],
};

/** Colour of a pipe from its network ('water', 'gas', …). */
export function networkColor(network) {
  return NETWORK_COLORS[network] || NETWORK_COLORS.other;
}

export const STATUS_COLORS = {
  ok: [40, 200, 110],
  warn: [255, 180, 0],
  alarm: [240, 50, 50],
  stale: [140, 140, 140],
};

/** Colour of a sensor or an alert level ('ok' | 'warn' | 'alarm' | 'stale'). */
export function statusColor(status) {
  return STATUS_COLORS[status] || STATUS_COLORS.stale;
}

export const COLORS = {
  background: [18, 24, 33],
  block: [40, 48, 60],
  road: [92, 100, 115],
  green: [70, 150, 80],
  building: [175, 190, 210],
  violation: [255, 40, 40],
  worksite: [255, 140, 0],
  tunnel: [120, 200, 255],
  parking: [110, 120, 220],
  charger: [0, 200, 160],
  measure: [255, 255, 255],
  highlight: [255, 255, 0, 160],
};

/** '#rrggbb' of an [r, g, b] colour, for legend swatches. */
export function hex(rgb) {
  return '#' + rgb.slice(0, 3).map((v) => v.toString(16).padStart(2, '0')).join('');
}
