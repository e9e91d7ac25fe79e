// Reads a run folder's JSON files (result.ts) and checks them field by field
// (shapes.ts), so that a corrupt or half-written file fails with its name and
// the field at fault instead of a report full of 'undefined'.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalResult, ImageGrid, Sweep } from '../result.js';
import { ShapeError, type Shape } from '../../util/shape.js';
import * as shapes from './shapes.js';

export const FILES = { eval: 'eval.json', sweep: 'sweep.json', grid: 'grid.json' } as const;

export interface Run {
  eval: EvalResult;
  sweep: Sweep | null;
  grid: ImageGrid | null;
}

/** One file through its shape; null when an optional file is absent. */
function readJson<T>(dir: string, name: string, shape: Shape<T>, required: boolean): T | null {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (required) throw new Error(`${path}: not found (a run folder needs ${FILES.eval}; sweep.json and grid.json are optional)`);
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (name === FILES.eval && (parsed as { format?: unknown } | null)?.format === 'carso-eval/1')
    throw new Error(
      `${path}: written by an older carso (format carso-eval/1, one protocol, no verdict): rerun the same \`carso eval\` ` +
        'command with --out on this folder to rewrite it (the attacks run again: their settings changed)',
    );
  try {
    return shape(parsed, '');
  } catch (err) {
    if (err instanceof ShapeError) throw new Error(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** eval.json (required), sweep.json and grid.json (optional) of a run folder, checked. */
export function readRun(dir: string): Run {
  return {
    eval: readJson(dir, FILES.eval, shapes.evalResult, true) as EvalResult,
    sweep: readJson(dir, FILES.sweep, shapes.sweep, false),
    grid: readJson(dir, FILES.grid, shapes.grid, false),
  };
}
