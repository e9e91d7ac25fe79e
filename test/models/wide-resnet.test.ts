// The WideResNet against PyTorch (test/fixtures/gen_wrn.py): eval-mode logits of
// weights written by PyTorch, seeded init, state-dict keys/shapes of WRN-28-10 and
// the CARSO taps (carso.md section 2.1) with their hook order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dispose, manualSeed, noGrad, type Tensor } from '../../src/tensor/index.js';
import { Conv2d, type Module } from '../../src/nn/index.js';
import { loadModule, readSafetensors } from '../../src/io/index.js';
import { CIFAR10_NORM, TINY_IMAGENET_NORM, WideResNet, wrnTapNames, type WideResNetOptions } from '../../src/models/index.js';
import { checkDraws, checkTensor } from '../helpers.js';
import { FIXTURES } from '../fixtures.js';

const MODELS = join(FIXTURES, 'models');

interface Structure {
  params: number;
  state_dict: Record<string, number[]>;
  conv_hook_order: string[];
}
const STRUCTURE = JSON.parse(readFileSync(join(MODELS, 'wrn-structure.json'), 'utf8')) as Record<string, Structure>;

// name: the fixture's constructor options (as gen_wrn.py's make() calls)
const CASES: Record<string, WideResNetOptions> = {
  'wrn-16-2-cifar10': { depth: 16, width: 2, classes: 10, normalization: CIFAR10_NORM },
  'wrn-10-2-tiny': { depth: 10, width: 2, classes: 200, normalization: TINY_IMAGENET_NORM, autopool: true },
};

const maxAbsDiff = (a: Tensor, b: Tensor): number => noGrad(() => a.sub(b).abs().max().item());

/** The fixture's model with PyTorch's weights loaded strictly, in eval mode. */
function loaded(name: string): WideResNet {
  const m = new WideResNet(CASES[name]);
  loadModule(join(MODELS, `${name}.weights.safetensors`), m); // NOTE: strict: every key used, none extra
  return m.eval();
}

for (const name of Object.keys(CASES)) {
  test(`${name}: PyTorch's weights load strictly and give its eval logits within 1e-4`, (t) => {
    const weights = readSafetensors(join(MODELS, `${name}.weights.safetensors`)).tensors;
    const m = new WideResNet(CASES[name]);
    assert.deepEqual(m.loadStateDict(weights), { missingKeys: [], unexpectedKeys: [] });
    assert.deepEqual([...m.stateDict().keys()], [...weights.keys()], 'state-dict order');
    dispose([...weights.values()]);
    const io = readSafetensors(join(MODELS, `${name}.io.safetensors`)).tensors;
    const [x, expected] = [io.get('input')!, io.get('logits')!];
    const logits = noGrad(() => m.eval().call(x));
    checkTensor(logits, expected, `${name} logits`, 1e-4, 0);
    t.diagnostic(`${name}: max |logit - PyTorch| = ${maxAbsDiff(logits, expected).toExponential(2)} (float32)`);
    // NOTE: float64 checks the normalisation constants follow the model's dtype (they are made per call).
    const logits64 = noGrad(() => m.to('float64').call(x.to('float64')));
    checkTensor(logits64, expected, `${name} logits in float64`, 1e-4, 0);
    t.diagnostic(`${name}: max |logit - PyTorch| = ${maxAbsDiff(logits64, expected.to('float64')).toExponential(2)} (float64)`);
    m.dispose();
  });
}

test("seeded init draws PyTorch's conv weights and logits bias (same RNG stream, same order)", () => {
  manualSeed(0); // gen_wrn.py: seed 0, then construct; only BatchNorms and logits.weight are redrawn afterwards
  const m = new WideResNet(CASES['wrn-16-2-cifar10']);
  const fixture = readSafetensors(join(MODELS, 'wrn-16-2-cifar10.weights.safetensors')).tensors;
  const drawn = [...m.stateDict()].filter(([k]) => /conv|shortcut/.test(k) || k === 'logits.bias');
  assert.equal(drawn.length, 1 + 6 * 2 + 3 + 1); // init_conv, 6 blocks x (conv_0, conv_1), 3 shortcuts, logits.bias
  for (const [k, t] of drawn) checkDraws(t, fixture.get(k)!, k);
  m.dispose();
});

test('WRN-28-10 (CIFAR-10): PyTorch state-dict keys, shapes, order and 36,479,194 parameters', () => {
  const ref = STRUCTURE['wrn-28-10-cifar10']!;
  const m = new WideResNet(); // defaults: depth 28, width 10, 10 classes, CIFAR-10 normalisation
  const shapes = Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, t.shape]));
  assert.deepEqual(Object.keys(shapes), Object.keys(ref.state_dict));
  assert.deepEqual(shapes, ref.state_dict);
  assert.equal(ref.params, 36_479_194);
  assert.equal(
    m.parameters().reduce((n, p) => n + p.numel, 0),
    ref.params,
  );
  m.dispose();
});

/** carso.md section 2.1, written out: the 26 tapped conv modules in hook order. */
const SPEC_TAPS = [0, 1, 2].flatMap((g) =>
  [0, 1, 2, 3].flatMap((j) => [
    `layer.${g}.block.${j}.conv_0`,
    `layer.${g}.block.${j}.conv_1`,
    ...(g > 0 && j === 0 ? [`layer.${g}.block.${j}.shortcut`] : []),
  ]),
);

test("WRN-28-10: CARSO's 26 tapped convs exist as Conv2d modules with the spec's widths", () => {
  assert.equal(SPEC_TAPS.length, 26);
  const m = new WideResNet();
  assert.deepEqual(wrnTapNames(), SPEC_TAPS);
  assert.deepEqual(m.carsoTapNames(), SPEC_TAPS);
  const modules = new Map(m.namedModules());
  for (const name of SPEC_TAPS) {
    const conv = modules.get(name);
    assert.ok(conv instanceof Conv2d, `${name} is a Conv2d`);
    assert.equal(conv.weight.size(0), [160, 320, 640][Number(name[6])], `${name} output channels`);
  }
  assert.ok(modules.get('layer.0.block.0.shortcut') instanceof Conv2d, 'the untapped first shortcut exists (16 -> 160)');
  // every conv module, in PyTorch's hook order (= its module order here), and nothing else named like one
  const convs = [...modules].filter(([, mod]) => mod instanceof Conv2d).map(([n]) => n);
  assert.deepEqual(convs, STRUCTURE['wrn-28-10-cifar10']!.conv_hook_order);
  m.dispose();
});

/** Conv modules in the order their hooks fire during one forward pass. */
function hookOrder(m: Module, x: Tensor): string[] {
  const fired: string[] = [];
  const removers = m
    .namedModules()
    .filter(([, mod]) => mod instanceof Conv2d)
    .map(([n, mod]) => mod.registerForwardHook(() => void fired.push(n)));
  noGrad(() => m.call(x));
  for (const remove of removers) remove();
  return fired;
}

for (const name of Object.keys(CASES)) {
  test(`${name}: conv forward hooks fire in PyTorch's order (conv_0, conv_1, shortcut) and see tap-shaped outputs`, () => {
    const m = loaded(name);
    const x = readSafetensors(join(MODELS, `${name}.io.safetensors`)).tensors.get('input')!;
    assert.deepEqual(hookOrder(m, x), STRUCTURE[name]!.conv_hook_order);
    // the taps' outputs: pre-BN conv outputs at the group's width and resolution (32/16/8 CIFAR, 64/32/16 Tiny)
    const size = x.size(2);
    const seen = new Map<string, readonly number[]>();
    const modules = new Map(m.namedModules());
    const removers = m
      .carsoTapNames()
      .map((n) => modules.get(n)!.registerForwardHook((_, __, out) => void seen.set(n, out.shape)));
    noGrad(() => m.call(x));
    for (const remove of removers) remove();
    assert.deepEqual([...seen.keys()], m.carsoTapNames());
    for (const [n, shape] of seen) {
      const g = Number(n[6]);
      assert.deepEqual(shape, [x.size(0), [32, 64, 128][g]!, size >> g, size >> g], n);
    }
    m.dispose();
  });
}

test('options are checked', () => {
  assert.throws(() => new WideResNet({ depth: 20 }), /depth must be 6n \+ 4/);
  assert.throws(() => wrnTapNames(12), /wrnTapNames: depth must be 6n \+ 4/);
  assert.throws(() => new WideResNet({ width: 0 }), /width must be a positive integer/);
  assert.throws(() => new WideResNet({ inputChannels: 1, depth: 10, width: 1 }), /normalisation needs 1 means and stds, got 3/);
  const grey = new WideResNet({ inputChannels: 1, depth: 10, width: 1, normalization: null, autopool: true });
  assert.deepEqual(grey.init_conv.weight.shape, [16, 1, 3, 3]);
  grey.dispose();
});
