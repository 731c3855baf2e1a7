import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyAlert, applyAlertToSensor, applyObservation, parseEvents } from '../src/live.js';
import { legendFor, sensorFilter } from '../src/modes.js';
import { landUseColor } from '../src/palette.js';

test('a live observation updates its sensor, never with an older value', () => {
  const sensors = [{ datastream_id: 7, value: 1, time: '2026-01-01T00:00:10Z', status: 'ok' }];
  assert.equal(applyObservation(sensors, { datastream_id: 8, value: 5 }), null);
  assert.equal(applyObservation(sensors, { datastream_id: 7, value: 0, time: '2026-01-01T00:00:05Z' }), null);
  const s = applyObservation(sensors, { datastream_id: '7', value: 99, time: '2026-01-01T00:00:20Z', status: 'alarm' });
  assert.deepEqual([s.value, s.status], [99, 'alarm']);
});

test('an open alert joins the list once, stays when acknowledged and leaves when closed', () => {
  let alerts = applyAlert([], { id: 1, state: 'open' });
  alerts = applyAlert(alerts, { id: 1, state: 'open', level: 'alarm' });
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].level, 'alarm');
  alerts = applyAlert(alerts, { id: 1, state: 'acknowledged', level: 'alarm' });
  assert.equal(alerts[0].state, 'acknowledged');
  assert.deepEqual(applyAlert(alerts, { id: 1, state: 'closed' }), []);
});

test('the plan legend names the land uses the tiles showed, and unknown codes fall back by letter', () => {
  const rows = legendFor('plan', { landUses: new Set(['R2', 'B1']) });
  assert.deepEqual(rows.slice(0, 2).map((r) => r.key), ['landuse.B1', 'landuse.R2']);
  assert.deepEqual(landUseColor('R9'), landUseColor('R'));
});

test('build mode keeps worksite sensors only', () => {
  const keep = sensorFilter('build', [[120, 36, 120.01, 36.01]]);
  assert.ok(keep({ property: 'pm10', name: 'x', lon: 0, lat: 0 }));
  assert.ok(keep({ property: 'temperature', name: 'x', lon: 120.005, lat: 36.005 }));
  assert.ok(!keep({ property: 'water_level', name: 'x', lon: 121, lat: 36 }));
  assert.ok(sensorFilter('operate', [])({ property: 'water_level' }));
});

test('an open alert raises its sensor to the alert level, never lowers it', () => {
  const sensors = [{ datastream_id: 3, status: 'ok' }];
  assert.equal(applyAlertToSensor(sensors, { datastream_id: 3, level: 'warn', state: 'open' }).status, 'warn');
  assert.equal(applyAlertToSensor(sensors, { datastream_id: 3, level: 'alarm', state: 'open' }).status, 'alarm');
  assert.equal(applyAlertToSensor(sensors, { datastream_id: 3, level: 'warn', state: 'open' }), null);
  assert.equal(applyAlertToSensor(sensors, { datastream_id: 3, level: 'alarm', state: 'closed' }), null);
  assert.equal(sensors[0].status, 'alarm');
});

test('server-sent events split into messages, keeping an unfinished one for the next chunk', () => {
  const text = 'retry: 3000\n: connected\n\nevent: observation\ndata: {"v": 1}\n\nevent: alert\r\ndata: {"id"';
  const { messages, rest } = parseEvents(text);
  assert.deepEqual(messages, [{ retry: 3000 }, { event: 'observation', data: '{"v": 1}' }]);
  const next = parseEvents(`${rest}: 2}\n\n: keep-alive\n\n`);
  assert.deepEqual(next.messages, [{ event: 'alert', data: '{"id": 2}' }]);
  assert.equal(next.rest, '');
});

test('a legend names only what the city has: no parking, tunnel or sensor rows for a city without them', () => {
  const bare = { landUses: new Set(), networks: new Set(), flags: new Set() };
  assert.deepEqual(legendFor('manage', bare, { roles: new Set(['roads', 'buildings']) }).map((r) => r.key),
    ['legend.road']);
  assert.deepEqual(legendFor('operate', bare, { sensors: 0 }), []);
  assert.deepEqual(legendFor('build', bare, {}), []);
  const plan = legendFor('plan', bare, { roles: new Set(['buildings']), failures: 0 }).map((r) => r.key);
  assert.deepEqual(plan, ['legend.building']);
});

test('the plan legend shows rule failures only when the engine found some', () => {
  const seen = { landUses: new Set(), networks: new Set(), flags: new Set() };
  const keys = legendFor('plan', seen, { roles: new Set(['buildings']), failures: 3 }).map((r) => r.key);
  assert.deepEqual(keys, ['legend.violation', 'legend.building']);
  const manage = legendFor('manage', { ...seen, flags: new Set(['chargers']) },
    { roles: new Set(['parking', 'tunnel']) }).map((r) => r.key);
  assert.deepEqual(manage, ['legend.tunnel', 'legend.parking', 'legend.chargers']);
});
