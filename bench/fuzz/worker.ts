// The child process of the fuzzer: makes inputs start..start+count-1 of one
// format, loads each, and reports to the parent (IPC) before and after each
// one, so that a native abort or a hang is pinned to its input.
//
//   (forked by run.ts) worker.ts FORMAT SEED START COUNT SCRATCH
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pcg32 } from '../../src/data/random.js';
import { setNumThreads } from '../../src/tensor/index.js';
import { FORMATS, type FuzzFormat } from './formats.js';
import { pick } from './mutate.js';
import { writeTree, type FileTree } from './tree.js';

export type Outcome = 'loaded' | 'rejected' | 'unnamed';

export interface WorkerMessage {
  kind: 'start' | 'done';
  index: number;
  outcome?: Outcome;
  /** Bytes of the input (all files). */
  bytes?: number;
  /** Peak resident memory during the load, above the level before it. */
  growthBytes?: number;
  message?: string;
}

export function formatNamed(name: string): FuzzFormat {
  const f = FORMATS.find((x) => x.name === name);
  if (f === undefined) throw new Error(`no fuzz format '${name}' (have ${FORMATS.map((x) => x.name).join(', ')})`);
  return f;
}

const seedCache = new Map<string, FileTree[]>();

/** Input `index` of `format` for `seed`: 1 to 3 stacked mutations of a random seed input. */
export function makeInput(format: FuzzFormat, seed: number, index: number): FileTree {
  const seeds = seedCache.get(format.name) ?? format.seeds();
  seedCache.set(format.name, seeds);
  const rng = new Pcg32(seed, index);
  let tree = pick(rng, seeds);
  for (let r = 1 + rng.int(3); r > 0; r--) tree = format.mutate(rng, tree);
  return tree;
}

export const treeBytes = (t: FileTree): number =>
  [...t.values()].reduce((s, e) => s + (e instanceof Uint8Array ? e.length : 0), 0);

const status = (key: string): number => {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
};

/** Loads the input in `dir`: what happened, and the peak memory it took (Linux: VmHWM reset per input). */
export function tryLoad(format: FuzzFormat, dir: string): { outcome: Outcome; growthBytes: number; message?: string } {
  writeFileSync('/proc/self/clear_refs', '5'); // resets the peak-RSS mark
  const before = status('VmRSS');
  const named = format.names?.(dir) ?? join(dir, 'input.safetensors');
  let outcome: Outcome = 'loaded';
  let message: string | undefined;
  try {
    format.load(dir);
  } catch (err) {
    message = err instanceof Error ? err.message : `non-Error thrown: ${String(err)}`;
    outcome = err instanceof Error && message.includes(named) ? 'rejected' : 'unnamed';
  }
  return { outcome, growthBytes: Math.max(0, status('VmHWM') - before), message };
}

function main(): void {
  const [name, seed, start, count, scratch] = process.argv.slice(2);
  setNumThreads(1);
  const format = formatNamed(name as string);
  const send = (m: WorkerMessage): void => void process.send?.(m);
  makeInput(format, Number(seed), 0); // builds the seeds: a failure here is the harness's, not an input's
  const dir = join(scratch as string, 'in');
  let previous: FileTree | undefined;
  for (let i = Number(start); i < Number(start) + Number(count); i++) {
    // NOTE: the input is made before 'start': a failure there is the harness's (the run stops), not the input's.
    const tree = makeInput(format, Number(seed), i);
    writeTree(dir, tree, previous);
    previous = tree;
    send({ kind: 'start', index: i });
    const r = tryLoad(format, dir);
    send({ kind: 'done', index: i, bytes: treeBytes(tree), ...r });
  }
  process.disconnect?.();
}

if (process.argv[1]?.endsWith('worker.ts') === true) main();
