// bench/memory: resident memory over many training steps of the reference CNN
// (batch 32, SGD momentum). Acceptance: RSS stays within 64 MB of its level
// after step 100. Also checks that the count of live native tensors is flat.
//
//   node --import tsx bench/memory.ts [--steps 10000]
import { benchOptions } from './stats.js';
import { memoryStats, manualSeed, rand, randint, setNumThreads, tidy } from '../src/tensor/index.js';
import { ReferenceCNN } from '../src/models/index.js';
import { SGD } from '../src/optim/index.js';

export interface MemoryTrace {
  steps: number;
  rssAfter100MB: number;
  maxGrowthMB: number;
  finalGrowthMB: number;
  liveTensorsAfter100: number;
  liveTensorsEnd: number;
  samples: { step: number; rssMB: number }[];
}

/** Runs `steps` train steps and samples RSS every `every` steps. */
export function memoryTrace(steps: number, every = 250): MemoryTrace {
  manualSeed(0);
  const model = new ReferenceCNN();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = rand([32, 1, 28, 28]);
  const y = randint(0, 10, [32]);
  const mb = (): number => process.memoryUsage().rss / 2 ** 20;
  const samples: { step: number; rssMB: number }[] = [];
  let base = 0;
  let live100 = 0;
  for (let s = 1; s <= steps; s++) {
    tidy(() => {
      opt.zeroGrad();
      model.call(x).crossEntropy(y).backward();
      opt.step();
    });
    if (s === 100) {
      base = mb();
      live100 = memoryStats().liveTensors;
    }
    if (s % every === 0) samples.push({ step: s, rssMB: mb() });
  }
  const after = samples.filter((p) => p.step >= 100).map((p) => p.rssMB - base);
  return {
    steps,
    rssAfter100MB: base,
    maxGrowthMB: Math.max(0, ...after),
    finalGrowthMB: after[after.length - 1] ?? 0,
    liveTensorsAfter100: live100,
    liveTensorsEnd: memoryStats().liveTensors,
    samples,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { steps, threads } = benchOptions({ steps: 10000, threads: 1 });
  setNumThreads(threads);
  const t0 = performance.now();
  const r = memoryTrace(steps, 500);
  console.log(
    `bench/memory: ${r.steps} steps of the reference CNN, batch 32, in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  console.log(
    `RSS after step 100: ${r.rssAfter100MB.toFixed(1)} MB; max growth after that: ${r.maxGrowthMB.toFixed(1)} MB; at the end: ${r.finalGrowthMB.toFixed(1)} MB (limit 64 MB)`,
  );
  console.log(`live native tensors: ${r.liveTensorsAfter100} after step 100, ${r.liveTensorsEnd} at the end`);
  console.log(r.maxGrowthMB <= 64 && r.liveTensorsEnd === r.liveTensorsAfter100 ? 'PASS' : 'FAIL');
}
