// `carso report <run-dir>` prints the three paths it wrote; a missing folder or
// a corrupt eval.json fails with a message naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRun } from '../eval/report-fixture.js';

const carso = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', ...args], { encoding: 'utf8' });

test('carso report writes report.json, report.md, report.html and prints their paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carso-report-cli-'));
  writeRun(dir, { grid: false });
  const r = carso(dir);
  assert.equal(r.status, 0, r.stderr);
  const paths = ['report.json', 'report.md', 'report.html'].map((f) => join(dir, f));
  assert.deepEqual(r.stdout.trim().split('\n'), paths);
  for (const p of paths) assert.ok(existsSync(p), p);
});

test('carso report: a missing folder and a corrupt eval.json are named', () => {
  const missing = carso(join(tmpdir(), 'carso-no-such-run'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /run folder '.*carso-no-such-run' not found/);
  const dir = mkdtempSync(join(tmpdir(), 'carso-report-cli-'));
  writeFileSync(join(dir, 'eval.json'), '{');
  const corrupt = carso(dir);
  assert.equal(corrupt.status, 1);
  assert.match(corrupt.stderr, /eval\.json: not valid JSON/);
});
