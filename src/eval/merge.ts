// Merging evaluations of consecutive shards of a test set (e.g. points 0-99 and
// 100-199 run as two processes, or on two machines) into one: counts add up,
// intervals and paired comparisons are recomputed from the per-point results,
// diagnostics are re-judged on the summed counts where they are counts.
//
//     const all = mergeEvals([read('runs/eval-0/eval.json'), read('runs/eval-100/eval.json')]);
import { entryLabel as key, type Comparison, type EvalEntry, type EvalResult, type PointEvidence } from './result.js';
import { countWithInterval, pairedDifference } from './stats.js';
import { verdictOf } from './verdict.js';

const EVIDENCE: readonly (keyof PointEvidence)[] = [
  'outputNonFinite',
  'gradientCe',
  'gradientDlr',
  'attackNonFinite',
  'stopped',
  'moved',
];

/** The shards' per-point evidence end to end, field by field (a field missing from a shard is dropped). */
function mergeEvidence(parts: readonly EvalEntry[]): PointEvidence | undefined {
  if (parts.some((p) => p.evidence === undefined)) return undefined;
  const out: Record<string, unknown[]> = {};
  for (const k of EVIDENCE) {
    const lists = parts.map((p) => p.evidence?.[k] as unknown[] | undefined);
    if (lists.every((l) => l !== undefined)) out[k] = lists.flatMap((l) => l as unknown[]);
  }
  return out as PointEvidence;
}

/** Shards must share settings and be consecutive ([first, first + n) back to back). */
export function mergeEvals(shards: readonly EvalResult[]): EvalResult {
  if (shards.length === 0) throw new Error('mergeEvals: nothing to merge');
  const sorted = [...shards].sort((a, b) => a.first - b.first);
  const head = sorted[0] as EvalResult;
  sorted.forEach((s, i) => {
    for (const k of ['dataset', 'norm', 'eps', 'protocols', 'finalEvals', 'seed'] as const)
      if (JSON.stringify(s[k]) !== JSON.stringify(head[k]))
        throw new Error(`mergeEvals: shard ${i} has ${k} ${String(s[k])}, shard 0 ${String(head[k])}`);
    const prev = sorted[i - 1];
    if (prev && prev.first + prev.n !== s.first)
      throw new Error(`mergeEvals: shards are not consecutive (${prev.first}+${prev.n} then ${s.first})`);
  });
  // NOTE: an entry may cover only the first m points of a shard (PGD-EOT --pgd-eot-n): counts still add up
  const entries: EvalEntry[] = head.entries.map((e) => {
    const parts = sorted.map((s) => s.entries.find((x) => key(x) === key(e)));
    if (parts.some((p) => p === undefined)) throw new Error(`mergeEvals: '${key(e)}' is missing from a shard`);
    const ps = parts as EvalEntry[];
    const sum = (f: (p: EvalEntry) => number): number => ps.reduce((a, p) => a + f(p), 0);
    const total = sum((p) => p.accuracy.total);
    const merged: EvalEntry = {
      ...e,
      accuracy: countWithInterval(
        sum((p) => p.accuracy.correct),
        total,
      ),
      seconds: sum((p) => p.seconds),
      perAttack: e.perAttack?.map((a, j) => ({
        ...a,
        robust: sum((p) => p.perAttack?.[j]?.robust ?? 0),
        total: sum((p) => p.perAttack?.[j]?.total ?? 0),
        seconds: sum((p) => p.perAttack?.[j]?.seconds ?? 0),
        queries: sum((p) => p.perAttack?.[j]?.queries ?? 0),
      })),
    };
    if (ps.every((p) => p.points)) merged.points = ps.flatMap((p) => p.points ?? []);
    const evidence = mergeEvidence(ps);
    if (evidence === undefined) delete merged.evidence;
    else merged.evidence = evidence;
    if (e.stochastic && ps.every((p) => p.stochastic)) {
      const st = ps.map((p) => p.stochastic!);
      const n = st.reduce((a, x) => a + x.single.total, 0);
      merged.stochastic = {
        draws: e.stochastic.draws,
        single: countWithInterval(
          st.reduce((a, x) => a + x.single.correct, 0),
          n,
        ),
        worstOfR: countWithInterval(
          st.reduce((a, x) => a + x.worstOfR.correct, 0),
          n,
        ),
        meanOverR: { accuracy: st.reduce((a, x) => a + x.meanOverR.accuracy * x.single.total, 0) / Math.max(1, n) },
      };
    }
    return merged;
  });
  const comparisons: Comparison[] = head.comparisons.flatMap((c) => {
    const a = entries.find((e) => key(e) === c.a)?.points;
    const b = entries.find((e) => key(e) === c.b)?.points;
    return a && b && a.length === b.length ? [{ a: c.a, b: c.b, ...pairedDifference(a, b) }] : [];
  });
  const n = sorted.reduce((a, s) => a + s.n, 0);
  return {
    ...head,
    n,
    verdict: verdictOf(entries),
    entries,
    comparisons,
    // NOTE: per-shard diagnostics are kept, labelled; a fired one in any shard is a warning for the whole
    diagnostics: sorted.flatMap((s) =>
      s.diagnostics.map((d) => ({ ...d, message: `[points ${s.first}-${s.first + s.n - 1}] ${d.message}` })),
    ),
    warnings: sorted.flatMap((s) => s.warnings).filter((w, i, all) => all.findIndex((v) => v.message === w.message) === i),
    eotConvergence: sorted.find((s) => s.eotConvergence)?.eotConvergence,
    seconds: sorted.reduce((a, s) => a + s.seconds, 0),
  };
}
