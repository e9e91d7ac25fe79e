// FAB, FAB-T and Square on small conv nets: parity with the unmodified fra31
// code (same libtorch RNG stream, so random starts and Square's draws line up),
// and the properties every attack must have (attacks.md §7.4, §10.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, keep, manualSeed, memoryStats, noGrad, rand, tensor, tidy } from '../../src/tensor/index.js';
import { FAB, fabT } from '../../src/attacks/fab.js';
import { Square, squareSettings, squareSingleRun } from '../../src/attacks/square.js';
import { L1, L2, Linf, normOf } from '../../src/attacks/norms.js';
import type { Attack, Model } from '../../src/attacks/types.js';
import { checkTensor } from '../helpers.js';
import { convNet } from './models.js';

// ---- parity with fra31 -----------------------------------------------------------
//
// FIXTURE: python3 (Debian python3-torch 1.13, CPU), fra31/auto-attack a3922004 on PYTHONPATH:
//   B, C, H, W, K = 8, 2, 10, 10, 4
//   w1 = tensor([0.5*sin(1+i) for i in range(54)]).reshape(3, C, 3, 3); b1 = tensor([0.1*cos(i) for i in range(3)])
//   w2 = tensor([0.3*cos(1+2*i) for i in range(K*75)]).reshape(K, 75)
//   x = tensor([0.5 + 0.4*sin(1.3*i + 0.7*(i % 7)) for i in range(B*C*H*W)]).reshape(B, C, H, W)
//   f = lambda v: avg_pool2d(conv2d(v, w1, b1, padding=1).relu(), 2).reshape(len(v), -1) @ w2.T
//   y = f(x).argmax(1); y[3] = (y[3] + 1) % K
//   FABAttack_PT(f, n_iter=20, n_restarts=2, seed=0, norm=..., eps=..., [targeted=True, n_target_classes=3]).perturb(x, y)
//   SquareAttack(f, norm=..., eps=..., n_queries=200, p_init=0.8, loss='margin', resc_schedule=False, seed=0).perturb(x, y)
//   nq: manual_seed(0); attack_single_run(x, y)[0] (per-point queries of one run on the whole batch)
//   dist = [Linf, L2, L1] of (adv − x) per point, rounded to 7 decimals; wrong = f(adv).argmax(1) != y
const FIX = {
  y: [0, 0, 3, 0, 3, 3, 2, 2],
  fab_linf: {
    dist: [
      [0.0, 0.0037506, 0.0031412, 0.0, 0.0, 0.0, 0.0002468, 0.0008956],
      [0.0, 0.052957, 0.0444216, 0.0, 0.0, 0.0, 0.003488, 0.012651],
      [0.0, 0.748818, 0.6282158, 0.0, 0.0, 0.0, 0.0493274, 0.1789071],
    ],
    wrong: [false, true, true, true, false, false, true, true],
  },
  fab_l1: {
    dist: [
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0147484, 0.0577765],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0147484, 0.0577765],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0147529, 0.0577795],
    ],
    wrong: [false, false, false, true, false, false, true, true],
  },
  fabt_l2: {
    dist: [
      [0.0, 0.0081975, 0.0067537, 0.0, 0.0, 0.0, 0.0005307, 0.0018633],
      [0.0, 0.043551, 0.0360564, 0.0, 0.0, 0.0, 0.0027972, 0.0105925],
      [0.0, 0.5013937, 0.4116083, 0.0, 0.0, 0.0, 0.0317202, 0.1248848],
    ],
    wrong: [false, true, true, true, false, false, true, true],
  },
  square_linf: {
    dist: [
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.01],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1414213, 0.1414213],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.9999988, 1.9999987],
    ],
    wrong: [false, false, false, true, false, false, true, true],
    nq: [201, 201, 189, 1, 201, 201, 4, 58],
  },
  square_l2: {
    dist: [
      [0.0, 0.0398854, 0.0440072, 0.0, 0.0, 0.0, 0.0486019, 0.0403754],
      [0.0, 0.15, 0.15, 0.0, 0.0, 0.0, 0.15, 0.15],
      [0.0, 1.3051381, 1.2612085, 0.0, 0.0, 0.0, 1.3004395, 1.4405551],
    ],
    wrong: [false, true, true, true, false, false, true, true],
    nq: [201, 201, 74, 1, 201, 201, 1, 19],
  },
};

/** The fixture's conv net and inputs (float32, as fra31 runs them). */
function fixtureNet(): { model: Model; x: Tensor; y: Tensor } {
  const [B, C, H, W, K] = [8, 2, 10, 10, 4];
  const seq = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
  const w1 = keep(
    tensor(
      seq(3 * C * 9, (i) => 0.5 * Math.sin(1 + i)),
      [3, C, 3, 3],
    ),
  );
  const b1 = keep(
    tensor(
      seq(3, (i) => 0.1 * Math.cos(i)),
      [3],
    ),
  );
  const w2 = keep(
    tensor(
      seq(K * 75, (i) => 0.3 * Math.cos(1 + 2 * i)),
      [K, 75],
    ),
  );
  const x = keep(
    tensor(
      seq(B * C * H * W, (i) => 0.5 + 0.4 * Math.sin(1.3 * i + 0.7 * (i % 7))),
      [B, C, H, W],
    ),
  );
  const forward = (v: Tensor): Tensor =>
    v.conv2d(w1, b1, 1, 1).relu().avgPool2d(2).reshape(v.size(0), -1).matmul(w2.transpose(0, 1));
  return { model: { stochastic: false, forward }, x, y: keep(tensor(FIX.y, [B], 'int64')) };
}

function distances(a: Tensor, b: Tensor): number[][] {
  return tidy(() => [Linf, L2, L1].map((n) => n.distance(a, b).toArray()));
}

test('FAB, FAB-T and Square reproduce fra31 point for point (distances 1e-6, success, queries)', () => {
  const { model, x, y } = fixtureNet();
  const cases: [keyof typeof FIX, Attack][] = [
    ['fab_linf', new FAB({ norm: 'Linf', eps: 0.005, nIter: 20, nRestarts: 2 })],
    ['fab_l1', new FAB({ norm: 'L1', eps: 0.2, nIter: 20, nRestarts: 2 })],
    ['fabt_l2', new FAB({ norm: 'L2', eps: 0.05, nIter: 20, nRestarts: 2, targeted: true, nTargetClasses: 3 })],
    ['square_linf', new Square({ norm: 'Linf', eps: 0.01, nQueries: 200, rescSchedule: false })],
    ['square_l2', new Square({ norm: 'L2', eps: 0.15, nQueries: 200, rescSchedule: false })],
  ];
  for (const [key, attack] of cases) {
    const ref = FIX[key] as { dist: number[][]; wrong: boolean[] };
    const r = attack.attack(model, x, y);
    checkTensor(distances(r.xAdv, x).flat(), ref.dist.flat(), `${key} [Linf, L2, L1] distances`, 1e-6, 0);
    assert.deepEqual(r.success, ref.wrong, `${key} success`);
    r.xAdv.dispose();
  }
  for (const key of ['square_linf', 'square_l2'] as const) {
    manualSeed(0);
    const s = squareSettings('square', {
      norm: key === 'square_linf' ? 'Linf' : 'L2',
      eps: key === 'square_linf' ? 0.01 : 0.15,
      nQueries: 200,
      rescSchedule: false,
    });
    const run = squareSingleRun(model, x, y, s);
    run.xBest.dispose();
    assert.deepEqual(run.queriesPerPoint, FIX[key].nq, `${key} per-point queries`);
  }
});

// ---- properties on a random conv net ------------------------------------------------

const net = convNet(4, 1); // [B, 1, 8, 8] -> 4 classes, float32
manualSeed(7);
const X = keep(rand([8, 1, 8, 8]));
const clean = noGrad(() => tidy(() => net.forward(X).argmax(1).toArray()));
// even points misclassified on purpose, odd points labelled with the clean prediction
const Y = keep(
  tensor(
    clean.map((p, i) => (i % 2 === 0 ? (p + 1) % 4 : p)),
    [8],
    'int64',
  ),
);
const labels = Y.toArray();

/** A model that counts its forward passes. */
function counted(m: Model): { model: Model; calls: () => number } {
  let n = 0;
  const forward = (x: Tensor): Tensor => {
    n++;
    return m.forward(x);
  };
  return { model: { stochastic: false, forward }, calls: () => n };
}

const ATTACKS: [string, () => Attack][] = [
  ['fab Linf', () => new FAB({ norm: 'Linf', eps: 0.1, nIter: 15, nRestarts: 2, seed: 3 })],
  ['fab L2', () => new FAB({ norm: 'L2', eps: 0.6, nIter: 15, nRestarts: 2, seed: 3 })],
  ['fab L1', () => new FAB({ norm: 'L1', eps: 2, nIter: 15, nRestarts: 2, seed: 3 })],
  ['fab-t Linf', () => new FAB({ norm: 'Linf', eps: 0.1, nIter: 15, targeted: true, nTargetClasses: 3, seed: 3 })],
  ['fab-t L2', () => new FAB({ norm: 'L2', eps: 0.6, nIter: 15, targeted: true, nTargetClasses: 3, nRestarts: 2, seed: 3 })],
  ['square Linf', () => new Square({ norm: 'Linf', eps: 0.1, nQueries: 300, seed: 3 })],
  ['square L2', () => new Square({ norm: 'L2', eps: 1.2, nQueries: 300, seed: 3 })],
];

for (const [name, make] of ATTACKS)
  test(`${name}: box, ball, honest success, accuracy, untouched misclassified, seed, queries, no leak`, () => {
    const before = memoryStats().liveTensors;
    const attack = make();
    const { model, calls } = counted(net);
    const r = attack.attack(model, X, Y);
    assert.equal(r.queries, calls(), 'queries = forward passes');
    const [lo, hi] = tidy(() => [r.xAdv.min().item(), r.xAdv.max().item()]);
    assert.ok(lo >= 0 && hi <= 1, `box: [${lo}, ${hi}]`);
    const dist = tidy(() => normOf(attack.norm).distance(r.xAdv, X).toArray());
    assert.ok(Math.max(...dist) <= attack.eps * (1 + 1e-6), `ball: max dist ${Math.max(...dist)} > eps ${attack.eps}`);
    const pred = noGrad(() => tidy(() => net.forward(r.xAdv).argmax(1).toArray()));
    r.success.forEach((s, i) => assert.equal(s, pred[i] !== labels[i], `success[${i}] re-evaluated`));
    dist.forEach(
      (d, i) => d > 0 && assert.ok(r.success[i], `moved point ${i} is misclassified (unbroken points come back clean)`),
    );
    const correct = (p: number[]): number => p.filter((v, i) => v === labels[i]).length;
    assert.ok(correct(pred) <= correct(clean), 'accuracy never increases');
    assert.ok(correct(pred) < correct(clean), 'breaks something at this eps');
    for (let i = 0; i < 8; i += 2) assert.equal(dist[i], 0, `misclassified point ${i} returned unchanged`);
    assert.ok(r.nanGrad.every((f) => !f));
    const again = make().attack(net, X, Y);
    assert.deepEqual(again.xAdv.toArray(), r.xAdv.toArray(), 'same seed => same output');
    r.xAdv.dispose();
    again.xAdv.dispose();
    assert.equal(memoryStats().liveTensors, before, 'no tensor leaks');
  });

test('fabT on K = 4 classes: targets beyond K − 1 are skipped (fra31 would fail indexing)', () => {
  const eps = 0.1;
  const a = fabT('Linf', eps, 3).attack(net, X, Y);
  const b = new FAB({ norm: 'Linf', eps, targeted: true, nTargetClasses: 3, seed: 3 }).attack(net, X, Y);
  assert.deepEqual(a.xAdv.toArray(), b.xAdv.toArray());
  assert.equal(a.queries, b.queries);
  a.xAdv.dispose();
  b.xAdv.dispose();
});

test('input checks: eps, box, finiteness, label dtype and range', () => {
  for (const attack of [new FAB({ eps: 0.1 }), new Square({ eps: 0.1, nQueries: 5 })]) {
    tidy(() => {
      assert.throws(() => attack.attack(net, X.mul(2), Y), /\[0, 1\]/, `${attack.name}: x outside [0, 1]`);
      assert.throws(() => attack.attack(net, X.mul(Number.NaN), Y), /finite/, `${attack.name}: NaN x`);
      assert.throws(() => attack.attack(net, X, Y.float()), /int64/, `${attack.name}: float labels`);
      assert.throws(() => attack.attack(net, X, Y.add(4)), /labels/, `${attack.name}: labels out of range`);
    });
  }
  assert.throws(() => new FAB({ eps: Infinity }), /eps/);
  assert.throws(() => new Square({ eps: Number.NaN }), /eps/);
});
