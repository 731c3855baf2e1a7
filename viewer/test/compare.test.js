import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffBound, layerFilter, parseSide, sideTime, sideValue } from '../src/compare.js';

test('a side picker value reads back to the same side', () => {
  for (const value of ['now', 'v:2:2026-12-04T03:10:00+00:00', 't:2026-12-01T00:00:00.000Z', 'p:tower-a']) {
    assert.equal(sideValue(parseSide(value)), value);
  }
  assert.deepEqual(parseSide(''), { kind: 'now' });
});

test('versions diff by number, times by time, and both draw tiles of their time', () => {
  const v = parseSide('v:2:2026-12-04T03:10:00+00:00');
  assert.equal(diffBound(v), '2');
  assert.equal(sideTime(v), '2026-12-04T03:10:00+00:00');
  const t = parseSide('t:2026-12-01T00:00:00.000Z');
  assert.equal(diffBound(t), '2026-12-01T00:00:00.000Z');
  assert.equal(sideTime(parseSide('now')), null);
  assert.equal(sideTime(parseSide('p:tower-a')), null); // a proposal stands on the current city
  assert.equal(diffBound(parseSide('p:tower-a')), null);
});

test('side by side, a layer of side A is drawn in view a only; shared layers in both', () => {
  const a = { id: 'a' };
  const b = { id: 'b' };
  assert.equal(layerFilter({ layer: { id: 'city-buildings@a' }, viewport: a }), true);
  assert.equal(layerFilter({ layer: { id: 'city-buildings@a' }, viewport: b }), false);
  assert.equal(layerFilter({ layer: { id: '3d-tower@b' }, viewport: b }), true);
  assert.equal(layerFilter({ layer: { id: 'compare-diff' }, viewport: a }), true);
  assert.equal(layerFilter({ layer: { id: 'compare-diff' }, viewport: b }), true);
});
