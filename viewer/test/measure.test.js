import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatArea, formatHeight, formatLength, heightDifference, pathLength, polygonArea } from '../src/measure.js';

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

test('a height difference is the second elevation minus the first, with the horizontal distance and slope', () => {
  assert.equal(heightDifference([[120, 36, 5]]), null);
  const d = heightDifference([[120, 36, 0], [120.001, 36, 30]]);
  assert.equal(d.dz, 30);
  assert.ok(Math.abs(d.horizontal - pathLength([[120, 36], [120.001, 36]])) < 1e-9);
  assert.ok(Math.abs(d.slope - (Math.atan2(30, d.horizontal) * 180) / Math.PI) < 1e-9);
  assert.equal(heightDifference([[120, 36, 40], [120, 36, 10]]).dz, -30);
  assert.equal(heightDifference([[120, 36, 40], [120, 36, 10]]).slope, 90);
  assert.equal(formatHeight(-3), '−3.0 m');
  assert.equal(formatHeight(23.44), '+23.4 m');
});
