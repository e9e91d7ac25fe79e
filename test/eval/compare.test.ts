// compareEvals / `carso compare`: the paired ablation table of eval runs on the same points.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareEvals, compareTable, type LabelledEval } from '../../src/eval/index.js';
import type { EvalEntry, EvalResult, Protocol } from '../../src/eval/result.js';
import { countWithInterval } from '../../src/eval/stats.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-compare-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const flags = (s: string): boolean[] => [...s].map((c) => c === '1');
const entry = (model: string, attack: string, points: string, protocol?: Protocol): EvalEntry => {
  const p = flags(points);
  const accuracy = countWithInterval(p.filter(Boolean).length, p.length);
  return { model, ...(protocol ? { protocol } : {}), attack, eps: 0.1, accuracy, points: p, seconds: 1 };
};
const run = (label: string, entries: EvalEntry[], first = 0): LabelledEval => ({
  label,
  result: {
    format: 'carso-eval/2',
    dataset: 'fashion-mnist',
    first,
    n: 10,
    norm: 'Linf',
    eps: 0.1,
    seed: 0,
    protocols: ['honest'],
    finalEvals: 10,
    verdict: [],
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

test('a run with both protocols: a bare entry lists each, a reference names one', () => {
  const both = run('both', [
    entry('classifier', 'autoattack-standard', '1111111100'),
    entry('carso', 'autoattack-rand', '1111111111', 'paper'),
    entry('carso', 'autoattack-rand', '1111100000', 'honest'),
  ]);
  const rows = compareEvals([both], { entries: ['carso/autoattack-rand'], against: ['classifier/autoattack-standard'] });
  assert.deepEqual(
    rows.map((r) => [r.entry, r.accuracy.correct, r.differences[0]!.aOnly, r.differences[0]!.bOnly]),
    [
      ['carso/autoattack-rand@paper', 10, 2, 0],
      ['carso/autoattack-rand@honest', 5, 0, 3],
    ],
  );
  assert.throws(
    () => compareEvals([both], { entries: [], against: ['carso/autoattack-rand'] }),
    /'carso\/autoattack-rand' is carso\/autoattack-rand@paper and carso\/autoattack-rand@honest in both: name one/,
  );
  const honest = compareEvals([both], { entries: ['carso/autoattack-rand@honest'], against: ['carso/autoattack-rand@paper'] });
  assert.deepEqual(
    honest.map((r) => [r.entry, r.differences[0]!.aOnly, r.differences[0]!.bOnly]),
    [['carso/autoattack-rand@honest', 0, 5]],
  );
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
  // (e2e as an older carso wrote it: format 1, one protocol for the whole run, still read)
  const v1 = { ...e2e.result, format: 'carso-eval/1', protocol: 'strict', protocols: undefined, verdict: undefined };
  for (const [label, result] of [
    [base.label, base.result],
    [e2e.label, v1],
  ] as const) {
    mkdirSync(join(dir, label));
    writeFileSync(join(dir, label, 'eval.json'), JSON.stringify(result));
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
