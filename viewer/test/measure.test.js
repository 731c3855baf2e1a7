import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatArea, formatLength, pathLength, polygonArea } from '../src/measure.js';

test('one degree of longitude on the equator is a*pi/180 on WGS84', () => {
  assert.ok(Math.abs(pathLength([[0, 0], [1, 0]]) - 111319.4908) < 0.01);
});

test('a path adds its legs and needs two points', () => {
  assert.equal(pathLength([[120, 36]]), 0);
  const a = pathLength([[120, 36], [120.01, 36]]);
  const b = pathLength([[120.01, 36], [120.01, 36.01]]);
  assert.ok(Math.abs(pathLength([[120, 36], [120.01, 36], [120.01, 36.01]]) - (a + b)) < 1e-6);
});

test('a one-degree cell on the equator has about 12 308.8 km²', () => {
  const area = polygonArea([[0, 0], [1, 0], [1, 1], [0, 1]]);
  assert.ok(Math.abs(area / 1e6 - 12308.8) < 1, `got ${area / 1e6}`);
});

test('area ignores ring direction and a closing point, and needs three points', () => {
  const ring = [[120, 36], [120.01, 36], [120.01, 36.01], [120, 36.01]];
  const cw = [...ring].reverse();
  assert.ok(Math.abs(polygonArea(ring) - polygonArea(cw)) < 1e-6);
  assert.ok(Math.abs(polygonArea([...ring, ring[0]]) - polygonArea(ring)) < 1e-6);
  assert.equal(polygonArea(ring.slice(0, 2)), 0);
});

test('lengths and areas are shown in m / km and m² / km²', () => {
  assert.equal(formatLength(123.45), '123.5 m');
  assert.equal(formatLength(12345), '12.35 km');
  assert.equal(formatArea(5320.4), '5,320 m²');
  assert.equal(formatArea(1250000), '1.250 km²');
});
