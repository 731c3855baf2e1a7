// The viewer's state, shared by its modules.

export const state = {
  city: null,
  mode: 'plan',
  below: false,
  asOf: null,
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
