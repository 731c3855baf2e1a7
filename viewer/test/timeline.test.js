import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialAsOf, sliderRange } from '../src/timeline.js';
import { setTimeZone, when } from '../src/ui/dom.js';

const NOW = Date.parse('2026-12-03T12:00:00Z');

test('history spans its own period and opens on its last reading', () => {
  const range = sliderRange({ first: '2017-01-31T16:00:00Z', last: '2017-02-28T15:00:00Z', live: false },
    [Date.parse('2026-11-30T00:00:00Z')], NOW);
  assert.deepEqual(range, { start: Date.parse('2017-01-31T16:00:00Z'), end: Date.parse('2017-02-28T15:00:00Z'), live: false });
  assert.equal(initialAsOf(range), '2017-02-28T15:00:00.000Z');
});

test('live data runs up to now and opens on now; without data a week back', () => {
  const live = sliderRange({ first: '2026-11-01T00:00:00Z', last: '2026-12-03T11:59:00Z', live: true }, [], NOW);
  assert.deepEqual(live, { start: Date.parse('2026-11-01T00:00:00Z'), end: null, live: true });
  assert.equal(initialAsOf(live), null);
  const empty = sliderRange(null, [], NOW);
  assert.equal(empty.live, true);
  assert.equal(empty.start, NOW - 7 * 24 * 3600 * 1000);
});

test('a single historic reading still gives the slider a day to span', () => {
  const one = sliderRange({ first: '2017-02-28T15:00:00Z', last: '2017-02-28T15:00:00Z', live: false }, [], NOW);
  assert.equal(one.end - one.start, 24 * 3600 * 1000);
});

test('times show on the city clock', () => {
  setTimeZone('Asia/Shanghai');
  assert.equal(when('2017-02-28T15:00:00Z'), '2017-02-28 23:00');
  setTimeZone('Europe/Amsterdam');
  assert.equal(when('2026-07-01T10:30:00Z'), '2026-07-01 12:30');
  setTimeZone('Not/AZone');
  assert.match(when('2026-07-01T10:30:00Z'), /^2026-07-01 \d\d:30$/);
});
