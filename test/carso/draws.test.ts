// Batched EOT draws (Carso.forwardDraws, used by lossAndGrad): the same
// function as one forward per draw with the same latents, and the same
// EOT gradient as averaging the per-draw gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ceLoss, lossAndGrad } from '../../src/attacks/index.js';
import { enableGrad, grad, manualSeed, rand, randint, tidy } from '../../src/tensor/index.js';
import { tinyCarso, TINY_CLASSES } from './tiny.js';
import { checkTensor } from '../helpers.js';

test('forwardDraws = forwardWithLatents per draw; batched EOT gradient = mean of per-draw gradients', () => {
  const carso = tinyCarso(2, { samples: 3, rowsPerCall: 1000 }).eval(); // all 5 draws in one call
  manualSeed(11);
  const x = rand([4, 1, 12, 12]);
  const y = randint(0, TINY_CLASSES, [4]);
  tidy(() => {
    const draws = 5;
    const z = carso.drawLatents(x, draws); // [3, 20, latent]
    const all = carso.forwardDraws(x, draws, z);
    assert.deepEqual(all.shape, [draws, 4, TINY_CLASSES]);
    for (let d = 0; d < draws; d++)
      checkTensor(all.select(0, d), carso.forwardWithLatents(x, z.narrow(1, 4 * d, 4)), `draw ${d}`, 1e-5, 1e-5);

    // the EOT gradient: lossAndGrad draws its latents first thing, so reseeding replays them
    manualSeed(21);
    const zs = carso.drawLatents(x, draws);
    const perDraw = [...Array(draws).keys()].map((d) =>
      enableGrad(() => {
        const xr = x.detach().requiresGrad_();
        return grad(ceLoss(carso.forwardWithLatents(xr, zs.narrow(1, 4 * d, 4)), y).sum(), [xr])[0]!;
      }),
    );
    const mean = perDraw.reduce((a, g) => a.add(g)).div(draws);
    manualSeed(21);
    const e = lossAndGrad(carso, x, y, ceLoss, draws);
    assert.ok(mean.abs().sum().item() > 0, 'nonzero gradient');
    checkTensor(e.grad, mean, 'EOT gradient', 1e-6, 1e-4);
    assert.equal(e.queries, draws);
  });
  carso.dispose();
  carso.classifier.dispose();
});

test('drawsPerCall bounds the rows of a batched call', () => {
  const carso = tinyCarso(2, { samples: 8, rowsPerCall: 100 });
  assert.equal(carso.drawsPerCall(4), 3); // floor(100 / 32)
  assert.equal(carso.drawsPerCall(50), 1); // at least one draw
  carso.dispose();
  carso.classifier.dispose();
});
