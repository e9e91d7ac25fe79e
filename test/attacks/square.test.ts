// Square Attack: fra31 schedules and L2 window pattern (attacks.md §6, §10.1),
// the AutoAttack configuration, score-based behaviour, and a linear K = 2 model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tensor, isGradEnabled, keep, manualSeed, memoryStats, rand, randn, tidy } from '../../src/tensor/index.js';
import {
  Square,
  etaPattern,
  pSelection,
  roundHalfEven,
  squareAA,
  squareSettings,
  squareSide,
  squareSingleRun,
} from '../../src/attacks/square.js';
import type { Model } from '../../src/attacks/types.js';
import { checkTensor } from '../helpers.js';
import { convNet, linearModel } from './models.js';

type Table = [number, number][];
interface GoldenCore {
  square_p: Table;
  square_s_linf_28: Table;
  square_s_linf_32: Table;
  square_s_l2_28: Table;
  square_eta_l2_s5_untransposed: number[][];
}
const golden = (JSON.parse(readFileSync('/work/shared/spec/attacks_golden.json', 'utf8')) as { core: GoldenCore }).core;

test('square_p: the p schedule as AutoAttack runs it (p_init 0.8, no rescaling)', () => {
  for (const [it, p] of golden.square_p) assert.equal(pSelection(it, 0.8, 5000, false), p, `it ${it}`);
  // rescSchedule maps the iteration to a 10000-query budget first (int() truncation)
  assert.equal(pSelection(5, 0.8, 100, true), 0.1); // it -> 500
  assert.equal(pSelection(9999, 0.8, 10000, true), 0.8 / 512);
  assert.equal(pSelection(3, 0.8, 7, true), 0.8 / 128); // 3/7·10000 = 4285.7 -> 4285
});

test('square_s_*: window sides for MNIST / CIFAR sizes (Python round-half-even)', () => {
  const cases: [Table, 'Linf' | 'L2', number][] = [
    [golden.square_s_linf_28, 'Linf', 28],
    [golden.square_s_linf_32, 'Linf', 32],
    [golden.square_s_l2_28, 'L2', 28],
  ];
  for (const [table, norm, hw] of cases)
    for (const [it, s] of table)
      for (const c of [1, 3])
        assert.equal(squareSide(norm, pSelection(it, 0.8, 5000, false), c, hw, hw), s, `${norm} ${hw} it ${it} c ${c}`);
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4999, 2.5001].map(roundHalfEven), [0, 2, 2, 4, 2, 3]);
  assert.equal(squareSide('L2', 0.0001, 1, 28, 28), 3, 'L2 side is at least 3');
  assert.equal(squareSide('Linf', 0.0001, 1, 28, 28), 1, 'Linf side is at least 1');
  assert.equal(squareSide('L2', 1, 1, 4, 4), 4, 'capped at min(H, W)');
});

test('square_eta_l2_s5_untransposed: the L2 window pattern matches fra31 (1e-6)', () =>
  tidy(() => {
    const e = etaPattern(5, false);
    checkTensor(e, golden.square_eta_l2_s5_untransposed.flat(), 'eta(5)', 1e-6, 0);
    checkTensor(etaPattern(5, true), e.transpose(0, 1).contiguous(), 'eta(5) transposed', 0, 0);
    for (const s of [1, 3, 4, 7]) checkTensor(etaPattern(s, false).square().sum(), [1], `‖eta(${s})‖₂ = 1`, 1e-6, 0);
  }));

test('squareAA(): the AutoAttack configuration', () => {
  assert.deepEqual(squareAA('Linf', 0.3).settings, {
    norm: 'Linf',
    eps: 0.3,
    nQueries: 5000,
    pInit: 0.8,
    nRestarts: 1,
    loss: 'margin',
    rescSchedule: false,
    seed: 0,
  });
  assert.equal(new Square({ eps: 0.3 }).settings.rescSchedule, true, 'class default rescales');
  assert.throws(() => new Square({ eps: 0.3, norm: 'L1' }), /L1/);
  assert.throws(() => new Square({ eps: -1 }), /eps/);
  assert.throws(() => new Square({ eps: 0.3, pInit: 1.5 }), /pInit/);
});

test('score-based: forward passes only (grad mode off), every one counted', () => {
  const net = convNet(4, 1);
  let calls = 0;
  const model: Model = {
    stochastic: false,
    forward: (x) => {
      assert.equal(isGradEnabled(), false, 'Square never records a graph');
      calls++;
      return net.forward(x);
    },
  };
  const before = memoryStats().liveTensors;
  manualSeed(4);
  const X = keep(rand([6, 1, 8, 8]));
  const Y = keep(tidy(() => net.forward(X).argmax(1)));
  for (const norm of ['Linf', 'L2'] as const) {
    calls = 0;
    const r = new Square({ eps: norm === 'Linf' ? 0.05 : 0.3, norm, nQueries: 50 }).attack(model, X, Y);
    r.xAdv.dispose();
    assert.equal(r.queries, calls, `${norm}: queries = forward passes`);
    assert.ok(calls <= 2 + 1 + 50 + 1, `${norm}: at most clean + init + nQueries + check`);
    // per-point counts of one run: 1 for the start, +1 per iteration the point was still correct
    manualSeed(0);
    const run = squareSingleRun(model, X, Y, squareSettings('square', { eps: 0.05, norm, nQueries: 50 }));
    run.xBest.dispose();
    assert.ok(run.queriesPerPoint.every((q) => q >= 1 && q <= 51));
    assert.equal(Math.max(...run.queriesPerPoint), run.queries, 'the last point standing saw every query');
  }
  X.dispose();
  Y.dispose();
  assert.equal(memoryStats().liveTensors, before, 'no tensor leaks');
});

test('linear K = 2: Square breaks every point with r < eps/2 and never beats the exact robust accuracy', () => {
  const N = 100;
  const D = 25;
  manualSeed(33);
  const W = keep(randn([2, D], 'float64'));
  const b = keep(W.matmul(rand([D], 'float64').mul(0.1).add(0.45)).neg());
  const X = keep(rand([N, 1, 5, 5], 'float64').mul(0.4).add(0.3)); // the box never binds
  const model = linearModel(W, b);
  const { z, y } = tidy(() => {
    const logits = model.forward(X);
    return { z: logits.toArray(), y: keep(logits.argmax(1)) };
  });
  const labels = y.toArray();
  const w = W.toArray();
  for (const [norm, q] of [
    ['Linf', 1],
    ['L2', 2],
  ] as const) {
    let dual = 0;
    for (let k = 0; k < D; k++) dual += Math.abs((w[k] as number) - (w[D + k] as number)) ** q;
    const r = labels.map((_, i) => Math.abs((z[2 * i] as number) - (z[2 * i + 1] as number)) / dual ** (1 / q));
    const sorted = r.slice().sort((a, c) => a - c);
    const eps = ((sorted[N / 2 - 1] as number) + (sorted[N / 2] as number)) / 2; // exact robust accuracy 0.5
    const res = new Square({ eps, norm, nQueries: 1000, rescSchedule: false }).attack(model, X, y);
    res.xAdv.dispose();
    r.forEach(
      (ri, i) => ri < eps / 2 && assert.ok(res.success[i], `${norm}: point ${i} with r = ${ri} < eps/2 = ${eps / 2} broken`),
    );
    const acc = res.success.filter((s) => !s).length / N;
    assert.ok(acc >= 0.5, `${norm}: robust accuracy ${acc} below the exact 0.5`);
  }
  [W, b, X, y].forEach((t: Tensor) => t.dispose());
});
