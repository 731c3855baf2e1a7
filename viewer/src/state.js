// The viewer's state, shared by its modules.

export const state = {
  city: null,
  mode: 'plan',
  below: false,
  asOf: null,
  // the time the map layers show (vector tiles and 3D Tiles with datetime=); null: the current city
  mapTime: null,
  // compare mode: two versions, two times or two proposals, by swipe (卷帘) or side by side (分屏)
  compare: { on: false, view: 'swipe', layer: null, a: { kind: 'now' }, b: { kind: 'now' }, diff: null,
    proposals: { a: null, b: null }, message: '' },
  // section plane (剖切): null, or {kind: 'horizontal' | 'vertical', value: metres}
  section: null,
  annotations: [],
  annotationRole: null,
  annotating: null,
  layerStart: {},
  toggles: {},
  seen: { landUses: new Set(), networks: new Set(), flags: new Set() },
  sensors: [],
  sensorVersion: 0,
  alerts: [],
  alertVersion: 0,
  selection: null,
  selectedSensor: null,
  tileZoom: {},
  zSeen: {},
  worksiteBoxes: [],
  failures: new Set(), // ids of buildings the compliance engine found breaking a rule (/api/compliance)
  basemap: '',
  viewState: null,
  loaded: new Set(),
  population: null, // 服 mode: /api/people/population?by=grid (GeoJSON, counts below k are null)
};
