import assert from 'node:assert/strict';
import { test } from 'node:test';
import { around, chooseElement } from '../src/bimpick.js';

const square = (x0, y0, s) => ({ type: 'Polygon', coordinates: [[[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s], [x0, y0]]] });
const f = (id, cls, zMin, zMax, geometry) => ({ id, geometry, properties: { class: cls, z_min: zMin, z_max: zMax } });

const storey = f('storey-2', 'Storey', 3.6, 7.2, square(0, 0, 10));
const wall = f('wall-2', 'Wall', 3.8, 7.2, square(0, 0, 0.3));
const windowEl = f('window-2', 'Window', 4.7, 6.2, square(0, 0, 0.3));
const wallBelow = f('wall-1', 'Wall', 0.2, 3.6, square(0, 0, 0.3));

test('the element holding the point wins over its storey, and the thinnest over the wall', () => {
  assert.equal(chooseElement([storey, wall, windowEl, wallBelow], [0.1, 0.1, 5]).id, 'window-2');
  assert.equal(chooseElement([storey, wall, wallBelow], [0.1, 0.1, 7]).id, 'wall-2');
  assert.equal(chooseElement([storey, wall, wallBelow], [0.1, 0.1, 2]).id, 'wall-1');
});

test('an element near the point wins over the storey; alone the storey is chosen; outside every z range nothing', () => {
  assert.equal(chooseElement([storey, wall], [5, 5, 5]).id, 'wall-2');
  assert.equal(chooseElement([storey], [5, 5, 5]).id, 'storey-2');
  assert.equal(chooseElement([storey, wall], [5, 5, 50]), null);
});

test('around() gives a box of about the radius in metres', () => {
  const [w, s, e, n] = around([120, 36], 10);
  assert.ok(Math.abs((n - s) * 111320 - 20) < 0.01);
  assert.ok(Math.abs((e - w) * 111320 * Math.cos((36 * Math.PI) / 180) - 20) < 0.01);
});
