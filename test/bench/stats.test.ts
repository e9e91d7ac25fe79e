// The benchmarks' shared helpers: option parsing and the summary statistics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchOptions, median, summary } from '../../bench/stats.js';

test('benchOptions: numeric defaults, overrides, string options, and an error on a non-number', () => {
  const o = benchOptions({ rounds: 3, 'aa-iters': 5 }, { out: 'a.json', weights: undefined }, ['--aa-iters', '7']);
  assert.deepEqual(o, { rounds: 3, 'aa-iters': 7, out: 'a.json', weights: undefined });
  assert.equal(benchOptions({}, { weights: undefined }, ['--weights', 'w.safetensors']).weights, 'w.safetensors');
  assert.throws(() => benchOptions({ rounds: 3 }, {}, ['--rounds', 'many']), /--rounds must be a number, got 'many'/);
  assert.throws(() => benchOptions({ rounds: 3 }, {}, ['--round', '2']), /Unknown option '--round'/);
});

test('median and summary on hand-worked samples', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.deepEqual(summary([5, 1, 4, 2, 3]), { median: 3, min: 1, max: 5, iqr: 2 });
});
