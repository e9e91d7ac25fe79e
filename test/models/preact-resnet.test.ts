// PreActResNet-18 against the PyTorch definition in test/fixtures/gen_preact.py:
// state-dict keys/shapes/order, parameter count, conv hook order, and the logits of
// the seed-0 model (weights drawn from the same libtorch RNG stream, not stored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, noGrad } from '../../src/tensor/index.js';
import { BatchNorm2d, Conv2d, uniform_ } from '../../src/nn/index.js';
import { readSafetensors } from '../../src/io/index.js';
import { CIFAR10_NORM, PreActResNet18 } from '../../src/models/index.js';
import { checkTensor } from '../helpers.js';
import { FIXTURES } from '../fixtures.js';

const MODELS = join(FIXTURES, 'models');
const REF = JSON.parse(readFileSync(join(MODELS, 'preact-resnet18.json'), 'utf8')) as {
  params: number;
  state_dict: Record<string, number[]>;
  conv_hook_order: string[];
};

test('state-dict keys, shapes and order, and the parameter count, equal PyTorch', () => {
  const m = new PreActResNet18();
  assert.deepEqual(Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, t.shape])), REF.state_dict);
  assert.deepEqual([...m.stateDict().keys()], Object.keys(REF.state_dict));
  assert.equal(REF.params, 11_172_170);
  assert.equal(
    m.parameters().reduce((n, p) => n + p.numel, 0),
    REF.params,
  );
  m.dispose();
});

test("seed-0 model gives PyTorch's eval and train logits within 1e-4; conv hooks fire in PyTorch's order", (t) => {
  // gen_preact.py: seed 0, construct, then per BatchNorm (module order) U draws, then linear.weight ~ U(-1, 1)
  manualSeed(0);
  const m = new PreActResNet18({ normalization: CIFAR10_NORM });
  noGrad(() => {
    for (const [, mod] of m.namedModules()) {
      if (!(mod instanceof BatchNorm2d)) continue;
      const sd = mod.stateDict();
      uniform_(sd.get('weight')!, 0.5, 1.5);
      uniform_(sd.get('bias')!, -0.2, 0.2);
      uniform_(sd.get('running_mean')!, -0.2, 0.2);
      uniform_(sd.get('running_var')!, 0.5, 2.0);
    }
    uniform_(m.linear.weight, -1, 1);
  });
  const fired: string[] = [];
  for (const [n, mod] of m.namedModules()) if (mod instanceof Conv2d) mod.registerForwardHook(() => void fired.push(n));
  const io = readSafetensors(join(MODELS, 'preact-resnet18.io.safetensors')).tensors;
  const x = io.get('input')!;
  for (const mode of ['eval', 'train'] as const) {
    const logits = noGrad(() => m.train(mode === 'train').call(x));
    const expected = io.get(`logits_${mode}`)!;
    checkTensor(logits, expected, `${mode} logits`, 1e-4, 0);
    t.diagnostic(`${mode}: max |logit - PyTorch| = ${noGrad(() => logits.sub(expected).abs().max().item()).toExponential(2)}`);
  }
  assert.deepEqual(fired, [...REF.conv_hook_order, ...REF.conv_hook_order]);
  m.dispose();
});

test('options are checked; no normalisation unless asked (as the PyTorch original)', () => {
  assert.throws(() => new PreActResNet18({ classes: 0 }), /classes must be a positive integer/);
  assert.throws(() => new PreActResNet18({ normalization: { mean: [0], std: [1] } }), /needs 3 means and stds/);
  const m = new PreActResNet18({ classes: 100 });
  assert.equal(m.normalization, null);
  assert.deepEqual(m.linear.weight.shape, [100, 512]);
  m.dispose();
});
