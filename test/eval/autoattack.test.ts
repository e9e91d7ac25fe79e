// AutoAttack cascade (attacks.md §7): fra31's versions as data, per-point
// worst-case bookkeeping, misclassified points never attacked, the threat-model
// re-check, NaN reporting, the 'rand' version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APGD, APGDT, createAttack, fabT, registerAttack, squareAA, type Attack, type Model } from '../../src/attacks/index.js';
import { autoAttackPlan, runAttacks, runAutoAttack, runIndividual } from '../../src/eval/autoattack.js';
import { keep, memoryStats, noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { QUICK, convNet, net, noisy, points, quiet } from './fixtures.js';

test('standard Linf/L2: fra31 order and settings (APGD-CE 1 restart, APGD-T 9 targets, FAB-T 9 targets, Square 5000)', () => {
  for (const norm of ['Linf', 'L2'] as const) {
    const { specs, skipped } = autoAttackPlan({ norm, eps: 0.1, seed: 3 });
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      specs.map((s) => s.name),
      ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
    );
    const built = specs.map((s) => JSON.stringify(createAttack(s.name, s.options)));
    const reference: Attack[] = [
      new APGD({ eps: 0.1, norm, seed: 3, loss: 'ce', nIter: 100, nRestarts: 1, eotIter: 1, rho: 0.75 }),
      new APGDT({ eps: 0.1, norm, seed: 3, nIter: 100, nRestarts: 1, nTargetClasses: 9, eotIter: 1, rho: 0.75 }),
      fabT(norm, 0.1, 3),
      squareAA(norm, 0.1, 3),
    ];
    assert.deepEqual(
      built,
      reference.map((a) => JSON.stringify(a)),
      `${norm}: same objects as the AA helpers`,
    );
  }
});

test('standard L1: APGD 5 restarts and APGD-T 5 targets with the large-eps schedule; Square (not ported) skipped', () => {
  const { specs, skipped } = autoAttackPlan({ norm: 'L1', eps: 12 });
  assert.deepEqual(skipped, ['square']);
  const o = Object.fromEntries(specs.map((s) => [s.name, s.options]));
  assert.equal(o['apgd-ce']!.nRestarts, 5);
  assert.equal(o['apgd-ce']!.useLargeReps, true);
  assert.equal(o['apgd-t']!.nTargetClasses, 5);
  assert.equal(o['apgd-t']!.useLargeReps, true);
  assert.equal(o['fab-t']!.nTargetClasses, 9);
});

test("'rand': APGD-CE then APGD-DLR, 1 restart, EOT over 20 samples, 100 iterations", () => {
  const { specs } = autoAttackPlan({ norm: 'Linf', eps: 0.1, version: 'rand' });
  assert.deepEqual(
    specs.map((s) => [s.name, s.options.nRestarts, s.options.eotIter, s.options.nIter]),
    [
      ['apgd-ce', 1, 20, 100],
      ['apgd-dlr', 1, 20, 100],
    ],
  );
  assert.equal(
    JSON.stringify(createAttack('apgd-dlr', specs[1]!.options)),
    JSON.stringify(new APGD({ ...specs[1]!.options, loss: 'dlr' })),
  );
});

test("'custom' runs the listed attacks with fra31's constructor settings; lists only with 'custom'", () => {
  const { specs } = autoAttackPlan({ norm: 'Linf', eps: 0.1, version: 'custom', attacks: ['fab', 'apgd-dlr', 'pgd'] });
  assert.deepEqual(
    specs.map((s) => [s.name, s.options.nRestarts]),
    [
      ['fab', 5],
      ['apgd-dlr', 5],
      ['pgd', undefined],
    ],
  );
  assert.throws(() => autoAttackPlan({ norm: 'Linf', eps: 0.1, attacks: ['fab'] }), /needs version 'custom'/);
  assert.throws(() => autoAttackPlan({ norm: 'Linf', eps: 0.1, version: 'custom' }), /needs a list of attacks/);
  const { X, Y } = points(net(), 4);
  assert.throws(
    () => runAutoAttack(net(), X, Y, { norm: 'Linf', eps: 0.1, version: 'custom', attacks: ['nope'] }),
    /unknown attack 'nope'/,
  );
  assert.throws(() => runAutoAttack(net(), X, Y, { norm: 'Linf', eps: 0, ...quiet }), /eps must be a finite number/);
  assert.throws(
    () =>
      runAutoAttack(
        net(),
        X,
        tidy(() => keep(Y.add(5))),
        { norm: 'Linf', eps: 0.1, ...quiet },
      ),
    /labels must be in \[0, 4\]/,
  );
});

for (const [norm, eps] of [
  ['Linf', 0.02],
  ['L2', 0.16],
] as const)
  test(`bookkeeping (${norm}): per-attack robust accuracy non-increasing, final = per-point worst case <= every attack alone`, () => {
    const model = net();
    const { X, Y } = points(model, 24);
    const before = memoryStats().liveTensors;
    const o = { norm, eps, overrides: QUICK, batchSize: 10, ...quiet };
    const r = runAutoAttack(model, X, Y, o);
    const accs = [r.clean.accuracy, ...r.perAttack.map((a) => a.robustAccuracy)];
    for (let i = 1; i < accs.length; i++) assert.ok(accs[i]! <= accs[i - 1]!, `non-increasing: ${accs.join(' ')}`);
    assert.equal(r.robust.accuracy, accs[accs.length - 1]);
    assert.ok(
      r.robust.correct > 0 && r.robust.correct < r.clean.correct,
      `a non-trivial case: ${r.robust.correct}/${r.clean.correct}`,
    );
    r.perAttack.forEach((a, i) =>
      assert.equal(a.attacked, i === 0 ? r.clean.correct : r.perAttack[i - 1]!.robust, `${a.name} attacked`),
    );
    // the flags agree with a fresh forward pass on the returned examples
    const pred = noGrad(() => tidy(() => model.forward(r.xAdv).argmax(1).toArray()));
    const labels = Y.toArray();
    r.robustFlags.forEach((f, i) => assert.equal(f, pred[i] === labels[i], `point ${i}`));
    assert.deepEqual(pred, r.yAdv);
    const alone = runIndividual(model, X, Y, o);
    for (const [name, one] of Object.entries(alone)) {
      assert.ok(r.robust.accuracy <= one.robust.accuracy, `final ${r.robust.accuracy} <= ${name} alone ${one.robust.accuracy}`);
      // a point robust in the cascade is robust against each attack alone
      r.robustFlags.forEach((f, i) => f && assert.ok(one.robustFlags[i], `${name}: point ${i}`));
      one.xAdv.dispose();
    }
    r.xAdv.dispose();
    assert.equal(memoryStats().liveTensors, before, 'no tensor leaks');
  });

/** An attack (registered under `name`) that records the clean rows it is given and delegates to `inner`. */
function spy(name: string, inner: (o: { eps: number }) => Attack): number[][][] {
  const seen: number[][][] = [];
  registerAttack(name, {
    eot: false,
    norms: ['Linf'],
    minClasses: 2,
    create: (o) => {
      const a = inner(o);
      return {
        name,
        norm: a.norm,
        eps: a.eps,
        attack: (m: Model, x: Tensor, y: Tensor) => {
          seen.push(Array.from({ length: x.size(0) }, (_, i) => tidy(() => x.select(0, i).flatten(0).toArray())));
          return a.attack(m, x, y);
        },
      };
    },
  });
  return seen;
}

test('misclassified points are never attacked; each attack sees exactly the points still robust', () => {
  const model = net();
  const { X, Y, wrong } = points(model, 20);
  const seen1 = spy('spy-1', (o) => new APGD({ ...o, nIter: 5 }));
  const seen2 = spy('spy-2', (o) => new APGD({ ...o, nIter: 5, loss: 'dlr' }));
  const r = runAutoAttack(model, X, Y, {
    norm: 'Linf',
    eps: 0.05,
    version: 'custom',
    attacks: ['spy-1', 'spy-2'],
    batchSize: 6,
    ...quiet,
  });
  const rows = (idx: number[]): string[] => idx.map((i) => JSON.stringify(tidy(() => X.select(0, i).flatten(0).toArray())));
  const got = (s: number[][][]): string[] => s.flat().map((v) => JSON.stringify(v));
  const all = Array.from({ length: 20 }, (_, i) => i);
  const correct = all.filter((i) => !wrong.includes(i));
  assert.deepEqual(got(seen1), rows(correct), 'first attack: every clean-correct point, in order, nothing else');
  assert.equal(seen1.length, Math.ceil(correct.length / 6), 'in batches of batchSize');
  const [a1] = r.perAttack;
  const left = a1!.robust;
  assert.equal(got(seen2).length, left, 'second attack: only the points the first left robust');
  for (const w of rows(wrong)) assert.ok(!got(seen2).includes(w) && !got(seen1).includes(w), 'misclassified point attacked');
  for (const i of wrong) assert.equal(r.robustFlags[i], false);
  r.xAdv.dispose();
});

/** A cheating attack: claims eps 0.05 but runs APGD-CE at eps 0.5, far outside the ball. */
function teleport(): Attack {
  const inner = new APGD({ eps: 0.5, nIter: 10 });
  return { name: 'teleport', norm: 'Linf', eps: 0.05, attack: (m, x, y) => inner.attack(m, x, y) };
}

test('the threat-model re-check rejects an example outside the eps-ball, reports it, and the point stays robust', () => {
  const model = net();
  const { X, Y } = points(model, 16);
  registerAttack('teleport', { eot: false, norms: ['Linf'], minClasses: 2, create: teleport });
  const warnings: string[] = [];
  const r = runAutoAttack(model, X, Y, {
    norm: 'Linf',
    eps: 0.05,
    version: 'custom',
    attacks: ['teleport', 'apgd-ce'],
    overrides: QUICK,
    onWarning: (w) => warnings.push(w.message),
  });
  const [tp, apgd] = r.perAttack;
  assert.ok(tp!.rejected > 0, 'the out-of-ball breaks are caught');
  assert.equal(tp!.fooled, 0, 'nothing counted as broken');
  assert.equal(tp!.robust, r.clean.correct);
  assert.equal(apgd!.attacked, r.clean.correct, 'the next attack still gets every point');
  const msg = `teleport returned ${tp!.rejected} misclassified examples outside the threat model`;
  assert.ok(
    r.warnings.some((w) => w.check === 'threat-model' && w.message.startsWith(msg)),
    'reported in the result',
  );
  assert.ok(
    warnings.some((m) => m.startsWith(msg)),
    'printed through onWarning',
  );
  assert.ok(r.finalCheck.maxDistance <= 0.05 + r.finalCheck.tolerance);
  assert.deepEqual(r.finalCheck.rejected, []);
  r.xAdv.dispose();
});

test('NaN gradients are counted and reported, never silently robust', () => {
  const base = convNet(5, 3);
  // sqrt(x₀ − 0.5): NaN logits, loss and gradient for points whose first pixel is below 0.5
  const model: Model = {
    stochastic: false,
    forward: (x) => base.forward(x).add(x.flatten(1).select(1, 0).sub(0.5).sqrt().mul(0).view(-1, 1)),
  };
  const { X } = points(base, 12);
  const Y = keep(tidy(() => model.forward(X).argmax(1)));
  const firstPixel = tidy(() => X.flatten(1).select(1, 0).toArray());
  const nan = firstPixel.flatMap((v, i) => (v < 0.5 ? [i] : []));
  assert.ok(nan.length > 0 && nan.length < 12);
  const r = runAttacks(model, X, Y, [{ name: 'apgd-ce', options: { eps: 0.01, nIter: 5 } }], {
    norm: 'Linf',
    eps: 0.01,
    ...quiet,
  });
  assert.equal(r.perAttack[0]!.nanGrad, nan.length);
  assert.equal(r.nanGrad.points, nan.length);
  assert.deepEqual(
    r.nanGrad.robustIndices,
    nan.filter((i) => r.robustFlags[i]),
  );
  assert.ok(r.nanGrad.robust > 0, 'NaN points left robust (their logits are NaN)');
  assert.ok(
    r.warnings.some((w) => w.check === 'nan-gradients' && w.message.startsWith(`${r.nanGrad.robust} points counted robust`)),
  );
  r.xAdv.dispose();
});

test("'rand' on a randomised model: EOT 20 spends 20 passes per gradient, DLR second, no randomness warning", () => {
  const model = noisy(net(), 0.05);
  const { X, Y } = points(net(), 8);
  const o = {
    norm: 'Linf' as const,
    eps: 0.05,
    version: 'rand' as const,
    overrides: { 'apgd-ce': { nIter: 2 }, 'apgd-dlr': { nIter: 2 } },
  };
  const r = runAutoAttack(model, X, Y, { ...o, ...quiet });
  const [ce, dlr] = r.perAttack;
  assert.deepEqual([ce!.name, dlr!.name], ['apgd-ce', 'apgd-dlr']);
  // per batch: the attack's clean pass and final check (2), (nIter + 1) × 20 EOT passes, the cascade's decision pass (1)
  assert.equal(ce!.queries, 2 + 3 * 20 + 1);
  if (dlr!.ran) assert.equal(dlr!.queries, 2 + 3 * 20 + 1);
  assert.ok(!r.warnings.some((w) => w.check === 'randomized'), "fra31 skips check_randomized for 'rand'");
  r.xAdv.dispose();
  const s = runAutoAttack(model, X, Y, { norm: 'Linf', eps: 0.05, overrides: QUICK, ...quiet });
  assert.ok(
    s.warnings.some((w) => w.check === 'randomized' && /version 'rand'/.test(w.message)),
    "'standard' flags the randomised model",
  );
  s.xAdv.dispose();
  // a custom run flags it too, unless every attack already averages over EOT samples
  const custom = (eotIter: number): boolean => {
    const c = runAttacks(model, X, Y, [{ name: 'pgd', options: { eps: 0.05, nIter: 1, eotIter } }], {
      norm: 'Linf',
      eps: 0.05,
      ...quiet,
    });
    c.xAdv.dispose();
    return c.warnings.some((w) => w.check === 'randomized');
  };
  assert.deepEqual([custom(1), custom(4)], [true, false]);
});
