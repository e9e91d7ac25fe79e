// The NaN early stop (stop.ts) in APGD and PGD: points whose gradients are NaN
// from the start leave the batch after `stopNonFinite` evaluations, unmoved and
// flagged; the other points end exactly as in a run without the stop; the stop
// spends fewer forward passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APGD } from '../../src/attacks/apgd.js';
import { PGD } from '../../src/attacks/pgd.js';
import type { Attack, Model } from '../../src/attacks/types.js';
import { NonFiniteStop } from '../../src/attacks/stop.js';
import { keep, tensor, tidy } from '../../src/tensor/index.js';
import { checkTensor } from '../helpers.js';
import { convNet } from './models.js';

const base = convNet(4, 3);
// sqrt(x₀ − 0.5) · 0 is NaN where the first pixel is below 0.5: NaN logits, loss and gradient everywhere there
// (every iterate stays below 0.5 at eps 0.05), 0 elsewhere
let rows = 0; // inputs the model classified (the work the stop saves)
const model: Model = {
  stochastic: false,
  forward: (x) => {
    rows += x.size(0);
    return base.forward(x).add(x.flatten(1).select(1, 0).sub(0.5).sqrt().mul(0).view(-1, 1));
  },
};
const firsts = [0.1, 0.9, 0.2, 0.8, 0.7, 0.15];
const X = keep(
  tensor(
    Array.from({ length: firsts.length * 64 }, (_, k) => (k % 64 === 0 ? firsts[k / 64]! : ((k * 37) % 101) / 101)),
    [firsts.length, 1, 8, 8],
  ),
);
// labels: the clean prediction for the finite points, class 0 where NaN (argmax of NaN logits)
const Y = keep(tidy(() => model.forward(X).argmax(1)));
const nan = firsts.map((f) => f < 0.5);

const attacks: [string, (stop: number) => Attack][] = [
  ['apgd-ce', (stop) => new APGD({ eps: 0.05, nIter: 20, nRestarts: 2, stopNonFinite: stop })],
  ['apgd-dlr', (stop) => new APGD({ eps: 0.05, nIter: 20, loss: 'dlr', stopNonFinite: stop })],
  ['pgd', (stop) => new PGD({ eps: 0.05, steps: 20, stopNonFinite: stop })],
];

for (const [name, make] of attacks)
  test(`${name}: NaN points stop after k evaluations, unmoved; the finite ones end as without the stop`, () => {
    rows = 0;
    const off = make(0).attack(model, X, Y);
    const rowsOff = rows;
    rows = 0;
    const on = make(3).attack(model, X, Y);
    const rowsOn = rows;
    assert.deepEqual(
      on.stopped,
      nan.map((f) => (f ? 'non-finite-gradients' : null)),
    );
    assert.deepEqual(
      off.stopped,
      nan.map(() => null),
    );
    nan.forEach((f, i) => {
      if (f) assert.equal(on.moved![i], 0, `point ${i}: never moved`);
      else assert.ok(on.moved![i]! > 0, `point ${i}: moved`);
    });
    assert.deepEqual(on.success, off.success);
    assert.deepEqual(on.nanGrad, nan);
    // NOTE: the finite points run in a smaller batch once the NaN ones leave; a conv over another batch
    // size may sum in another order, so 1e-6 (float32, 20 steps of eps-sized moves), not bit equality
    checkTensor(on.xAdv, off.xAdv, `${name} xAdv`, 1e-6, 0);
    assert.ok(rowsOn < 0.7 * rowsOff, `${rowsOn} inputs classified with the stop, ${rowsOff} without`);
    [on.xAdv, off.xAdv].forEach((t) => t.dispose());
  });

test('NonFiniteStop: only a run of non-finite evaluations from the start counts; 0 never stops', () => {
  const s = new NonFiniteStop(2, 3);
  assert.equal(s.update([0, 1, 2], [true, false, true]), null);
  assert.deepEqual(s.update([0, 1, 2], [true, true, false]), [false, true, true]);
  // point 1 had a finite evaluation first: it never stops; point 2 broke its run
  assert.equal(s.update([1, 2], [true, true]), null);
  assert.equal(new NonFiniteStop(0, 1).update([0], [true]), null);
  assert.throws(() => new NonFiniteStop(-1, 1), /stopNonFinite must be an integer >= 0/);
});
