// The original AutoAttack's NaN semantics (issue 13): on a model whose output
// saturates to +-inf (the reference float32 aggregation), carso's cascade reports
// the same per-point robust flags as fra31's own code (test/fixtures/autoattack/
// gen_aa_nan.py ran it: commit a3922004), raises no warning under fra31Warnings
// (the original prints none), and with the NaN early stop (stop.ts) stops exactly
// the saturated points without changing a flag.
//
// Why the flags can be compared although the two draw different random numbers:
// the generator builds the points so that each outcome holds for every random
// stream (see its header): saturated points never move and stay correct, finite
// ones are broken or kept by margins of 9+ noise standard deviations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Model } from '../../src/attacks/index.js';
import { peelReference } from '../../src/carso/aggregation.js';
import { runAutoAttack, type AutoAttackOptions } from '../../src/eval/autoattack.js';
import { keep, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';

interface Run {
  robust: boolean[];
  clean_output_nonfinite: boolean[];
  warnings: string[];
  log: string[];
}
interface Fixture {
  eps: number;
  model: { W: number[][]; b: number[]; samples: number; sigma: number; shape: number[] };
  x: number[];
  y: number[];
  kinds: string[];
  runs: { rand: Run; custom: Run };
}
const F = JSON.parse(readFileSync(new URL('../fixtures/autoattack/aa_nan.json', import.meta.url), 'utf8')) as Fixture;
const n = F.y.length;
const K = F.model.b.length;
const W = keep(tensor(F.model.W.flat(), [K, F.model.W[0]!.length]));
const b = keep(tensor(F.model.b, [K]));
const X = keep(tensor(F.x, [n, ...F.model.shape]));
const Y = keep(tensor(F.y, [n], 'int64'));

/** The generator's model: l = W x + b, N noisy copies (sigma), lexsemble as the reference computes it (peel-reference). */
function saturating(sigma: number): Model {
  const N = F.model.samples;
  return {
    stochastic: sigma > 0,
    forward: (x: Tensor) =>
      tidy(() => {
        const l = x.flatten(1).linear(W, b); // [B, K]
        const ls = l.unsqueeze(0).expand(N, x.size(0), K);
        return peelReference(sigma > 0 ? ls.add(randn([N, x.size(0), K]).mul(sigma)) : ls);
      }),
  };
}

const saturated = F.kinds.map((k) => k === 'saturated');

for (const [name, sigma] of [
  ['rand', F.model.sigma],
  ['custom', 0],
] as const)
  for (const stopNonFinite of [0, 3])
    test(`${name}: robust flags = fra31's, no warning (NaN early stop ${stopNonFinite || 'off'})`, () => {
      const fixture = F.runs[name];
      assert.deepEqual(fixture.warnings, [], 'the original printed no warning');
      const model = saturating(sigma);
      const clean = tidy(() => model.forward(X).isfinite().logicalNot().sum(1).gt(0).toArray()).map((v) => v !== 0);
      assert.deepEqual(clean, fixture.clean_output_nonfinite, 'the same points saturate');
      const stop = { stopNonFinite };
      const o: AutoAttackOptions =
        name === 'rand'
          ? { norm: 'Linf', eps: F.eps, version: 'rand', overrides: { 'apgd-ce': stop, 'apgd-dlr': stop } }
          : {
              norm: 'Linf',
              eps: F.eps,
              version: 'custom',
              attacks: ['apgd-ce', 'apgd-dlr'],
              overrides: { 'apgd-ce': stop, 'apgd-dlr': stop },
            };
      const warnings: string[] = [];
      const r = runAutoAttack(model, X, Y, {
        ...o,
        batchSize: n,
        fra31Warnings: true,
        onWarning: (w) => warnings.push(w.message),
      });
      r.xAdv.dispose();
      assert.deepEqual(r.robustFlags, fixture.robust, 'per-point robust flags');
      assert.deepEqual(warnings, []);
      // what carso records beyond fra31: the saturated points had NaN gradients and (early stop) were stopped, unmoved
      r.robustFlags.forEach((rb, i) => {
        if (!saturated[i] || !rb) return;
        assert.equal(r.stopped[i], stopNonFinite > 0 ? 'non-finite-gradients' : null, `point ${i} stopped`);
        assert.equal(r.moved[i], 0, `point ${i} never moved`);
      });
      assert.equal(r.nanGrad.robust, saturated.filter((s, i) => s && fixture.robust[i]).length);
      for (const [i, kind] of F.kinds.entries())
        if (kind === 'breakable' || kind === 'robust-finite') assert.ok((r.moved[i] ?? 0) > 0, `point ${i} (${kind}) moved`);
    });

test('without fra31Warnings the NaN points counted robust are a warning', () => {
  const warnings: string[] = [];
  const r = runAutoAttack(saturating(0), X, Y, {
    norm: 'Linf',
    eps: F.eps,
    version: 'custom',
    attacks: ['apgd-ce'],
    overrides: { 'apgd-ce': { nIter: 5, nRestarts: 1 } },
    onWarning: (w) => warnings.push(w.check),
  });
  r.xAdv.dispose();
  assert.deepEqual(warnings, ['nan-gradients']);
});
