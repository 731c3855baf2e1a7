// 服 (public service) mode: population and housing per grid cell (k-anonymous counts from
// /api/people/population), occupancy cards, and the unit list of a picked building as the role may see it.
import { GeoJsonLayer } from '@deck.gl/layers';
import { getJSON, getOptional } from './api.js';
import { t } from './i18n.js';
import { h } from './ui/dom.js';

/** Grid cell width (metres) of the density layer. */
export const CELL_M = 200;

/** Residents per cell → colour: light to dark red; a suppressed cell (fewer than k people) is grey. */
export const DENSITY_STEPS = [
  [0, [254, 229, 217, 150]],
  [20, [252, 174, 145, 170]],
  [80, [251, 106, 74, 180]],
  [200, [222, 45, 38, 190]],
  [500, [165, 15, 21, 200]],
];
export const SUPPRESSED = [160, 160, 160, 90];

export function densityColor(residents) {
  if (residents === null || residents === undefined) return SUPPRESSED;
  let color = DENSITY_STEPS[0][1];
  for (const [from, c] of DENSITY_STEPS) if (residents >= from) color = c;
  return color;
}

/** Legend rows of 服 mode. */
export function populationLegend() {
  return [
    ...DENSITY_STEPS.map(([from, color]) => ({ color, key: `legend.population.${from}`, fallback: `≥ ${from}` })),
    { color: SUPPRESSED, key: 'legend.suppressed' },
  ];
}

/** Population per grid cell as GeoJSON (null when the server has no people data). */
export function fetchPopulation() {
  return getOptional('/api/people/population', { by: 'grid', cell: CELL_M }, null);
}

/** The density layer: one translucent polygon per grid cell under the buildings, which stay pickable
 * (the counts are in the cards and the legend). */
export function populationLayer(collection, { visible = true } = {}) {
  if (!collection?.features?.length) return null;
  return new GeoJsonLayer({
    id: 'population',
    data: collection,
    visible,
    pickable: false,
    stroked: true,
    filled: true,
    getFillColor: (f) => densityColor(f.properties.residents),
    getLineColor: [255, 255, 255, 120],
    lineWidthMinPixels: 0.5,
  });
}

/** Cards of 服 mode from the published counts (suppressed cells are not added in). */
export function populationKpis(collection) {
  const rows = (collection?.features || []).map((f) => f.properties);
  const residents = rows.reduce((s, r) => s + (r.residents || 0), 0);
  const units = rows.reduce((s, r) => s + (r.units || 0), 0);
  const occupied = rows.reduce((s, r) => s + (r.occupied_units || 0), 0);
  const suppressed = rows.filter((r) => r.residents === null).length;
  return [
    { key: 'residents', label_zh: '常住人口', label_en: 'Residents', value: residents },
    { key: 'units', label_zh: '住房套数', label_en: 'Housing units', value: units },
    { key: 'occupancy', label_zh: '入住率', label_en: 'Occupancy', value: units ? Math.round((100 * occupied) / units) : null,
      unit: '%' },
    { key: 'suppressed', label_zh: '不足k人格网', label_en: `Cells below k (${collection?.k ?? 5})`, value: suppressed },
  ];
}

/** The unit list of a building (masked per role), as a panel section; null when there is none. */
export async function unitsSection(buildingId) {
  let data;
  try {
    data = await getJSON(`/api/people/buildings/${encodeURIComponent(buildingId)}/units`);
  } catch {
    return null;
  }
  if (!data.units?.length) return null;
  const fields = ['unit_number', 'floor', 'area', 'use', 'tenure'];
  const row = (u) => h('tr', {}, ...fields.map((f) => h('td', {}, u[f] ?? '')),
    h('td', {}, u.residents ? u.residents.map((r) => r.name).join('、') : ''));
  const list = data.residents?.length
    ? h('div', { class: 'muted' }, `${t('people.residents')}: ${data.residents.map((r) => `${r.name ?? ''} ${r.id_number ?? ''}`).join('；')}`)
    : null;
  return h('section', { class: 'units', dataset: { building: buildingId } },
    h('h3', {}, `${t('people.units')} (${data.units.length})`),
    h('table', { class: 'units-table' },
      h('tr', {}, ...fields.map((f) => h('th', {}, t(`people.${f}`, f))), h('th', {}, t('people.residents'))),
      ...data.units.map(row)),
    list);
}
