// Module mechanics: names, hooks, modes, placement, state-dict checks, memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keep, memoryStats, ones, randn, tidy, tensor, zeros, type Tensor } from '../../src/tensor/index.js';
import { BatchNorm2d, Conv2d, Dropout, Linear, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { checkTensor } from '../helpers.js';

// A WideResNet-like nesting, to check PyTorch's dotted names (layer.0.block.1.conv_0.weight).
class Block extends Module {
  readonly batchnorm_0 = this.addModule('batchnorm_0', new BatchNorm2d(2));
  readonly conv_0 = this.addModule('conv_0', new Conv2d(2, 2, 3, { padding: 1, bias: false }));
  forward(x: Tensor): Tensor {
    return tidy(() => this.conv_0.call(this.batchnorm_0.call(x)));
  }
}
class Net extends Module {
  readonly scale = this.registerBuffer('scale', ones([1]));
  readonly layer = this.addModule('layer', new Sequential(new Sequential(new Block(), new Block())));
  forward(x: Tensor): Tensor {
    return this.layer.call(x);
  }
}

test('dotted names, order and kinds follow PyTorch', () => {
  const net = new Net();
  const bn = (p: string): string[] => [`${p}.batchnorm_0.weight`, `${p}.batchnorm_0.bias`];
  const stats = (p: string): string[] =>
    ['running_mean', 'running_var', 'num_batches_tracked'].map((s) => `${p}.batchnorm_0.${s}`);
  assert.deepEqual(
    net.namedParameters().map(([n]) => n),
    ['layer.0.0', 'layer.0.1'].flatMap((p) => [...bn(p), `${p}.conv_0.weight`]),
  );
  assert.deepEqual(
    net.namedBuffers().map(([n]) => n),
    ['scale', ...stats('layer.0.0'), ...stats('layer.0.1')],
  );
  assert.deepEqual(
    [...net.stateDict().keys()],
    ['scale', ...['layer.0.0', 'layer.0.1'].flatMap((p) => [...bn(p), ...stats(p), `${p}.conv_0.weight`])],
  );
  assert.deepEqual(
    net.namedModules().map(([n]) => n),
    [
      '',
      'layer',
      'layer.0',
      'layer.0.0',
      'layer.0.0.batchnorm_0',
      'layer.0.0.conv_0',
      'layer.0.1',
      'layer.0.1.batchnorm_0',
      'layer.0.1.conv_0',
    ],
  );
  assert.equal(net.stateDict().get('layer.0.1.batchnorm_0.num_batches_tracked')!.dtype, 'int64');
  assert.equal(net.parameters().length, 6);
  net.dispose();
});

test('invalid or duplicate names throw', () => {
  const m = new Linear(2, 2);
  assert.throws(() => m.registerBuffer('weight', zeros([1])), /'weight' is already a param/);
  assert.throws(() => m.addModule('a.b', new ReLU()), /invalid child name 'a.b'/);
  m.dispose();
});

test('forward hooks fire in execution order, can replace the output, and can be removed', () => {
  const seq = new Sequential(new Linear(3, 4), new ReLU(), new Sequential(new Linear(4, 2)));
  const log: string[] = [];
  const removers = seq
    .namedModules()
    .map(([name, m]) =>
      m.registerForwardHook(
        (mod, input, output) => void log.push(`${name || 'root'}:${mod.constructor.name}:[${input.shape}]->[${output.shape}]`),
      ),
    );
  tidy(() => seq.call(randn([5, 3])));
  assert.deepEqual(log, [
    '0:Linear:[5,3]->[5,4]',
    '1:ReLU:[5,4]->[5,4]',
    '2.0:Linear:[5,4]->[5,2]',
    '2:Sequential:[5,4]->[5,2]',
    'root:Sequential:[5,3]->[5,2]',
  ]);
  removers.forEach((r) => r());
  log.length = 0;
  const remove = seq.at(1).registerForwardHook((_m, _i, out) => out.mul(0));
  const y = tidy(() => seq.call(randn([5, 3])));
  assert.deepEqual(log, []);
  checkTensor(y, seq.at(2).call(zeros([5, 4])), 'a hook returning zeros replaces the ReLU output');
  remove();
  seq.dispose();
});

test('a hook that keeps the output can use it after the container freed its intermediates', () => {
  const seq = new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2));
  let tapped: Tensor | null = null;
  seq.at(0).registerForwardHook((_m, _i, out) => void (tapped = keep(out)));
  tidy(() => seq.call(randn([2, 3])));
  assert.deepEqual(tapped!.shape, [2, 4]);
  assert.equal(tapped!.isDisposed, false);
  tapped!.dispose();
  seq.dispose();
});

test('train/eval propagate; Dropout scales in train and is the identity in eval', () => {
  const seq = new Sequential(new Dropout(0.5), new Sequential(new BatchNorm2d(1)));
  seq.eval();
  assert.ok(seq.namedModules().every(([, m]) => !m.training));
  const x = ones([1000]);
  checkTensor(seq.at(0).call(x), x, 'eval dropout');
  seq.train();
  const v = seq.at(0).call(x).toArray();
  assert.ok(
    v.every((e) => e === 0 || e === 2),
    'train dropout: 0 or 1/(1-p)',
  );
  const kept = v.filter((e) => e === 2).length;
  assert.ok(kept > 400 && kept < 600, `about half kept, got ${kept}`);
  seq.dispose();
});

test('requiresGrad_, to(dtype) and toDevice keep roles and flags', () => {
  const m = new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2));
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  m.requiresGrad_(false);
  assert.ok(m.parameters().every((p) => !p.requiresGrad));
  m.requiresGrad_(true).to('float64').toDevice('cpu');
  assert.ok(m.parameters().every((p) => p.requiresGrad && p.dtype === 'float64'));
  assert.equal(m.stateDict().get('1.num_batches_tracked')!.dtype, 'int64');
  assert.equal(m.stateDict().get('1.running_var')!.dtype, 'float64');
  m.dispose();
});

test('withTensors substitutes by dotted name and restores afterwards', () => {
  const m = new Sequential(new Linear(2, 1, false));
  const x = tensor([1, 2], [1, 2]);
  const before = m.call(x).item();
  const w = tensor([10, 100], [1, 2]);
  assert.equal(
    m.withTensors({ '0.weight': w }, () => m.call(x).item()),
    210,
  );
  assert.equal(m.call(x).item(), before);
  assert.throws(() => m.withTensors({ '0.nope': w }, () => 0), /no parameter or buffer '0.nope'/);
  m.dispose();
});

test('loadStateDict: missing, unexpected, wrong shape and wrong dtype each throw a descriptive Error; the module is unchanged', () => {
  const m = new Sequential(new Linear(3, 2), new BatchNorm2d(2));
  const good = new Map([...m.stateDict()].map(([k, t]) => [k, t.clone()]));
  const b0 = m.stateDict().get('0.bias')!.toArray();
  const variant = (edit: (d: Map<string, Tensor>) => void): Map<string, Tensor> => {
    const d = new Map(good);
    edit(d);
    return d;
  };
  const cases: [string, Map<string, Tensor>, RegExp][] = [
    ['missing', variant((d) => d.delete('1.running_var')), /missing keys: 1\.running_var/],
    ['unexpected', variant((d) => d.set('2.weight', zeros([1]))), /unexpected keys: 2\.weight/],
    [
      'shape',
      variant((d) => d.set('0.weight', zeros([2, 4]))),
      /shape mismatch for 0\.weight: checkpoint \[2, 4\], model \[2, 3\]/,
    ],
    [
      'dtype',
      variant((d) => d.set('1.num_batches_tracked', zeros([], 'float32'))),
      /dtype mismatch for 1\.num_batches_tracked: checkpoint float32, model int64/,
    ],
  ];
  for (const [label, dict, pattern] of cases) {
    dict.set('0.bias', zeros([2])); // would change the model if a partial load happened
    assert.throws(
      () => m.loadStateDict(dict),
      (e: unknown) => e instanceof Error && pattern.test(e.message),
      label,
    );
    assert.deepEqual(m.stateDict().get('0.bias')!.toArray(), b0, `${label}: module unchanged`);
  }
  const r = m.loadStateDict(cases[0]![1], { strict: false });
  assert.deepEqual(r, { missingKeys: ['1.running_var'], unexpectedKeys: [] });
  checkTensor(m.stateDict().get('0.bias')!, zeros([2]), 'non-strict load copied the rest');
  m.dispose();
});

test('forward through containers frees every intermediate', () => {
  const seq = new Sequential(
    new Conv2d(1, 2, 3, { padding: [0, 1, 0, 1] }),
    new ReLU(),
    new Sequential(new BatchNorm2d(2), new ReLU()),
  );
  const x = randn([2, 1, 5, 5]);
  tidy(() => seq.call(x)); // warm-up (lazy op resolution)
  const before = memoryStats().liveTensors;
  const y = seq.call(x);
  assert.equal(memoryStats().liveTensors, before + 1, 'only the output survives');
  y.dispose();
  seq.dispose();
});
