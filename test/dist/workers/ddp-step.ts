// Worker of test/dist/ddp.test.ts: 5 SGD steps of a small BatchNorm network on
// a fixed batch of 8, either as one process on all 8 rows or as a rank of a
// data-parallel group on its rows, in float32 then float64; writes the final
// weights and buffers to <prefix>-float32.safetensors and <prefix>-float64.safetensors.
//   argv: mode (single | dp | dp-nosync), output prefix
import { BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, Sequential, Tanh } from '../../../src/nn/index.js';
import { SGD } from '../../../src/optim/index.js';
import { manualSeed, rand, randint, setNumThreads, tidy, tensor } from '../../../src/tensor/index.js';
import { saveModule } from '../../../src/io/index.js';
import { distSettings } from '../../../src/dist/env.js';
import { ProcessGroup } from '../../../src/dist/group.js';
import { DataParallel, syncBatchNorm } from '../../../src/dist/ddp.js';

const [mode, out] = process.argv.slice(2) as [string, string];
setNumThreads(1);
const s = mode === 'single' ? null : distSettings({ launcher: 'torchrun', backend: 'gloo', timeoutSeconds: 60 });
const group = s === null ? null : ProcessGroup.init(s);
const rank = group?.rank ?? 0;
const size = group?.size ?? 1;

// the batch: rows 4-7 on another scale, so the two halves' BatchNorm statistics differ
manualSeed(100);
const B = 8;
const x = tidy(() => rand([B, 1, 12, 12]).mul(tensor([1, 1, 1, 1, 3, 3, 3, 3], [B, 1, 1, 1])));
const y = randint(0, 5, [B]);
for (const dtype of ['float32', 'float64'] as const) {
  // NOTE: rank 1 starts from other weights: the broadcast from rank 0 must fix that.
  manualSeed(1 + rank);
  const model = new Sequential(
    new Conv2d(1, 4, 3, { padding: 1 }),
    new BatchNorm2d(4),
    new Tanh(),
    new Conv2d(4, 6, 3, { stride: 2, padding: 1 }),
    new Flatten(),
    new Linear(6 * 6 * 6, 8),
    new BatchNorm1d(8),
    new Tanh(),
    new Linear(8, 5),
  )
    .to(dtype)
    .train();
  const dp = group === null ? null : new DataParallel(model, group, 'mean');
  if (mode === 'dp-nosync') syncBatchNorm(model, null);
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const rows = B / size;
  const [xs, ys] = [x.narrow(0, rank * rows, rows).to(dtype), y.narrow(0, rank * rows, rows)];
  for (let step = 0; step < 5; step++)
    tidy(() => {
      opt.zeroGrad();
      model.call(xs).crossEntropy(ys).backward();
      dp?.reduceGradients();
      opt.step();
    });
  saveModule(`${out}-${dtype}.safetensors`, model);
}
group?.destroy();
