// mergeEvals: counts add up, intervals, paired comparisons and the verdict are
// recomputed from the concatenated per-point results and evidence, inconsistent
// shards are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeEvals } from '../../src/eval/merge.js';
import type { EvalEntry, EvalResult } from '../../src/eval/result.js';
import { countWithInterval, pairedDifference } from '../../src/eval/stats.js';

function entry(model: string, attack: string, points: boolean[], protocol?: 'honest'): EvalEntry {
  return {
    model,
    ...(protocol ? { protocol } : {}),
    attack,
    eps: 0.1,
    accuracy: countWithInterval(points.filter(Boolean).length, points.length),
    points,
    seconds: 1,
  };
}
function shard(first: number, a: boolean[], b: boolean[]): EvalResult {
  const ea = entry('carso', 'autoattack-rand', a, 'honest');
  ea.evidence = { stopped: a.map((r) => (r ? 'non-finite-gradients' : null)), moved: a.map((r) => (r ? 0 : 0.1)) };
  const eb = entry('classifier', 'autoattack-standard', b);
  eb.evidence = { moved: b.map(() => 0.05), attackNonFinite: b.map(() => false) };
  return {
    format: 'carso-eval/2',
    dataset: 'd',
    first,
    n: a.length,
    norm: 'Linf',
    eps: 0.1,
    seed: 0,
    protocols: ['honest'],
    finalEvals: 10,
    verdict: [],
    entries: [ea, eb],
    comparisons: [{ a: 'carso autoattack-rand (honest)', b: 'classifier autoattack-standard', ...pairedDifference(a, b) }],
    diagnostics: [{ check: 'x', fired: false, message: 'm' }],
    warnings: [],
    settings: {},
    versions: {},
    seconds: 2,
  };
}

test('two shards merge into the evaluation of their union', () => {
  const a1 = [true, true, false, true];
  const b1 = [true, false, false, true];
  const a2 = [false, true, true];
  const b2 = [false, false, true];
  const m = mergeEvals([shard(4, a2, b2), shard(0, a1, b1)]);
  assert.equal(m.n, 7);
  assert.deepEqual(m.entries[0]!.accuracy, countWithInterval(5, 7));
  assert.deepEqual(m.entries[1]!.accuracy, countWithInterval(3, 7));
  assert.deepEqual(m.entries[0]!.points, [...a1, ...a2]);
  assert.deepEqual(m.comparisons[0], {
    a: 'carso autoattack-rand (honest)',
    b: 'classifier autoattack-standard',
    ...pairedDifference([...a1, ...a2], [...b1, ...b2]),
  });
  assert.equal(m.diagnostics.length, 2);
  assert.match(m.diagnostics[1]!.message, /points 4-6/);
  assert.equal(m.seconds, 4);
  // the per-point evidence end to end, and the verdict from it
  assert.deepEqual(
    m.entries[0]!.evidence!.moved,
    [...a1, ...a2].map((r) => (r ? 0 : 0.1)),
  );
  assert.deepEqual(m.entries[1]!.evidence, { moved: Array(7).fill(0.05), attackNonFinite: Array(7).fill(false) });
  assert.deepEqual(
    m.verdict.map((v) => [v.id, v.accuracy.correct]),
    [
      ['classifier', 3],
      ['carso-honest', 5],
    ],
  );
  const honest = m.verdict[1]!;
  assert.deepEqual(honest.vsClassifier, pairedDifference([...a1, ...a2], [...b1, ...b2]));
  assert.deepEqual([honest.evidence.stopped, honest.evidence.attacked], [5, 7]);
  assert.ok(Math.abs(honest.evidence.meanMoved! - (2 * 0.1) / 7) < 1e-15);
  // the classifier's clean entry is absent here: its clean-input evidence is unknown, not zero
  assert.equal(m.verdict[0]!.evidence.outputNonFinite, null);
});

test('shards with other settings or a gap are refused', () => {
  assert.throws(() => mergeEvals([shard(0, [true], [true]), { ...shard(1, [true], [true]), eps: 0.2 }]), /eps/);
  assert.throws(
    () => mergeEvals([shard(0, [true], [true]), { ...shard(1, [true], [true]), protocols: ['paper', 'honest'] }]),
    /protocols/,
  );
  assert.throws(() => mergeEvals([shard(0, [true], [true]), shard(2, [true], [true])]), /consecutive/);
  assert.throws(() => mergeEvals([]), /nothing/);
});
