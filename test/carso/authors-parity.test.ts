// Parity with the CARSO authors' own code (emaballarin/CARSO + ebtorch, run by
// test/fixtures/carso/gen_authors.py, which names the commits): carso's CARSO, loaded from the
// authors' checkpoint layout with the same weights, against what their CARSOWrap, lexsemble,
// beta_reco_bce_splitout, RAdam + Lookahead and schedulers computed, for the CIFAR-10 geometry
// (WRN-28-2, the 26 taps) and the TinyImageNet geometry (WRN-28-1, 64x64, 4-conv compressors).
// Exactness is checked in float64 (both sides cast; differences are summation order only); the
// float32 runs check what only float32 shows: where lexsemble saturates to +-inf, and training.
// PARITY_REPORT=1 prints every comparison's max differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, noGrad, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { betaAt, countVotes, logitMean, peel, peelReference, probMean, purifierLoss } from '../../src/carso/index.js';
import { carsoTraining } from '../../src/optim/index.js';
import { checkTensor } from '../helpers.js';
import {
  authorsCarso,
  fillTensor,
  hotSpecs,
  readAuthorsFixture,
  setClassifier,
  type AuthorsGeometry,
} from './authors-fixture.js';

/** checkTensor, with the max differences printed under PARITY_REPORT. */
function compare(label: string, actual: Tensor, expected: Tensor, atol: number, rtol = 0): void {
  if (process.env['PARITY_REPORT'])
    tidy(() => {
      const d = actual.to('float64').sub(expected.to('float64')).abs();
      const fin = d.isfinite();
      const maxAbs = d.maskedFill(fin.logicalNot(), 0).max().item();
      console.log(
        `${label}: max |diff| ${maxAbs.toExponential(3)}, max |expected| ${expected.abs().max().item().toExponential(3)}`,
      );
    });
  checkTensor(actual, expected, label, atol, rtol);
}

/** NOTE: tolerances relative to a tensor's own scale: max |t| over its finite entries. */
const scale = (t: Tensor): number => tidy(() => t.abs().maskedFill(t.isfinite().logicalNot(), 0).max().item());

/** The +inf and -inf masks of t, as nested arrays. */
const infs = (t: Tensor): unknown[] => tidy(() => [t.eq(Infinity).toArray(), t.eq(-Infinity).toArray()]);

/** t's finite entries (positions where `fin`), others zeroed: compare two such with the same mask. */
const finite = (t: Tensor, fin: Tensor): Tensor => t.maskedFill(fin.logicalNot(), 0);

/**
 * actual = ref where ref (a float64 log(p / (1 - p)), as lexsemble and the prob ablation compute it) is
 * finite. NOTE: that form has absolute error ~ ulp(1) / min(p, 1 - p) (p carries ulp(1) absolute
 * error, the log amplifies it by 1 / (p (1 - p))); the bound is 8 such ulps plus 1e-12.
 */
function checkLogOdds(actual: Tensor, ref: Tensor, label: string): void {
  tidy(() => {
    const p = ref.sigmoid();
    const bound = p
      .minimum(p.rsub(1))
      .reciprocal()
      .mul(8 * 2 ** -52)
      .add(1e-12);
    const ok = actual.sub(ref).abs().le(bound).logicalOr(ref.isfinite().logicalNot());
    assert.ok(ok.all().item(), label);
  });
}

test("lexsemble: peel-reference = the authors' function in float32 (+-inf at the same places); stable peel = it where finite", () => {
  const f = readAuthorsFixture('lexsemble');
  for (const s of ['0.5', '2.0', '6.0']) {
    tidy(() => {
      const l32 = f.get(`lexsemble.${s}.f32.in`);
      const ref32 = f.get(`lexsemble.${s}.f32.out`);
      const ours = peelReference(l32);
      // the same positions of +inf and -inf (the generator keeps only points whose gaps S_top - S_k are
      // clear of both float32 thresholds, ~16.6 and ~104, by 4 or more: exp rounding cannot flip them)
      assert.deepEqual(infs(ours), infs(ref32), `scale ${s}: +inf and -inf positions`);
      const fin = ref32.isfinite();
      // NOTE: the same five float32 ops on 8 x 10 values (exp, sum, softmax, divide, log): a few ulps of
      // |out| + 1, the log's argument p / (1 - p) carrying a few ulps of relative error.
      compare(`lexsemble ${s} f32`, finite(ours, fin), finite(ref32, fin), 1e-5, 1e-5);
      // float64: the stable form against lexsemble where lexsemble is finite
      checkLogOdds(peel(f.get(`lexsemble.${s}.f64.in`)), f.get(`lexsemble.${s}.f64.out`), `scale ${s}: stable peel (f64)`);
      if (s === '6.0') assert.ok(!fin.all().item(), 'the largest scale saturates');
    });
  }
});

test("the ablations of tooling/aggregation.py: count exactly, logit, prob (carso's stable form = theirs where finite)", () => {
  const f = readAuthorsFixture('lexsemble');
  for (const s of ['0.5', '2.0', '6.0']) {
    tidy(() => {
      const l32 = f.get(`lexsemble.${s}.f32.in`);
      // floor(l / max l) of the same float32 quotients, summed as small integers: exact
      compare(`count ${s}`, countVotes(l32), f.get(`count.${s}.f32.out`), 0);
      // NOTE: a mean of 8 float32 values: a few ulps of the largest
      compare(`logit ${s}`, logitMean(l32), f.get(`logit.${s}.f32.out`), 1e-6 * scale(f.get(`logit.${s}.f32.out`)));
      // prob: theirs is log(r / (1 - r)) of r = mean sigmoid, ill-conditioned as lexsemble's
      checkLogOdds(probMean(f.get(`lexsemble.${s}.f64.in`)), f.get(`prob.${s}.f64.out`), `prob ${s} (f64)`);
      assert.ok(probMean(l32).isfinite().all().item(), `prob ${s}: carso's form stays finite where theirs saturates`);
    });
  }
});

for (const g of ['cifar10', 'tiny'] as AuthorsGeometry[]) {
  test(`${g}: the authors' pipeline in float64: condition, reconstructions, logits, aggregated output, input gradient`, () => {
    const f = readAuthorsFixture(g);
    const { carso, dispose } = authorsCarso(f, { aggregation: 'peel-reference', encoder: true });
    carso.classifier.to('float64');
    carso.purifier.to('float64');
    tidy(() => {
      const x = f.get('in.x').to('float64');
      const z = f.get('in.z').to('float64'); // [N, B, d]
      const [N, B] = z.shape as [number, number];
      const { cond, xhat, logits } = noGrad(() => {
        const c = carso.condition(x);
        const xh = carso.purifier.decode(z.reshape(N * B, -1), c.repeat(N, 1));
        return { cond: c, xhat: xh.view(N, B, ...xh.shape.slice(1)), logits: carso.classifier.call(xh).view(N, B, -1) };
      });
      // NOTE (float64, both sides): the longest reductions are the condition FC (29 408 / 37 760 inputs)
      // and the WRN's 3x3x640 convs; summation order alone leaves ~1e-13 relative. 1e-9 of each
      // tensor's scale leaves four orders of margin and still fails any real deviation.
      compare(`${g} condition`, cond, f.get('eval64.cond'), 1e-9 * scale(f.get('eval64.cond')));
      // NOTE: the reference reconstructions and input gradient are stored rounded to float32 (size):
      // 2^-24 relative on top of the float64 tolerance.
      compare(`${g} reconstructions`, xhat.narrow(0, 0, 1), f.get('eval64.xhat'), 1e-9, 2 ** -24);
      compare(`${g} logits`, logits, f.get('eval64.logits'), 1e-9 * scale(f.get('eval64.logits')));
      const out = noGrad(() => carso.forwardWithLatents(x, z));
      compare(`${g} CARSOWrap.forward`, out, f.get('grad.out64'), 1e-9 * scale(f.get('grad.out64')));
      // input gradient of sum(w * out): the stable form has the reference's value and gradient where finite
      carso.aggregation = 'peel';
      const xr = x.detach().requiresGrad_();
      const [gx] = grad(carso.forwardWithLatents(xr, z).mul(f.get('grad.w')).sum(), [xr]);
      compare(`${g} input gradient`, gx!, f.get('grad.x'), 1e-9 * scale(f.get('grad.x')), 2 ** -24);
      // the training forward (BatchNorms on batch statistics; last, as it moves their running statistics)
      carso.train();
      const t = carso.forwardTrain(f.get('train64.data').to('float64'), f.get('train64.eps'));
      compare(`${g} encoder mean`, t.mu, f.get('train64.mu'), 1e-9 * scale(f.get('train64.mu')));
      compare(`${g} encoder log-variance`, t.logvar, f.get('train64.logvar'), 1e-9 * scale(f.get('train64.logvar')));
      compare(`${g} training reconstruction`, t.xHat, f.get('train64.xhat'), 1e-9, 2 ** -24);
    });
    dispose();
  });

  test(`${g}: float32 saturation as the authors' code gives it: +-inf at the same places`, () => {
    const f = readAuthorsFixture(g);
    const { carso, dispose } = authorsCarso(f, { aggregation: 'peel-reference' });
    tidy(() => {
      const x = f.get('in.x');
      const z = f.get('in.z');
      const out = noGrad(() => carso.forwardWithLatents(x, z));
      compare(`${g} f32 output`, out, f.get('eval.out'), 1e-4 * scale(f.get('eval.out')));
      for (const tag of ['hot', 'hotter'] as const) {
        setClassifier(carso, hotSpecs(f, tag));
        const o = noGrad(() => carso.forwardWithLatents(x, z));
        const ref = f.get(`${tag}.out`);
        assert.deepEqual(infs(o), infs(ref), `${g} ${tag}: +inf and -inf positions`);
        const fin = ref.isfinite();
        compare(`${g} ${tag} finite entries`, finite(o, fin), finite(ref, fin), 1e-3 * scale(ref));
      }
      assert.ok(f.get('hot.grad.x').isnan().all().item(), "the authors' input gradient is NaN where lexsemble saturates");
    });
    dispose();
  });

  test(`${g}: where the authors' gradient is NaN (saturated), the stable form's is finite and = float64 finite differences`, () => {
    const f = readAuthorsFixture(g);
    const { carso, dispose } = authorsCarso(f, { aggregation: 'peel' });
    setClassifier(carso, hotSpecs(f, 'hot'));
    carso.classifier.to('float64');
    carso.purifier.to('float64');
    tidy(() => {
      const x = f.get('in.x').to('float64');
      const z = f.get('in.z').to('float64');
      const w = f.get('grad.w');
      const fx = (xi: Tensor): number => noGrad(() => carso.forwardWithLatents(xi, z).mul(w).sum().item());
      const xr = x.detach().requiresGrad_();
      const [gx] = grad(carso.forwardWithLatents(xr, z).mul(w).sum(), [xr]);
      assert.ok(gx!.isfinite().all().item() && gx!.abs().max().item() > 0, 'finite, nonzero gradient');
      // central differences along the input coordinates of largest |gradient|, one pixel at a time (moving
      // every pixel at once crosses LeakyReLU kinks). Measured on Prescott, Haswell and SkylakeX kernels:
      // FD(h) for h 1e-5 and 2.5e-6 agree with each other and with the gradient to 2e-8..5e-7 relative
      // (rounding ~eps64 |terms| / h; the sum of weighted logits cancels, so |terms| >> |f|), while a
      // kink within h moves FD by 1e-4..5e-4 relative. So 1e-5 separates the two with >= 20x margin on
      // both sides: a pixel with |FD(h) - FD(h/4)| above it has a kink within h and is skipped (the
      // wide WRN has kinks near most pixels: 1 of the top 4 was kink-free), and every other pixel must
      // match the gradient. A wrong gradient is off by O(1), not 1e-5.
      const ga = gx!.toFloat64Array();
      const top = [...ga.keys()].sort((a, b) => Math.abs(ga[b]!) - Math.abs(ga[a]!)).slice(0, 16);
      const fd = (i: number, h: number): number => {
        const e = new Float64Array(ga.length);
        e[i] = h;
        const v = tensor(e, x.shape, 'float64');
        return (fx(x.add(v)) - fx(x.sub(v))) / (2 * h);
      };
      let checked = 0;
      for (const i of top) {
        if (checked === 4) break; // enough: each FD pair is 4 float64 passes of the whole pipeline
        const [a, b] = [fd(i, 1e-5), fd(i, 2.5e-6)];
        if (Math.abs(a - b) > 1e-5 * Math.abs(b)) continue; // a kink within h
        checked += 1;
        assert.ok(Math.abs(b - ga[i]!) <= 1e-5 * Math.abs(ga[i]!), `${g}: d/dx[${i}] ${ga[i]} vs finite differences ${b}`);
      }
      assert.ok(checked >= 3, `${g}: only ${checked} of 16 pixels free of kinks within h`);
    });
    dispose();
  });
}

test("cifar10: one batch per epoch through train_a.py's loop, 7 steps: loss, lr, RAdam + Lookahead weights and BatchNorm statistics", () => {
  const f = readAuthorsFixture('cifar10');
  const { carso, dispose } = authorsCarso(f, { encoder: true });
  const names = JSON.parse(f.meta['train_params']!) as string[];
  assert.deepEqual(
    carso.purifier.namedParameters().map(([k]) => k),
    names,
    "the optimised parameters, in the authors' order",
  );
  const data = f.get('train.data');
  const target = f.get('train.target');
  const eps = f.get('train.eps'); // [steps, B, latent]
  const steps = eps.size(0);
  // the generator's learning-rate scale (a per-GPU batch of 4 / 16: see train_lr_batch in gen_authors.py)
  const { opt, sched } = carsoTraining(carso.purifierParameters(), 200, Number(f.meta['train_lr_batch']));
  carso.train();
  const losses: number[][] = [];
  const lrs: number[] = [];
  for (let step = 0; step < steps; step++) {
    lrs.push(sched.lastLr()[0]!);
    tidy(() => {
      opt.zeroGrad();
      const out = carso.forwardTrain(data, eps.select(0, step));
      if (step === 0) {
        // NOTE (float32, same libtorch kernels; summation order differs in the 29 408-long condition FC):
        // measured 1e-6 of scale; 1e-4 of scale bounds it on any CPU.
        compare('train mu', out.mu, f.get('train.mu'), 1e-4 * scale(f.get('train.mu')));
        compare('train logvar', out.logvar, f.get('train.logvar'), 1e-4 * scale(f.get('train.logvar')));
        compare('train xhat', out.xHat, f.get('train.xhat'), 1e-5);
      }
      // NOTE: beta 0.5 as the generator (the schedule's beta is 0 in these epochs; 0.5 makes the KL count)
      const r = purifierLoss(out, target, 0.5);
      r.loss.backward();
      opt.step();
      // NOTE: ebtorch's beta_reco_bce_splitout returns the KL term times beta; carso's purifierLoss the KL itself
      losses.push([r.loss.item(), r.bce.item(), 0.5 * r.kld.item()]);
    });
    sched.step();
  }
  // NOTE: the schedule's closed form here, PyTorch's chainable LinearLR there: float64 rounding only
  compare('lr per step', tensor(lrs, [steps], 'float64'), f.get('train.lr'), 0, 1e-12);
  // NOTE (why the later steps get wider tolerances than step 0): BatchNorm on batch statistics over 4 rows
  // divides by sqrt(batch variance + 1e-5), tiny for features the 4 inputs share, so float32 differences
  // between OpenBLAS kernels (~1e-6 relative in the forward) grow ~100x per step along the trajectory.
  // Measured against this fixture (made on AVX-512): the same kernel 1.2e-7 relative at every step;
  // OPENBLAS_CORETYPE=Haswell 1e-5 at step 3, 2.3e-4 (loss) and 8e-4 (KL) at step 5.
  // Step 0 (forward only): sums of 4 x 3 x 32 x 32 BCE and 4 x 128 KL terms, 1e-5 relative.
  const stepTol = (k: number): number => (k === 0 ? 1e-5 : 1e-2);
  const own0 = tensor(losses.flat(), [steps, 3], 'float64');
  for (let k = 0; k < steps; k++)
    compare(`loss, bce, kld at step ${k}`, own0.select(0, k), f.get('train.loss').select(0, k), 0, stepTol(k));
  const own = new Map(carso.purifier.namedParameters());
  tidy(() => {
    const norms = tensor(
      names.map((k) => tidy(() => own.get(k)!.to('float64').square().sum().sqrt().item())),
      [names.length],
      'float64',
    );
    // NOTE: the updates are ~1e-4 of the weights; even 5% apart (the trajectory note above) they move the
    // norms by 5e-6: measured 2e-8 relative on the same kernel, 6e-8 under Haswell
    compare('norm of every parameter after the last step', norms, f.get('train.norms'), 0, 1e-5);
    for (const [key, ref] of [...f.group('train.after')]) {
      const name = key.replace(/\.sample$/, '');
      const stride = name === 'repr_fcn_compressor.1.0.weight' ? 997 : name === 'joint_fcn_compressor.1.0.weight' ? 13 : 1;
      const every = (t: Tensor): Tensor => t.reshape(-1).slice(0, 0, t.numel, stride);
      const w = every(own.get(name)!);
      // the update itself: compare (after - before), before being the fill (exact on both sides)
      const before = every(fillTensor(f.specs.find((s) => s[0] === name)!));
      const dRef = ref.reshape(-1).sub(before);
      // NOTE: the update is known to the float32 rounding of the weights, applied 7 times (4 ulps of their
      // scale, 2^-21), plus the trajectory's growth of kernel differences (note above), which RAdam passes
      // on: measured 1 ulp of the weights on the same kernel, up to 4.5% of the update's scale under
      // OPENBLAS_CORETYPE=Haswell. 20% of it still fails a wrong Lookahead alpha or k or RAdam step
      // (each changes the whole update).
      compare(`update of ${name}`, w.sub(before), dRef, 0.2 * scale(dRef) + 2 ** -21 * scale(ref));
    }
    const bufs = new Map(carso.purifier.namedBuffers());
    // NOTE: running statistics: momentum averages of batch means / unbiased variances over 4 rows along the
    // same trajectory (measured 4e-6 of scale on the same kernel, 9e-4 under Haswell): 1e-2 of scale
    for (const [key, ref] of [...f.group('train.buffer')]) compare(`buffer ${key}`, bufs.get(key)!, ref, 1e-2 * scale(ref));
  });
  opt.dispose();
  dispose();
});

test("the schedule and the KL warm-up are ebtorch's: warmed_up_linneal per epoch for (200, 640), (250, 128), (8, 4); make_beta_scheduler", () => {
  const f = readAuthorsFixture('cifar10');
  for (const [epochs, batch] of [
    [200, 640],
    [250, 128],
    [8, 4],
  ] as const) {
    const p = zeros([1]).requiresGrad_();
    const { opt, sched } = carsoTraining([p], epochs, batch);
    const lrs: number[] = [];
    for (let e = 0; e < epochs; e++) {
      lrs.push(sched.lastLr()[0]!);
      sched.step();
    }
    // NOTE: closed form here, PyTorch's chainable (multiplicative) LinearLR there: rounding only
    compare(
      `lr schedule ${epochs} x ${batch}`,
      tensor(lrs, [epochs], 'float64'),
      f.get(`schedule.${epochs}.${batch}`),
      1e-18,
      1e-12,
    );
    opt.dispose();
    p.dispose();
  }
  const betas = JSON.parse(f.meta['beta_schedule_200']!) as number[];
  assert.deepEqual(
    betas.map((_, e) => betaAt(e, 200)),
    betas,
  );
});
