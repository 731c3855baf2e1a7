// The five modes — 规划 plan · 建设 build · 管理 manage · 运行 operate · 服 serve — each a preset of layers,
// legend and KPI cards (the cards come from /api/kpis?mode=).
import { COLORS, NETWORK_COLORS, STATUS_COLORS, landUseColor, landUseKey } from './palette.js';
import { populationLegend } from './people.js';

export const MODES = ['plan', 'build', 'manage', 'operate', 'serve'];

/** Layer roles shown when a mode opens (the user may toggle any of them afterwards). */
export const MODE_ROLES = {
  // parcels cover the blocks and the green in plan mode: drawing those too would only cost requests
  plan: ['roads', 'parcels', 'buildings', 'generic'],
  build: ['blocks', 'green', 'roads', 'parcels', 'buildings', 'bim', 'sensors'],
  manage: ['blocks', 'green', 'roads', 'buildings', 'pipes', 'tunnel', 'parking', 'generic', 'sensors'],
  operate: ['blocks', 'green', 'roads', 'buildings', 'sensors', 'alerts'],
  // 服: population and housing per grid cell over the buildings (people.js)
  serve: ['roads', 'buildings', 'population'],
};

/** Camera pitch per mode: 3D massing and BIM want a tilted view. */
export const MODE_PITCH = { plan: 45, build: 50, manage: 40, operate: 35, serve: 0 };

/** Sensors a mode shows: build shows the worksite's (dust, noise, crane …), the others all. */
export function sensorFilter(mode, worksiteBoxes) {
  if (mode !== 'build') return () => true;
  const site = /dust|pm10|pm2|noise|crane|wind|tilt|load|扬尘|噪声|塔吊/i;
  return (s) => site.test(`${s.property} ${s.name}`) || worksiteBoxes.some((b) => inside(b, s.lon, s.lat));
}

function inside([w, s, e, n], lon, lat) {
  return lon >= w && lon <= e && lat >= s && lat <= n;
}

/**
 * Legend rows of a mode: [{color, key | text}] — only for what the city has: its layers' roles,
 * what the loaded tiles showed (land uses, pipe networks, chargers), the engine's rule failures,
 * its worksites and sensors. A city without parking never sees a parking row.
 */
export function legendFor(mode, seen, { hasBim = false, roles = new Set(), failures = 0, sensors = 0,
  worksites = 0 } = {}) {
  const when = (cond, row) => (cond ? [row] : []);
  const status = sensors ? statusRows() : [];
  if (mode === 'plan') {
    const codes = [...(seen.landUses || [])].sort();
    return [
      ...codes.map((code) => ({ color: landUseColor(code), key: landUseKey(code), fallback: code })),
      ...when(failures > 0, { color: COLORS.violation, key: 'legend.violation' }),
      ...when(roles.has('buildings'), { color: COLORS.building, key: 'legend.building' }),
      ...when(roles.has('roads'), { color: COLORS.road, key: 'legend.road' }),
      ...when(roles.has('green'), { color: COLORS.green, key: 'legend.green' }),
    ];
  }
  if (mode === 'build') {
    return [
      ...when(worksites > 0, { color: COLORS.worksite, key: 'legend.worksite' }),
      ...when(hasBim, { color: [200, 200, 220], key: 'legend.bim' }),
      ...status,
    ];
  }
  if (mode === 'manage') {
    const networks = [...(seen.networks || [])].sort();
    return [
      ...networks.map((n) => ({ color: NETWORK_COLORS[n] || NETWORK_COLORS.other, key: `network.${n}`, fallback: n })),
      ...when(roles.has('tunnel'), { color: COLORS.tunnel, key: 'legend.tunnel' }),
      ...when(roles.has('parking'), { color: COLORS.parking, key: 'legend.parking' }),
      ...when(seen.flags?.has('chargers'), { color: COLORS.charger, key: 'legend.chargers' }),
      ...when(roles.has('roads'), { color: COLORS.road, key: 'legend.road' }),
    ];
  }
  if (mode === 'serve') return populationLegend();
  return sensors ? [...status, { color: STATUS_COLORS.alarm, key: 'legend.alert', ring: true }] : [];
}

function statusRows() {
  return ['ok', 'warn', 'alarm', 'stale'].map((s) => ({ color: STATUS_COLORS[s], key: `status.${s}`, dot: true }));
}
