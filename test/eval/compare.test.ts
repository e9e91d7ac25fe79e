// compareEvals / `carso compare`: the paired ablation table of eval runs on the same points.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEvals, compareTable, type LabelledEval } from '../../src/eval/index.js';
import type { EvalEntry, EvalResult } from '../../src/eval/result.js';
import { countWithInterval } from '../../src/eval/stats.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-compare-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const flags = (s: string): boolean[] => [...s].map((c) => c === '1');
const entry = (model: string, attack: string, points: string): EvalEntry => {
  const p = flags(points);
  return { model, attack, eps: 0.1, accuracy: countWithInterval(p.filter(Boolean).length, p.length), points: p, seconds: 1 };
};
const run = (label: string, entries: EvalEntry[], first = 0): LabelledEval => ({
  label,
  result: {
    format: 'carso-eval/1',
    dataset: 'fashion-mnist',
    first,
    n: 10,
    norm: 'Linf',
    eps: 0.1,
    seed: 0,
    protocol: 'strict',
    finalEvals: 10,
    entries,
    comparisons: [],
    diagnostics: [],
    warnings: [],
    settings: {},
    versions: {},
    seconds: 1,
  } satisfies EvalResult,
});

const base = run('shipped', [
  entry('classifier', 'autoattack-standard', '1111111100'),
  entry('carso', 'autoattack-rand', '1111100000'),
]);
const e2e = run('e2e', [entry('carso', 'clean', '1111111110'), entry('carso', 'autoattack-rand', '1111111000')]);

test('rows per run and entry; references from the first run having them, or named by label', () => {
  const rows = compareEvals([base, e2e], {
    entries: ['carso/clean', 'carso/autoattack-rand'],
    against: ['classifier/autoattack-standard', 'shipped#carso/autoattack-rand'],
  });
  assert.deepEqual(
    rows.map((r) => [r.run, r.entry, r.accuracy.correct]),
    [
      ['shipped', 'carso/autoattack-rand', 5],
      ['e2e', 'carso/clean', 9],
      ['e2e', 'carso/autoattack-rand', 7],
    ],
  );
  // e2e AA-rand 7/10 vs classifier 8/10: 0 points right only in e2e, 1 only in the classifier (point 7)
  const d = rows[2]!.differences[0]!;
  assert.deepEqual([Math.round(d.difference * 1e9) / 1e9, d.aOnly, d.bOnly], [-0.1, 0, 1]);
  // vs the shipped CARSO: +2 points (5 and 6), none the other way
  assert.deepEqual([rows[2]!.differences[1]!.aOnly, rows[2]!.differences[1]!.bOnly], [2, 0]);
  assert.equal(rows[0]!.differences[1], null, 'a reference is not compared with itself');
  const table = compareTable(rows, ['classifier/autoattack-standard', 'shipped#carso/autoattack-rand']);
  assert.match(table, /\| e2e \| carso\/autoattack-rand \| 7\/10 \| 70\.0% \[39\.7, 89\.2\] \| -10\.0 \[/);
});

test('different points, a missing reference or missing per-point results are errors', () => {
  assert.throws(
    () => compareEvals([base, run('other', e2e.result.entries, 10)], { entries: ['carso/clean'], against: [] }),
    /not the same points/,
  );
  assert.throws(
    () => compareEvals([e2e], { entries: ['carso/clean'], against: ['classifier/autoattack-standard'] }),
    /no run has/,
  );
  const bare = run('bare', [{ ...entry('carso', 'clean', '1'), points: undefined }]);
  assert.throws(() => compareEvals([bare], { entries: ['carso/clean'], against: [] }), /no per-point results/);
});

test('carso compare reads eval folders and prints the table', () => {
  for (const r of [base, e2e]) {
    mkdirSync(join(dir, r.label));
    writeFileSync(join(dir, r.label, 'eval.json'), JSON.stringify(r.result));
  }
  const out = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'compare',
      join(dir, 'shipped'),
      join(dir, 'e2e', 'eval.json'),
      '--against',
      'shipped#carso/autoattack-rand',
    ],
    { encoding: 'utf8' },
  );
  assert.match(out, /\| e2e \| carso\/autoattack-rand \| 7\/10 \| 70\.0% \[39\.7, 89\.2\] \| \+20\.0 \[/);
  assert.match(out, /\| shipped \| carso\/autoattack-rand \| 5\/10 \| .* \| — \|/);
});
