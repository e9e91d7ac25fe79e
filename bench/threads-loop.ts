// Child process of test/tensor/threads.test.ts and bench/threads.ts: a CARSO gradient loop on the shipped
// F-MNIST models (batch 16, N = 8: CARSO's linear and transposed-convolution
// layers are where OpenBLAS works), at carso's default thread count, timed in
// blocks that alternate idle / beside a CPU-bound process this script starts
// (so both halves of a pair see the same outside load). Prints one JSON line:
// per pair, the wall seconds of the idle and the busy block.
// A third argument sizes OpenBLAS's pool after carso has set it, which is how a
// process ran before carso governed that pool (issue 17: one thread per core),
// so the bench can time before and after in one invocation.
//
//   node --import tsx bench/threads-loop.ts [pairs] [steps per block] [OpenBLAS threads]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Carso } from '../src/carso/index.js';
import { loadModule } from '../src/io/index.js';
import { FmnistCNN } from '../src/models/index.js';
import { grad, manualSeed, rand, randint, threadPools, tidy } from '../src/tensor/index.js';
import { native } from '../src/tensor/native.js';

const pairs = Number(process.argv[2] ?? 5);
const steps = Number(process.argv[3] ?? 4);
if (process.argv[4] !== undefined) native.setBlasThreads(Number(process.argv[4]));
const classifier = new FmnistCNN();
loadModule('models/fmnist-cnn-pgd-at/model.safetensors', classifier);
const carso = Carso.load(classifier, 'models/fmnist-carso/purifier.safetensors', { samples: 8 });
manualSeed(0);
const x = rand([16, 1, 28, 28]); // [B, C, H, W] in [0, 1]: the cost does not depend on the pixels
const y = randint(0, 10, [16]);

type Timing = { carso: number; reference: number };

/** Wall seconds of `steps` attack steps' work (the input gradient of the summed CE of CARSO's logits). */
function carsoBlock(): number {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++)
    tidy(() => {
      const xr = x.clone().requiresGrad_();
      grad(carso.forward(xr).crossEntropy(y, 'sum'), [xr]);
    });
  return (performance.now() - t0) / 1000;
}

/** Wall seconds of a single-threaded JavaScript loop: how much the machine's other load slows one thread. */
function referenceBlock(): number {
  const t0 = performance.now();
  let s = 0;
  for (let i = 0; i < 5e7; i++) s += Math.sqrt(i);
  if (!(s > 0)) throw new Error('unreachable');
  return (performance.now() - t0) / 1000;
}

// The CPU-bound neighbour. NOTE: it ends itself when this script is gone (its parent changes) or after
// 5 minutes, so a killed or timed-out test never leaves it spinning (an orphan once burned 72 CPU-minutes).
const HOG = `const parent = Number(process.argv[1]), end = Date.now() + 300000;
process.stdout.write('ready');
for (let i = 1; ; i++) if (i % 1e6 === 0 && (process.ppid !== parent || Date.now() > end)) process.exit(0);`;

const timed = (): Timing => ({ carso: carsoBlock(), reference: referenceBlock() });

carsoBlock(); // warm-up: block cache, first-call setup
const idle: Timing[] = [];
const busy: Timing[] = [];
for (let p = 0; p < pairs; p++) {
  idle.push(timed());
  const hog = spawn(process.execPath, ['-e', HOG, String(process.pid)], { stdio: ['ignore', 'pipe', 'ignore'] });
  await once(hog.stdout, 'data'); // spinning from here on
  busy.push(timed());
  hog.kill('SIGKILL');
  await once(hog, 'exit');
}
console.log(JSON.stringify({ idle, busy, pools: threadPools() }));
