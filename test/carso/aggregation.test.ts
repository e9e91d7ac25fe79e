// Aggregation (carso.md 4.1): the reference peel equals ebtorch's lexsemble run by
// PyTorch (gen_carso.py), the stable peel equals it wherever it is finite and stays
// finite (values and gradients) where it saturates, and the ablations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { grad, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { readSafetensors } from '../../src/io/index.js';
import { aggregate, logitMean, peel, peelReference, probMean } from '../../src/carso/index.js';
import { checkTensor, gradcheck } from '../helpers.js';
import { FIXTURES } from '../fixtures.js';

const fx = readSafetensors(join(FIXTURES, 'carso', 'lexsemble.safetensors')).tensors;
const get = (k: string): Tensor => fx.get(k)!;
const CASES = ['moderate.f32', 'moderate.f64', 'saturating.f32', 'saturating.f64'];

/**
 * How far lexsemble's output log(p / (1 - p)), p = softmax(sum_i exp(l_i)), can be from the
 * exact value in the logits' dtype, per entry. NOTE: where p nears 0 or 1 the log-odds lose
 * precision: the few roundings in p's exp, sum and division (4 eps absolute) land on 1 - p or
 * p relative to its own size, so the bound is 4 eps / min(p, 1 - p) plus 4 eps relative for the
 * log (2.9e-4 at the fixture's 1 - p = 8e-4 in float32, where ATen's scalar exp measured
 * 2.9e-4 and its vector exp 4e-6; in float64 everything stays below 1e-11).
 */
function lexTolerance(l: Tensor): number[] {
  const eps = l.dtype === 'float32' ? 2 ** -23 : 2 ** -52;
  const p = l.to('float64').exp().sum(0).softmax(-1).toArray();
  const out = peelReference(l.to('float64')).toArray();
  return p.map((q, i) => (4 * eps) / Math.min(q, 1 - q) + 4 * eps * Math.abs(out[i]!));
}

/** Entries of `expected` that are +-inf must be the same infinity in `actual`; finite ones within `tol` (per entry). */
function checkWithInfinities(actual: Tensor, expected: Tensor, label: string, tol: number[]): void {
  const a = actual.toArray();
  const e = expected.toArray();
  e.forEach((v, i) => {
    if (Number.isFinite(v)) assert.ok(Math.abs(a[i]! - v) <= tol[i]!, `${label}[${i}]: ${a[i]} vs ${v} (tolerance ${tol[i]})`);
    else assert.equal(a[i], v, `${label}[${i}]`);
  });
}

test('peelReference = ebtorch lexsemble computed by PyTorch, float32 infinities included', () => {
  for (const c of CASES)
    tidy(() => {
      // NOTE: both sides carry the rounding of the same float computation, hence twice the bound.
      const tol = lexTolerance(get(`${c}.logits`)).map((t) => 2 * t);
      checkWithInfinities(peelReference(get(`${c}.logits`)), get(`${c}.lexsemble`), c, tol);
    });
  // the documented saturations of carso.md 4.1 (N = 8, all samples equal): 3/1 -> (+inf, -inf); 2/1.5 -> (+inf, -23.3)
  const ref = get('saturating.f32.lexsemble').toArray();
  assert.deepEqual([ref[3], ref[0]], [Infinity, -Infinity]);
  assert.equal(ref[10 + 7], Infinity);
  assert.ok(Math.abs(ref[10]! + 23.3) < 0.05, `2/1.5 others: ${ref[10]}`);
  // 1.5/1.2: S gap 8 (e^1.5 - e^1.2) = 9.29 (the spec's K = 2 log-odds); with K = 10 the top's are 9.29 - log 9
  assert.ok(
    Math.abs(ref[20]! - (9.29 - Math.log(9))) < 0.01 && Math.abs(ref[21]! + 9.29) < 0.01,
    `1.5/1.2: ${ref[20]}, ${ref[21]}`,
  );
});

test("stable peel = reference (within the reference's own rounding) wherever the reference is finite", () => {
  for (const c of CASES)
    tidy(() => {
      const ref = get(`${c}.lexsemble`).toArray();
      const out = peel(get(`${c}.logits`)).toArray();
      // NOTE: the stable form has no 1 - p, so the reference's rounding (lexTolerance) is the whole
      // difference, plus a few roundings of the stable form itself (8 eps relative, absolute below 1).
      const eps = c.endsWith('f32') ? 2 ** -23 : 2 ** -52;
      const tol = lexTolerance(get(`${c}.logits`));
      ref.forEach((r, i) => {
        if (Number.isFinite(r)) {
          const t = tol[i]! + 8 * eps * Math.max(1, Math.abs(r));
          assert.ok(Math.abs(out[i]! - r) <= t, `${c}[${i}]: ${out[i]} vs ${r} (tolerance ${t})`);
        } else assert.ok(Number.isFinite(out[i]!) && Math.sign(out[i]!) === Math.sign(r), `${c}[${i}]: ${out[i]} for ${r}`);
      });
    });
});

test('saturating 3/1 with N = 8: stable peel finite with its closed form and finite gradients; the reference has NaN ones', () => {
  tidy(() => {
    const l = get('saturating.f32.logits').narrow(1, 0, 1).clone(); // [8, 1, 10], class 3 at 3, others at 1
    const [St, So] = [8 * Math.exp(3), 8 * Math.exp(1)];
    const want = Array.from({ length: 10 }, (_, k) =>
      k === 3 ? St - (So + Math.log(9)) : So - (St + Math.log1p(8 * Math.exp(So - St))),
    );
    checkTensor(peel(l), want, 'closed form', 1e-4, 1e-5);
    const y = tensor([3], [1], 'int64');
    for (const [f, finite] of [
      [peel, true],
      [peelReference, false],
    ] as const) {
      const x = l.detach().requiresGrad_();
      const [g] = grad(f(x).crossEntropy(y, 'sum').add(f(x).mul(0.01).sum()), [x]);
      const vals = g!.toArray();
      assert.equal(vals.every(Number.isFinite), finite, f.name);
      if (finite)
        assert.ok(
          vals.some((v) => v !== 0),
          'informative gradient',
        );
    }
  });
});

test('argmax of the stable peel = argmax of sum_i exp(l): random, tied and beyond-overflow logits, with finite outputs and gradients', () => {
  tidy(() => {
    for (const scale of [1, 10, 60]) {
      const l = randn([8, 64, 10])
        .mul(scale)
        .add(scale > 10 ? 40 : 0); // up to ~300: exp overflows float32
      const x = l.detach().requiresGrad_();
      const out = peel(x);
      assert.deepEqual(out.argmax(1).toArray(), l.logsumexp(0).argmax(1).toArray(), `scale ${scale}`);
      assert.ok(out.isfinite().all().item() === 1, `finite outputs at scale ${scale}`);
      const [g] = grad(out.logSoftmax(1).select(1, 0).sum(), [x]);
      assert.ok(g!.isfinite().all().item() === 1, `finite gradient at scale ${scale}`);
    }
    // exact ties among the top classes stay ties (the reference's finite case at any scale): 0 log-odds for two
    const tie = tensor([100, 100, 3], [1, 1, 3]);
    checkTensor(peel(tie).narrow(1, 0, 2), [0, 0], 'two-way tie', 1e-6);
  });
});

test('stable peel: float64 gradient = finite differences', () => {
  const l = randn([3, 2, 4], 'float64').mul(0.7);
  const w = randn([2, 4], 'float64');
  gradcheck((x) => peel(x).mul(w).sum(), [l], 'peel');
  gradcheck((x) => probMean(x).mul(w).sum(), [l], 'prob');
});

test('logit = mean of logits; prob = logit(mean sigmoid) as the reference, finite where it saturates', () => {
  tidy(() => {
    const l = randn([5, 3, 4], 'float64').mul(2);
    checkTensor(logitMean(l), l.mean(0), 'logit', 0, 0);
    const r = l.sigmoid().mean(0);
    checkTensor(probMean(l), r.div(r.rsub(1)).log(), 'prob', 1e-10, 1e-9);
    const big = tensor([40, -40, 30, -30], [2, 1, 2]);
    assert.ok(probMean(big).isfinite().all().item() === 1);
    checkTensor(aggregate(l, 'logit'), logitMean(l), 'by name', 0, 0);
    assert.throws(() => aggregate(l, 'votes' as never), /unknown aggregation 'votes'/);
  });
});
