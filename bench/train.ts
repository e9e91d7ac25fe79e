// bench/train: one PGD-AT "epoch-equivalent" (a fixed number of batches of
// Fashion-MNIST, in order) of the reference CNN, carso's training code path
// (DataLoader + trainingLoss('pgd-at') + SGD) vs the same loop in PyTorch,
// alternating rounds in one invocation.
//
//   node --import tsx bench/train.ts [--rounds 3] [--batches 10] [--threads 1]
import { fileURLToPath } from 'node:url';
import { DataLoader, loadDataset } from '../src/data/index.js';
import { ReferenceCNN } from '../src/models/index.js';
import { SGD } from '../src/optim/index.js';
import { manualSeed, setNumThreads, tidy } from '../src/tensor/index.js';
import { DEFAULTS } from '../src/train/config.js';
import { trainingLoss } from '../src/train/methods.js';
import { benchOptions, ratioRow, runPeer } from './stats.js';

const { rounds, batches, threads } = benchOptions({ rounds: 3, batches: 10, threads: 1 });
const batch = 128;

setNumThreads(threads);
manualSeed(0);
const ds = loadDataset('fashion-mnist', { split: 'train', limit: batch * batches });
const model = new ReferenceCNN();
const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
const config = { ...DEFAULTS, method: 'pgd-at' as const, eps: 0.1, steps: 10 };
const loader = new DataLoader(ds, { batchSize: batch, shuffle: false });

function epoch(): number {
  const t0 = performance.now();
  model.train();
  for (const b of loader) {
    tidy(() => {
      opt.zeroGrad();
      trainingLoss(model, b.x, b.y, config).loss.backward();
      opt.step();
    });
    b.x.dispose();
    b.y.dispose();
  }
  return (performance.now() - t0) / 1000;
}

const peer = fileURLToPath(new URL('./train_peer.py', import.meta.url));
const carso: number[] = [];
const torch: number[] = [];
for (let r = 0; r < rounds; r++) {
  torch.push(...runPeer<{ epoch: number[] }>(peer, ['--threads', String(threads), '--batches', String(batches)]).epoch);
  carso.push(epoch());
}
console.log(
  `bench/train: PGD-AT (10 steps, eps 0.1) of the reference CNN, ${batches} batches of ${batch}, ${threads} thread(s), ${rounds} rounds`,
);
console.log('| workload | carso ms (min–max) | PyTorch ms (min–max) | ratio carso/PyTorch |');
console.log('|---|---|---|---|');
console.log(ratioRow(`PGD-AT ${batches} batches`, carso, torch));
