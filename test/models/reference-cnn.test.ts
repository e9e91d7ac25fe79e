// The reference CNN against PyTorch's nn.Sequential twin (test/fixtures/gen_nn.py).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad, zeros } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/index.js';
import { loadModule } from '../../src/io/index.js';
import { checkTensor } from '../helpers.js';
import { readFixture, runTorchPython, torchUnavailable } from '../fixtures.js';

const fx = readFixture('reference_cnn');
const dir = mkdtempSync(join(tmpdir(), 'carso-cnn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('output shape and state-dict keys/shapes equal the PyTorch nn.Sequential version', () => {
  const m = createModel('reference-cnn');
  assert.deepEqual(noGrad(() => m.call(zeros([3, 1, 28, 28]))).shape, [3, 10]);
  const keys = JSON.parse(fx.metadata['state_dict_keys']!) as string[];
  const shapes = JSON.parse(fx.metadata['state_dict_shapes']!) as Record<string, number[]>;
  assert.deepEqual([...m.stateDict().keys()], keys);
  for (const [k, t] of m.stateDict()) assert.deepEqual(t.shape, shapes[k], k);
  m.dispose();
});

/** A reference CNN made under `seed`, optionally loaded from `weights`, must give PyTorch's logits. */
function checkLogits(seed: number, weights?: string): void {
  manualSeed(seed);
  const m = createModel('reference-cnn').eval();
  if (weights !== undefined) loadModule(weights, m);
  checkTensor(
    noGrad(() => m.call(fx.get('x'))),
    fx.get('logits'),
    `logits (seed ${seed}, weights ${weights ?? 'none'})`,
    1e-5,
    1e-5,
  );
  m.dispose();
}

test("seed-0 init gives PyTorch's seed-0 logits (same RNG stream, same construction order)", () => {
  checkLogits(Number(fx.metadata['seed']));
});

test('weights written by PyTorch load and give the same logits within 1e-5', (t) => {
  const why = torchUnavailable();
  if (why !== null) return t.skip(why);
  const path = join(dir, 'reference-cnn.safetensors');
  runTorchPython('gen_nn.py', ['--reference-cnn-weights', path]);
  checkLogits(12345, path); // NOTE: a different init, so only the loaded weights can give the logits
});
