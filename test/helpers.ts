// Test helpers: compare tensors with explanations (llm.c's checkTensor), and
// check gradients against central finite differences in float64.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { Tensor, tensor, grad, tidy } from '../src/tensor/index.js';

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise; on
 * failure the message lists the first mismatches and the max difference.
 * With CARSO_TOLERANCE_LOG=<file> set, every call appends a JSON line (label, max
 * |diff|, the largest fraction of its tolerance used): how tolerances are calibrated
 * across CPU kernels (issue 12), never set in `make test`.
 */
export function checkTensor(
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | ArrayLike<number>,
  label: string,
  atol = 1e-5,
  rtol = 1e-5,
): void {
  const a = actual instanceof Tensor ? actual.toFloat64Array() : Float64Array.from(actual);
  const e = expected instanceof Tensor ? expected.toFloat64Array() : Float64Array.from(expected);
  if (actual instanceof Tensor && expected instanceof Tensor)
    assert.deepEqual(
      actual.shape,
      expected.shape,
      `${label}: shape [${actual.shape.join(', ')}] != [${expected.shape.join(', ')}]`,
    );
  assert.equal(a.length, e.length, `${label}: ${a.length} elements, expected ${e.length}`);
  let maxDiff = 0;
  let used = 0;
  const bad: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (e[i] as number));
    const bound = atol + rtol * Math.abs(e[i] as number);
    const ok = d <= bound || (Number.isNaN(a[i]) && Number.isNaN(e[i]));
    if (!Number.isNaN(d)) maxDiff = Math.max(maxDiff, d);
    if (!Number.isNaN(d)) used = Math.max(used, d === 0 ? 0 : d / bound);
    if (!ok && bad.length < 5) bad.push(`[${i}] ${a[i]} vs ${e[i]}`);
    if (!ok && bad.length === 5) bad.push('...');
  }
  const log = process.env['CARSO_TOLERANCE_LOG'];
  if (log !== undefined) appendFileSync(log, `${JSON.stringify({ label, maxDiff, used, atol, rtol })}\n`);
  assert.ok(
    bad.length === 0,
    `${label}: mismatch (max |diff| ${maxDiff.toExponential(3)}, atol ${atol}, rtol ${rtol}): ${bad.join('; ')}`,
  );
}

/** One unit in the last place at 1 in `dtype` (float32 2^-23, float64 2^-52). */
export const ulpOne = (dtype: string): number => (dtype === 'float64' ? 2 ** -52 : 2 ** -23);

/**
 * Compares values drawn by a seeded initialisation with PyTorch's draws. NOTE: the
 * random stream is the same, so the only freedom is the rounding of u -> a + (b - a) u
 * (a = -bound, b = bound): ATen's vector kernel (AVX2, AVX-512) fuses it into one rounding,
 * its portable kernel (ATEN_CPU_CAPABILITY=default) rounds the product (at most 2 bound)
 * first, so a draw may move by half an ulp of 2 bound. Every uniform init here has
 * bound = 1/sqrt(fan_in) <= 1, hence ulp(1) (2^-23 in float32; measured 1.5e-8 to 3e-8),
 * far below what a different stream or order gives (differences of the order of the bound).
 */
export function checkDraws(actual: Tensor, expected: Tensor, label: string): void {
  const largest = tidy(() => (expected.numel === 0 ? 0 : expected.abs().max().item()));
  assert.ok(largest <= 1, `${label}: draws up to ${largest}, beyond the bound 1 this tolerance assumes`);
  checkTensor(actual, expected, label, ulpOne(expected.dtype), 0);
}

/**
 * Checks d f(inputs) / d inputs from autograd against central finite
 * differences (step h) in float64. `f` must return a scalar tensor and be
 * deterministic; inputs are float64 tensors (cloned and perturbed here).
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], label: string, h = 1e-6, tol = 1e-5): void {
  tidy(() => {
    const xs = inputs.map((x) => {
      assert.equal(x.dtype, 'float64', `${label}: gradcheck needs float64 inputs`);
      return x.detach().clone().requiresGrad_();
    });
    const analytic = grad(f(...xs), xs).map((g, i) => (g ?? xs[i]!.mul(0)).toFloat64Array());
    xs.forEach((x, k) => {
      const base = x.toFloat64Array();
      const numeric = new Float64Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const eval1 = (delta: number): number =>
          tidy(() => {
            const p = Float64Array.from(base);
            p[i] = (p[i] as number) + delta;
            const xp = xs.map((y, j) => (j === k ? tensor(p, x.shape, 'float64') : y.detach()));
            return f(...xp).item();
          });
        numeric[i] = (eval1(h) - eval1(-h)) / (2 * h);
      }
      checkTensor(analytic[k]!, numeric, `${label}: d/d input ${k}`, tol, tol);
    });
  });
}
