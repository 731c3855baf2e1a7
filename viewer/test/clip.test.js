import assert from 'node:assert/strict';
import { test } from 'node:test';
import { horizontalPlane, verticalPlane } from '../src/clip.js';

test('a horizontal section cuts what is above its elevation', () => {
  assert.deepEqual(horizontalPlane(120, 36, 12.5), { point: [120, 36, 12.5], normal: [0, 0, 1] });
});

test('a vertical section faces the camera and moves away from it with a positive offset', () => {
  // bearing 0: the camera looks north from the south, so the cut side (the normal) points south
  const north = verticalPlane(120, 36, 0, 100);
  assert.ok(Math.abs(north.normal[0]) < 1e-12 && north.normal[1] === -1 && north.normal[2] === 0);
  assert.ok(Math.abs((north.point[1] - 36) * 111320 - 100) < 1e-6, 'the plane is 100 m north of the centre');
  // bearing 90: looking east, the cut side points west
  const east = verticalPlane(120, 36, 90, 0);
  assert.ok(Math.abs(east.normal[0] + 1) < 1e-12 && Math.abs(east.normal[1]) < 1e-12);
  assert.deepEqual(east.point.slice(0, 2), [120, 36]);
});
