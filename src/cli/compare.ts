// `carso compare`: a paired table of evaluations on the same test points (an
// ablation table): each run's chosen entries with k/n and Wilson intervals, and
// paired differences (Newcombe) to reference entries.
//
//     carso compare runs/shipped runs/e2e runs/e2e-fb --entry carso/autoattack-rand \
//       --against classifier/autoattack-standard --against shipped#carso/autoattack-rand
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { compareEvals, compareTable, type LabelledEval } from '../eval/compare.js';
import type { EvalResult } from '../eval/result.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const FORMATS: readonly string[] = ['carso-eval/1', 'carso-eval/2'];

/** A folder with eval.json, or the file itself; labelled by the folder name. */
function readEval(path: string): LabelledEval {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'eval.json') : path;
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  let result: EvalResult;
  try {
    result = JSON.parse(readFileSync(file, 'utf8')) as EvalResult;
  } catch (err) {
    throw new Error(`${file}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  // NOTE: format 1 (one protocol, no verdict) has the same entries and points, its CARSO entries without a protocol
  if (!FORMATS.includes(result.format) || !Array.isArray(result.entries)) throw new Error(`${file} is not a carso eval.json`);
  return { label: basename(file === path ? join(path, '..') : path), result };
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('paired comparison of carso eval runs on the same points: k/n, 95% intervals, paired differences')
    .argument('<runs...>', 'eval output folders (or eval.json files), labelled by folder name')
    .option(
      '--entry <model/attack>',
      "entries to list, repeatable: 'model/attack' (every protocol's, e.g. 'carso/clean') or 'model/attack@protocol' " +
        "(e.g. 'carso/autoattack-rand@honest'; default 'carso/clean' and 'carso/autoattack-rand')",
      collect,
    )
    .option(
      '--against <ref>',
      'reference for paired differences, repeatable: an entry as --entry naming one protocol (first run having it) or ' +
        "'label#entry' (default 'classifier/autoattack-standard')",
      collect,
    )
    .option('--json', 'print the rows as JSON instead of a table')
    .action((paths: string[], f: { entry?: string[]; against?: string[]; json?: boolean }) => {
      const runs = paths.map(readEval);
      const labels = runs.map((r) => r.label);
      if (new Set(labels).size !== labels.length) throw new Error(`compare: two runs share a label (${labels.join(', ')})`);
      const o = {
        entries: f.entry ?? ['carso/clean', 'carso/autoattack-rand'],
        against: f.against ?? ['classifier/autoattack-standard'],
      };
      const rows = compareEvals(runs, o);
      console.log(f.json ? JSON.stringify(rows, null, 2) : compareTable(rows, o.against));
    });
}
