// The viewer's state, shared by its modules.

export const state = {
  city: null,
  mode: 'plan',
  below: false,
  asOf: null,
  toggles: {},
  seen: { landUses: new Set(), networks: new Set() },
  sensors: [],
  sensorVersion: 0,
  alerts: [],
  alertVersion: 0,
  selection: null,
  selectedSensor: null,
  tileZoom: {},
  zSeen: {},
  worksiteBoxes: [],
  basemap: '',
  viewState: null,
  loaded: new Set(),
};
