// bench/engine: the reference CNN on batch 128, 1 thread, carso vs PyTorch in
// one invocation. Three workloads: forward (no grad), input gradient of the
// summed CE (what an attack step does) and a full SGD train step.
// Rounds alternate carso and the PyTorch peer so machine noise hits both.
//
//   node --import tsx bench/engine.ts [--rounds 3] [--repeats 10] [--threads 1]
import { fileURLToPath } from 'node:url';
import { grad, manualSeed, noGrad, rand, randint, setNumThreads, tidy } from '../src/tensor/index.js';
import { ReferenceCNN } from '../src/models/index.js';
import { SGD } from '../src/optim/index.js';
import { benchOptions, ratioRow, runPeer, timed } from './stats.js';

const { rounds, repeats, iters, threads, batch } = benchOptions({ rounds: 3, repeats: 10, iters: 5, threads: 1, batch: 128 });

setNumThreads(threads);
manualSeed(0);
const model = new ReferenceCNN();
const x = rand([batch, 1, 28, 28]);
const y = randint(0, 10, [batch]);
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });

const workloads: Record<string, () => void> = {
  forward: () => tidy(() => noGrad(() => model.call(x))),
  inputGrad: () =>
    tidy(() => {
      const xr = x.clone().requiresGrad_();
      grad(model.call(xr).crossEntropy(y, 'sum'), [xr]);
    }),
  trainStep: () =>
    tidy(() => {
      opt.zeroGrad();
      model.call(x).crossEntropy(y).backward();
      opt.step();
    }),
};

type Times = Record<string, number[]>;
const carso: Times = { forward: [], inputGrad: [], trainStep: [] };
const torch: Times = { forward: [], inputGrad: [], trainStep: [] };
const peer = fileURLToPath(new URL('./engine_peer.py', import.meta.url));
const perRound = Math.max(1, Math.ceil(repeats / rounds));
for (let r = 0; r < rounds; r++) {
  const p = runPeer<Times>(peer, [
    '--threads',
    String(threads),
    '--batch',
    String(batch),
    '--repeats',
    String(perRound),
    '--iters',
    String(iters),
  ]);
  for (const k of Object.keys(carso)) {
    torch[k]!.push(...p[k]!);
    carso[k]!.push(...timed(workloads[k]!, iters, perRound, 3));
  }
}

console.log(
  `bench/engine: reference CNN, batch ${batch}, ${threads} thread(s), ${rounds * perRound} repeats x ${iters} iterations`,
);
console.log('| workload | carso ms (min–max) | PyTorch ms (min–max) | ratio carso/PyTorch |');
console.log('|---|---|---|---|');
for (const k of Object.keys(carso)) console.log(ratioRow(k, carso[k]!, torch[k]!));
