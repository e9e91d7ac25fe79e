// An evaluation as a list of stages, run by one runner (as autoattack.ts runs a
// cascade of attacks). A stage is data: its name, the stages it needs (run or
// reloaded before it), the files it writes, how it resumes, what its result
// depends on (its fingerprint key), and the function that computes it.
//
// The runner, for each stage in order:
//   - reloads <dir>/stages/<name>.json when its fingerprint (the stage's key, plus
//     a hash of the data) matches, replaying the warnings it raised; a torn or
//     foreign file is recomputed, never trusted;
//   - otherwise reseeds libtorch from the run's seed and the stage's name (stages
//     do not share random streams), runs it, and writes the file atomically.
// A stage that resumes from 'state' continues its attack cascade from the state
// file `files.state()` names (autoattack.ts saves it after every batch), so an
// interrupted stage loses at most one batch.
//
//     const done = runStages(STAGES, ctx, { dir: 'runs/e', seed: 0, x, y, warnings });
//     done.get(cleanStage)?.entry
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, type Tensor } from '../tensor/index.js';
import { writeFileAtomic } from '../util/fs.js';
import type { CheckWarning } from './checks.js';
import { fingerprint } from './state.js';

/** Where a running stage keeps its files. */
export interface StageFiles {
  /** The stage's fingerprint (settings, weights, data). */
  fingerprint: string;
  /** A cascade state file keyed by the fingerprint: a state is only resumed by the same run (suffix: one per cascade). */
  state(suffix?: string): string;
}

export interface Stage<C, T = unknown> {
  readonly name: string;
  /** Stages it reads (results or files): they must be in the plan before it. */
  readonly needs: readonly string[];
  /** Files it writes besides stages/<name>.json, relative to the run folder. */
  readonly writes: readonly string[];
  /** 'rerun': an interrupted stage starts again; 'state': its attack cascade continues from its state file. */
  readonly resume: 'rerun' | 'state';
  /** What its result depends on besides the data (settings, weight hashes): its fingerprint. */
  key(ctx: C): Record<string, unknown>;
  run(ctx: C, done: StageResults, files: StageFiles): T;
}

/** The results of the stages run or reloaded so far, by stage. */
export class StageResults {
  private readonly results = new Map<string, unknown>();

  get<T>(stage: Stage<never, T> | Stage<never, T>['name']): T | undefined {
    return this.results.get(typeof stage === 'string' ? stage : stage.name) as T | undefined;
  }

  set(name: string, result: unknown): void {
    this.results.set(name, result);
  }

  /** Results in the order the stages ran. */
  values(): unknown[] {
    return [...this.results.values()];
  }
}

/** Fired warnings, each once (a reloaded stage replays its own). */
export interface WarningLog {
  readonly list: CheckWarning[];
  add(w: CheckWarning): void;
}

export interface RunStagesOptions {
  /** Run folder: stages/ and state/ go there. */
  dir: string;
  seed: number;
  /** The data the stages see (hashed into every fingerprint). */
  x: Tensor;
  y: Tensor;
  warnings: WarningLog;
  onStage?: (name: string, resumed: boolean) => void;
}

/** A stage's own seed: the run's seed and the stage name, so stages do not share random streams. */
export function stageSeed(seed: number, name: string): number {
  return (seed + createHash('sha256').update(name).digest().readUInt32LE(0)) % 2 ** 31;
}

/** Throws, before any work, when a stage needs one that is not in the plan (skipped, or of another protocol). */
export function checkPlan(plan: readonly Stage<never>[]): void {
  const names = new Set<string>();
  for (const s of plan) {
    const missing = s.needs.filter((n) => !names.has(n));
    if (missing.length > 0)
      throw new Error(`stage ${s.name} needs ${missing.join(', ')}, which will not run before it (skipped?)`);
    names.add(s.name);
  }
}

/** Runs (or reloads) every stage of `plan` in order; see the file header. */
export function runStages<C>(plan: readonly Stage<C>[], ctx: C, o: RunStagesOptions): StageResults {
  checkPlan(plan);
  mkdirSync(join(o.dir, 'stages'), { recursive: true });
  mkdirSync(join(o.dir, 'state'), { recursive: true });
  const done = new StageResults();
  for (const stage of plan) {
    const fp = fingerprint(stage.key(ctx), o.x, o.y);
    const file = join(o.dir, 'stages', `${stage.name}.json`);
    const saved = reload(file, fp);
    if (saved !== null) {
      o.onStage?.(stage.name, true);
      saved.warnings.forEach((w) => o.warnings.add(w));
      done.set(stage.name, saved.result);
      continue;
    }
    o.onStage?.(stage.name, false);
    manualSeed(stageSeed(o.seed, stage.name));
    const before = o.warnings.list.length;
    const hash = createHash('sha256').update(fp).digest('hex').slice(0, 16);
    const files: StageFiles = {
      fingerprint: fp,
      state: (suffix = stage.name) => join(o.dir, 'state', `${suffix}-${hash}.safetensors`),
    };
    const result = stage.run(ctx, done, files);
    writeFileAtomic(file, JSON.stringify({ fingerprint: fp, result, warnings: o.warnings.list.slice(before) }));
    done.set(stage.name, result);
  }
  return done;
}

function reload(file: string, fp: string): { result: unknown; warnings: CheckWarning[] } | null {
  if (!existsSync(file)) return null;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: string; result: unknown; warnings: CheckWarning[] };
    return saved.fingerprint === fp ? saved : null;
  } catch {
    // NOTE: a torn or foreign stage file is recomputed, never trusted
    return null;
  }
}
