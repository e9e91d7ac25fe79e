// A short version of bench/memory (the 10,000-step figure is in the bench):
// training steps leak neither native tensors nor resident memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryTrace } from '../../bench/memory.js';

test('800 training steps keep RSS within 64 MB of step 100 and leak no tensors', { timeout: 300_000 }, () => {
  const r = memoryTrace(800, 100);
  assert.equal(r.liveTensorsEnd, r.liveTensorsAfter100, 'live native tensors grew');
  assert.ok(r.maxGrowthMB <= 64, `RSS grew by ${r.maxGrowthMB.toFixed(1)} MB after step 100`);
});
