// Memory scopes (tidy/keep/dispose), in-place identity, grad-mode scopes, the
// RNG (against PyTorch's torch.manual_seed streams). Thread settings: threads.test.ts.
//
// NOTE: liveTensors counts native handles; node-API finalizers of collected
// handles run in a later task, never inside these synchronous tests, so the
// before/after counts are exact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  dispose,
  enableGrad,
  getRngState,
  isGradEnabled,
  keep,
  manualSeed,
  memoryStats,
  noGrad,
  rand,
  randint,
  randn,
  randperm,
  setRngState,
  tensor,
  tidy,
  type Tensor,
} from '../../src/tensor/index.js';
import { checkTensor } from '../helpers.js';
import { fromFixture, loadFixture, type FixtureTensor } from './fixture.js';

const live = (): number => memoryStats().liveTensors;

describe('tidy', () => {
  test('frees intermediates; the returned tensor survives', () => {
    const x = tensor([1, 2, 3]);
    const base = live();
    const kept: Tensor[] = [];
    const r = tidy(() => {
      const a = x.mul(2);
      const b = a.add(1);
      kept.push(a, b);
      return b.sum();
    });
    assert.equal(live(), base + 1);
    assert.ok(kept.every((t) => t.isDisposed));
    assert.equal(r.item(), 15);
    assert.equal(x.isDisposed, false, 'inputs from outside the scope are untouched');
    r.dispose();
    x.dispose();
    assert.equal(live(), base - 1);
  });

  test('tensors inside returned arrays and plain objects survive', () => {
    const base = live();
    const r = tidy(() => {
      const a = tensor([1, 2]);
      a.neg();
      return { pair: [a, a.exp()], b: a.add(1) };
    });
    assert.equal(live(), base + 3);
    dispose(r);
    assert.equal(live(), base);
  });

  test('nested tidy hands its result to the outer scope, which frees it unless returned', () => {
    const base = live();
    let inner: Tensor | undefined;
    const outer = tidy(() => {
      inner = tidy(() => tensor([1, 2]).mul(3));
      assert.equal(live(), base + 1, 'only the inner result is left inside the outer scope');
      return inner.sum();
    });
    assert.equal(inner?.isDisposed, true, 'the inner result was not returned by the outer scope');
    assert.equal(live(), base + 1);
    assert.equal(outer.item(), 9);
    outer.dispose();
    assert.equal(live(), base);
  });

  test('frees everything on throw and rethrows', () => {
    const base = live();
    assert.throws(
      () =>
        tidy(() => {
          tensor([1, 2]).mul(2);
          tidy(() => tensor([3]));
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(live(), base);
    // A failing op inside tidy: same.
    assert.throws(() => tidy(() => tensor([1, 2]).reshape(3)), /reshape/);
    assert.equal(live(), base);
  });

  test('keep lets a tensor outlive every scope; dispose frees it', () => {
    const base = live();
    let k: Tensor | undefined;
    tidy(() =>
      tidy(() => {
        k = keep(tensor([1, 2]).mul(2));
      }),
    );
    assert.equal(live(), base + 1);
    assert.deepEqual(k?.toArray(), [2, 4]);
    k?.dispose();
    assert.equal(k?.isDisposed, true);
    k?.dispose(); // twice is harmless
    assert.equal(live(), base);
  });

  test('rejects async functions', () => {
    const base = live();
    assert.throws(() => tidy(() => Promise.resolve(1)), /synchronous/);
    assert.equal(live(), base);
  });
});

describe('handles', () => {
  test('in-place ops return the same Tensor object and create no handle', () => {
    tidy(() => {
      const x = tensor([1, 4, 9]);
      const o = tensor([1, 1, 1]);
      const base = live();
      const steps: [string, () => Tensor][] = [
        ['add_', () => x.add_(o, 2)],
        ['add_ scalar', () => x.add_(1)],
        ['mul_', () => x.mul_(o)],
        ['mul_ scalar', () => x.mul_(2)],
        ['div_', () => x.div_(o)],
        ['addcmul_', () => x.addcmul_(o, o, 0.5)],
        ['addcdiv_', () => x.addcdiv_(o, o, 0.5)],
        ['lerp_', () => x.lerp_(o, 0.5)],
        ['sqrt_', () => x.sqrt_()],
        ['clampMin_', () => x.clampMin_(2)],
        ['copy_', () => x.copy_(o)],
        ['fill_', () => x.fill_(7)],
        ['zero_', () => x.zero_()],
      ];
      for (const [name, step] of steps) assert.equal(step(), x, `${name} returns this`);
      assert.equal(live(), base, 'no new handles');
      assert.deepEqual(x.toArray(), [0, 0, 0]);
    });
  });

  test('in-place arithmetic computes in place', () => {
    tidy(() => {
      const x = tensor([1, 4, 9]);
      x.add_(tensor([1, 1, 1]), 2).mul_(2);
      x.sqrt_();
      checkTensor(x, [Math.sqrt(6), Math.sqrt(12), Math.sqrt(22)], 'x');
    });
  });

  test('an op that returns its input unchanged gives a new handle: disposing it keeps the input', () => {
    // ATen returns `self` itself from contiguous() on a contiguous tensor, to() to the
    // same dtype and a no-op flatten; a second owner must not be the same handle.
    const x = tensor([1, 2, 3, 4], [2, 2]);
    for (const y of [x.contiguous(), x.float(), x.to('float32'), x.flatten(0, 0), x.detach()]) {
      assert.notEqual(y, x);
      y.dispose();
      assert.equal(x.isDisposed, false);
    }
    assert.deepEqual(x.toArray(), [1, 2, 3, 4]);
    x.dispose();
  });

  test('.grad is a new handle each time, freed without touching the leaf', () => {
    const x = tensor([1, 2]).requiresGrad_();
    tidy(() => x.mul(x).sum().backward());
    const g = x.grad;
    assert.ok(g !== null);
    checkTensor(g, [2, 4], 'grad');
    g.dispose();
    checkTensor(x.grad ?? [], [2, 4], 'grad after disposing one handle');
    x.dispose();
  });
});

describe('grad mode', () => {
  test('noGrad switches recording off and restores it, also on throw', () => {
    tidy(() => {
      const x = tensor([1, 2]).requiresGrad_();
      assert.equal(isGradEnabled(), true);
      const y = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        assert.equal(
          enableGrad(() => x.mul(2).requiresGrad),
          true,
          'enableGrad inside noGrad',
        );
        assert.equal(isGradEnabled(), false, 'restored after enableGrad');
        return x.mul(2);
      });
      assert.equal(y.requiresGrad, false);
      assert.equal(isGradEnabled(), true);
      assert.throws(() =>
        noGrad(() => {
          throw new Error('inside');
        }),
      );
      assert.equal(isGradEnabled(), true, 'restored after a throw');
      assert.throws(() => noGrad(() => x.reshape(3)), /reshape/);
      assert.equal(isGradEnabled(), true, 'restored after a native error');
    });
  });
});

interface RngFixture {
  seed0_then: Record<'rand5' | 'randn5' | 'randn4x5', FixtureTensor>;
  seed0_randn5: FixtureTensor;
  seed1234_then: Record<'rand3x2_f64' | 'randint' | 'randperm', FixtureTensor>;
}

describe('RNG', () => {
  const RNG = Object.fromEntries(loadFixture<unknown>('rng.json')) as unknown as RngFixture;

  test('manualSeed reproduces a stream; another seed gives another', () => {
    tidy(() => {
      manualSeed(123);
      const a = rand([7]).toArray();
      manualSeed(123);
      const b = rand([7]).toArray();
      manualSeed(124);
      const c = rand([7]).toArray();
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
    });
  });

  test('streams equal PyTorch torch.manual_seed streams (rand, randn, randint, randperm)', () => {
    tidy(() => {
      // NOTE: exact equality: the same generator (mt19937) and the same transforms.
      manualSeed(0);
      checkTensor(rand([5]), fromFixture(RNG.seed0_then.rand5), 'seed 0: rand(5)', 0, 0);
      checkTensor(randn([5]), fromFixture(RNG.seed0_then.randn5), 'seed 0: then randn(5)', 0, 0);
      // randn of >= 16 elements takes libtorch's vectorised path (AVX2 kernel: the fixture's) when the CPU
      // has AVX2, and the scalar one under ATEN_CPU_CAPABILITY=default. The uniform draws are the same
      // either way; Box-Muller's log, sqrt and cos then come from two float32 implementations, a few ulp
      // apart each: measured 5.4e-7 max (|z| < 2 here). NOTE: 4e-6 absolute bounds a few ulp of each
      // function at |z| <= 6 (|dz| <= |r| * 8 eps + 8 eps); a different stream differs by O(1).
      checkTensor(randn([4, 5]), fromFixture(RNG.seed0_then.randn4x5), 'seed 0: then randn(4, 5)', 4e-6, 0);
      manualSeed(0);
      checkTensor(randn([5]), fromFixture(RNG.seed0_randn5), 'seed 0: randn(5)', 0, 0);
      manualSeed(1234);
      const s = RNG.seed1234_then;
      checkTensor(rand([3, 2], 'float64'), fromFixture(s.rand3x2_f64), 'seed 1234: rand(3, 2) float64', 0, 0);
      const ri = randint(0, 10, [6]);
      assert.equal(ri.dtype, 'int64');
      checkTensor(ri, fromFixture(s.randint), 'then randint(0, 10, [6])', 0, 0);
      checkTensor(randperm(6), fromFixture(s.randperm), 'then randperm(6)', 0, 0);
    });
  });

  test('getRngState/setRngState replays the stream', () => {
    tidy(() => {
      manualSeed(5);
      randn([3]);
      const state = getRngState();
      const a = randn([20]).toArray();
      const d1 = tensor(new Array(8).fill(1)).dropout(0.5, true).toArray();
      setRngState(state);
      assert.deepEqual(randn([20]).toArray(), a);
      assert.deepEqual(tensor(new Array(8).fill(1)).dropout(0.5, true).toArray(), d1);
    });
  });

  test('manualSeed rejects a negative or fractional seed', () => {
    assert.throws(() => manualSeed(-1), /non-negative integer/);
    assert.throws(() => manualSeed(1.5), /non-negative integer/);
  });
});
