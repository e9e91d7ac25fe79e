// Taps: outputs of named modules in execution order, with their autograd graph,
// owned by the caller's scope (nothing leaks), hooks silent outside a capture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, memoryStats, noGrad, rand, tidy, type Tensor } from '../../src/tensor/index.js';
import { Identity, Linear, Module, ReLU, Sequential, Tanh } from '../../src/nn/index.js';
import { Taps } from '../../src/carso/index.js';
import { checkTensor } from '../helpers.js';

/** Runs its children in reverse registration order: execution order != name order. */
class Reversed extends Module {
  readonly a = this.addModule('a', new Linear(4, 2));
  readonly b = this.addModule('b', new Linear(4, 4));
  forward(x: Tensor): Tensor {
    return tidy(() => this.a.call(this.b.call(x).tanh()));
  }
}

/** Has a child its forward never calls. */
class Idle extends Module {
  readonly used = this.addModule('0', new Linear(3, 3));
  readonly unused = this.addModule('unused', new Linear(3, 3));
  forward(x: Tensor): Tensor {
    return this.used.call(x);
  }
}

const net = (): Sequential =>
  new Sequential(new Linear(3, 4), new Tanh(), new Sequential(new Linear(4, 4), new ReLU()), new Reversed());

test('capture: outputs in execution order, equal to the modules outputs, differentiable w.r.t. the input', () => {
  const m = net();
  const taps = new Taps(m, ['3.a', '0', '2.0', '3.b']);
  tidy(() => {
    const x = rand([2, 3]).requiresGrad_();
    const { output, taps: t, order } = taps.capture(x);
    assert.deepEqual(order, ['0', '2.0', '3.b', '3.a']);
    assert.deepEqual(
      t.map((v) => v.shape),
      [
        [2, 4],
        [2, 4],
        [2, 4],
        [2, 2],
      ],
    );
    checkTensor(t[3]!, output, 'the last tap is the output');
    // recomputed by hand: tap '2.0' = Linear_2.0(tanh(Linear_0(x)))
    const direct = ((m.at(2) as Sequential).at(0) as Linear).call((m.at(0) as Linear).call(x).tanh());
    checkTensor(t[1]!, direct, "tap '2.0'");
    const [g] = grad(t[1]!.square().sum(), [x]);
    const [gDirect] = grad(direct.square().sum(), [x]);
    assert.ok(g!.abs().sum().item() > 0, 'the tap carries its graph');
    checkTensor(g!, gDirect!, 'gradient through the tap');
  });
  taps.remove();
});

test('no leaks: everything a capture makes is freed by the enclosing tidy; hooks idle outside captures', () => {
  const m = net();
  const taps = new Taps(m, ['0', '2.0', '3.a']);
  const x = rand([2, 3]);
  const before = memoryStats().liveTensors;
  noGrad(() => tidy(() => void taps.capture(x)));
  noGrad(() => tidy(() => void m.call(x))); // hooks fire but record nothing
  assert.equal(memoryStats().liveTensors, before);
  taps.remove();
  x.dispose();
});

test("a tapped module that returns its input (Identity) leaves the caller's tensor alone", () => {
  const m = new Sequential(new Identity(), new Linear(3, 2));
  const taps = new Taps(m, ['0']);
  const x = rand([2, 3]);
  const t = noGrad(() => tidy(() => taps.capture(x).taps[0]!.clone()));
  assert.equal(x.isDisposed, false);
  checkTensor(t, x, 'the Identity tap');
  taps.remove();
});

test('errors: unknown or repeated names; a tapped module that does not run (nothing leaks); remove()', () => {
  const m = net();
  assert.throws(() => new Taps(m, ['0', 'nope', '9']), /no module\(s\) nope, 9/);
  assert.throws(() => new Taps(m, ['0', '0']), /named twice/);
  const idle = new Idle();
  const taps = new Taps(idle, ['0', 'unused']);
  const before = memoryStats().liveTensors;
  assert.throws(() => noGrad(() => tidy(() => taps.capture(rand([1, 3])))), /unused did not run/);
  assert.equal(memoryStats().liveTensors, before, 'nothing leaked on the error path');
  taps.remove();
  // after remove() the hooks are gone: a later capture-free forward records nothing and a new Taps works
  const again = new Taps(idle, ['0']);
  assert.equal(
    noGrad(() => tidy(() => again.capture(rand([1, 3])).taps.length)),
    1,
  );
  again.remove();
});
