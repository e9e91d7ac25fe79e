// Generic properties of every registered attack (attacks.md §10.2; torchattacks /
// foolbox suites): box, ball, re-evaluated success, accuracy never increases,
// misclassified points untouched, seeds reproduce, no tensor leaks, input checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, keep, manualSeed, memoryStats, noGrad, rand, tensor, tidy } from '../../src/tensor/index.js';
import { ATTACKS, attackNames, createAttack, type AttackOptions } from '../../src/attacks/registry.js';
import { normOf } from '../../src/attacks/norms.js';
import type { Model, Norm } from '../../src/attacks/types.js';
import { convNet, tinyModel } from './models.js';

const model = convNet(4, 1); // [B, 1, 8, 8] -> 4 classes, float32
manualSeed(7);
const X = keep(rand([8, 1, 8, 8]));
const clean = noGrad(() => tidy(() => model.forward(X).argmax(1).toArray()));
// even points misclassified on purpose, odd points labelled with the clean prediction
const Y = keep(
  tensor(
    clean.map((p, i) => (i % 2 === 0 ? (p + 1) % 4 : p)),
    [8],
    'int64',
  ),
);
const EPS: Record<Norm, number> = { Linf: 0.1, L2: 0.5, L1: 2 };
const FAST: Partial<AttackOptions> = { nIter: 10, steps: 10 };

const predict = (m: Model, x: Tensor): number[] => noGrad(() => tidy(() => m.forward(x).argmax(1).toArray()));
const labels = Y.toArray();

for (const name of attackNames()) {
  for (const norm of ATTACKS[name]!.norms) {
    const opts: AttackOptions = { ...FAST, eps: EPS[norm], norm, seed: 3 };
    test(`${name} ${norm}: box, ball, honest success, accuracy, untouched misclassified, seed, no leak`, () => {
      const before = memoryStats().liveTensors;
      const r = createAttack(name, opts).attack(model, X, Y);
      const [lo, hi] = tidy(() => [r.xAdv.min().item(), r.xAdv.max().item()]);
      assert.ok(lo >= 0 && hi <= 1, `box: [${lo}, ${hi}]`);
      const dist = tidy(() => normOf(norm).distance(r.xAdv, X).toArray());
      assert.ok(Math.max(...dist) <= EPS[norm] + 1e-6, `ball: max dist ${Math.max(...dist)}`);
      const pred = predict(model, r.xAdv);
      r.success.forEach((s, i) => assert.equal(s, pred[i] !== labels[i], `success[${i}] re-evaluated`));
      const correct = (p: number[]): number => p.filter((v, i) => v === labels[i]).length;
      assert.ok(correct(pred) <= correct(clean), 'accuracy never increases');
      for (let i = 0; i < 8; i += 2) assert.equal(dist[i], 0, `misclassified point ${i} returned unchanged`);
      assert.ok(r.nanGrad.every((f) => !f));
      assert.ok(r.queries >= 2);
      const again = createAttack(name, opts).attack(model, X, Y);
      assert.deepEqual(again.xAdv.toArray(), r.xAdv.toArray(), 'same seed => same output');
      r.xAdv.dispose();
      again.xAdv.dispose();
      assert.equal(memoryStats().liveTensors, before, 'no tensor leaks');
    });
  }
}

test('generous eps: every attack lowers accuracy on the tiny model', () => {
  const { model: tiny, X: x2, Y: y2 } = tinyModel();
  // NOTE: Square perturbs square windows of images, so it needs [B, C, H, W]
  // inputs; the tiny model takes [B, 8]. Square is covered on the conv net above.
  for (const name of attackNames().filter((n) => n !== 'square'))
    for (const norm of ATTACKS[name]!.norms) {
      const r = createAttack(name, { eps: norm === 'Linf' ? 0.3 : 1.5, norm, nIter: 20 }).attack(tiny, x2, y2);
      assert.ok(
        r.success.some((s) => s),
        `${name} ${norm} fools something`,
      );
      r.xAdv.dispose();
    }
});

test('input checks name the valid range', () => {
  for (const name of attackNames()) {
    for (const eps of [0, -1, Infinity, NaN])
      assert.throws(() => createAttack(name, { eps }), /eps must be a finite number in \(0, ∞\)/);
    const atk = createAttack(name, { eps: 0.1 });
    tidy(() => {
      assert.throws(() => atk.attack(model, X.add(0.5), Y), /x must be finite and in \[0, 1\]/);
      assert.throws(() => atk.attack(model, X, Y.add(4)), /labels must be in \[0, 3\]/);
      assert.throws(() => atk.attack(model, X, Y.to('float32')), /y must be int64/);
    });
  }
  assert.throws(() => createAttack('nope', { eps: 0.1 }), /unknown attack 'nope' \(valid: fgsm/);
  assert.throws(() => createAttack('pgd', { eps: 0.1, norm: 'L1' }), /norm must be one of Linf, L2 \(got 'L1'\)/);
});

test('DLR attacks refuse models with too few classes', () => {
  const two = convNet(2, 2);
  tidy(() => {
    const y = tensor([0, 1], [2], 'int64');
    assert.throws(() => createAttack('apgd-dlr', { eps: 0.1 }).attack(two, X.narrow(0, 0, 2), y), /at least 3 classes/);
    assert.throws(() => createAttack('apgd-t', { eps: 0.1 }).attack(two, X.narrow(0, 0, 2), y), /at least 4 classes/);
  });
});

test('APGD queries: clean + final check + (N + 1) per pass', () => {
  const r = createAttack('apgd-ce', { eps: 0.01, nIter: 10, nRestarts: 1 }).attack(model, X, Y);
  assert.equal(r.queries, 2 + 11);
  r.xAdv.dispose();
});

test('restarts only attack still-robust points (APGD: one pass when the first fools everything)', () => {
  const { model: tiny, X: x2, Y: y2 } = tinyModel();
  const r = createAttack('apgd-ce', { eps: 0.3, nIter: 10, nRestarts: 5 }).attack(tiny, x2, y2);
  assert.deepEqual(r.success, [true, true]);
  assert.equal(r.queries, 2 + 11);
  r.xAdv.dispose();
});

test('PGD max-loss restarts and APGD-L1 large-eps schedule keep the generic properties', () => {
  const cases: [string, AttackOptions][] = [
    ['pgd', { eps: 0.1, norm: 'Linf', steps: 5, nRestarts: 3, restarts: 'max-loss', seed: 2 }],
    ['pgd', { eps: 0.5, norm: 'L2', steps: 5, nRestarts: 3, restarts: 'max-loss', seed: 2 }],
    ['apgd-ce', { eps: 2, norm: 'L1', nIter: 10, nRestarts: 2, useLargeReps: true }],
    ['apgd-t', { eps: 2, norm: 'L1', nIter: 10, nTargetClasses: 2, useLargeReps: true }],
  ];
  for (const [name, o] of cases) {
    const before = memoryStats().liveTensors;
    const r = createAttack(name, o).attack(model, X, Y);
    const dist = tidy(() => normOf(o.norm!).distance(r.xAdv, X).toArray());
    assert.ok(Math.max(...dist) <= o.eps + 1e-6, `${name} ${o.norm}: ball`);
    assert.ok(
      tidy(() => r.xAdv.min().item() >= 0 && r.xAdv.max().item() <= 1),
      `${name}: box`,
    );
    const pred = predict(model, r.xAdv);
    r.success.forEach((s, i) => assert.equal(s, pred[i] !== labels[i]));
    for (let i = 0; i < 8; i += 2) assert.equal(dist[i], 0);
    r.xAdv.dispose();
    assert.equal(memoryStats().liveTensors, before, `${name}: no leaks`);
  }
});
