// The batch outcome a rank sends the others (src/dist/cascade.ts): every field
// comes back as it was sent, so every rank applies the same outcome. The per-point
// distances moved travel exactly, NaN and Inf included (JSON alone would turn them
// into null, which means "not attacked").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOutcome, encodeOutcome } from '../../src/dist/cascade.js';
import type { BatchOutcome } from '../../src/eval/autoattack.js';
import { tensor } from '../../src/tensor/index.js';

test('an outcome round-trips: labels, flags, distances moved (NaN, Inf, null), stop reasons, queries, examples', () => {
  const broken = tensor([0.25, 0.5, 0.75, 1], [1, 1, 2, 2]);
  const sent: BatchOutcome = {
    pred: [3, 1, 0, 2],
    valid: [true, true, false, true],
    nanGrad: [false, true, true, false],
    moved: [0.1 + 0.2, NaN, null, Infinity],
    stopped: [null, 'non-finite-gradients', 'non-finite-gradients', null],
    queries: 41,
    broken,
  };
  const got = decodeOutcome(encodeOutcome(sent), 'test')!;
  assert.deepEqual({ ...got, broken: null }, { ...sent, broken: null });
  assert.deepEqual(got.broken!.shape, [1, 1, 2, 2]);
  assert.deepEqual(got.broken!.toArray(), broken.toArray());
  assert.equal(decodeOutcome(encodeOutcome(null), 'test'), null);
  assert.equal(decodeOutcome(encodeOutcome({ ...sent, broken: null }), 'test')!.broken, null);
});
