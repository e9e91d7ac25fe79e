// mergeEvals: counts add up, intervals and paired comparisons are recomputed
// from the concatenated per-point results, inconsistent shards are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeEvals } from '../../src/eval/merge.js';
import type { EvalEntry, EvalResult } from '../../src/eval/result.js';
import { countWithInterval, pairedDifference } from '../../src/eval/stats.js';

function entry(model: string, attack: string, points: boolean[]): EvalEntry {
  return {
    model,
    attack,
    eps: 0.1,
    accuracy: countWithInterval(points.filter(Boolean).length, points.length),
    points,
    seconds: 1,
  };
}
function shard(first: number, a: boolean[], b: boolean[]): EvalResult {
  const ea = entry('carso', 'autoattack-rand', a);
  const eb = entry('classifier', 'autoattack-standard', b);
  return {
    format: 'carso-eval/1',
    dataset: 'd',
    first,
    n: a.length,
    norm: 'Linf',
    eps: 0.1,
    seed: 0,
    protocol: 'strict',
    finalEvals: 10,
    entries: [ea, eb],
    comparisons: [{ a: 'carso autoattack-rand', b: 'classifier autoattack-standard', ...pairedDifference(a, b) }],
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
    a: 'carso autoattack-rand',
    b: 'classifier autoattack-standard',
    ...pairedDifference([...a1, ...a2], [...b1, ...b2]),
  });
  assert.equal(m.diagnostics.length, 2);
  assert.match(m.diagnostics[1]!.message, /points 4-6/);
  assert.equal(m.seconds, 4);
});

test('shards with other settings or a gap are refused', () => {
  assert.throws(() => mergeEvals([shard(0, [true], [true]), { ...shard(1, [true], [true]), eps: 0.2 }]), /eps/);
  assert.throws(() => mergeEvals([shard(0, [true], [true]), shard(2, [true], [true])]), /consecutive/);
  assert.throws(() => mergeEvals([]), /nothing/);
});
