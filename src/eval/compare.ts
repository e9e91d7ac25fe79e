// Paired comparison of evaluations on the same points (an ablation table): for
// each run, each chosen entry's k/n with its Wilson interval and its paired
// difference to reference entries (e.g. the classifier's AutoAttack, or the
// baseline defence), from the per-point results every eval.json carries.
//
//     const rows = compareEvals(runs, { entries: ['carso/autoattack-rand'], against: ['classifier/autoattack-standard'] });
import type { EvalEntry, EvalResult } from './result.js';
import { countWithInterval, pairedDifference, type CountWithInterval, type PairedDifference } from './stats.js';

export interface LabelledEval {
  label: string;
  result: EvalResult;
}

export interface CompareOptions {
  /**
   * Entries to list per run, as 'model/attack' (e.g. 'carso/clean': every protocol's entry of a run
   * with several) or 'model/attack@protocol' (e.g. 'carso/autoattack-rand@honest').
   */
  entries: readonly string[];
  /** References for paired differences: an entry as above (from the first run that has it; one protocol) or 'label#entry'. */
  against: readonly string[];
}

export interface CompareRow {
  run: string;
  entry: string;
  accuracy: CountWithInterval;
  /** Per reference (in `against` order): the paired difference this - reference, null where the entry is the reference itself. */
  differences: (PairedDifference | null)[];
}

/** 'model/attack', with '@protocol' for a CARSO entry of a run with protocols (eval.json format 2). */
const entryKey = (e: EvalEntry): string => `${e.model}/${e.attack}${e.protocol === undefined ? '' : `@${e.protocol}`}`;

/** The entries `key` names: 'model/attack' every protocol's, 'model/attack@protocol' that one. */
const matching = (entries: readonly EvalEntry[], key: string): EvalEntry[] =>
  entries.filter((e) => entryKey(e) === key || `${e.model}/${e.attack}` === key);

/** The entry `ref` names ('model/attack[@protocol]' or 'label#model/attack[@protocol]') among runs; one, or an error. */
function findReference(runs: readonly LabelledEval[], ref: string): { run: string; entry: EvalEntry } {
  const [label, key] = ref.includes('#') ? (ref.split('#', 2) as [string, string]) : [null, ref];
  for (const r of runs) {
    if (label !== null && r.label !== label) continue;
    const found = matching(r.result.entries, key);
    if (found.length > 1)
      throw new Error(`compare: '${ref}' is ${found.map(entryKey).join(' and ')} in ${r.label}: name one (e.g. '${key}@honest')`);
    if (found[0] !== undefined) return { run: r.label, entry: found[0] };
  }
  throw new Error(`compare: no run has '${ref}' (runs: ${runs.map((r) => r.label).join(', ')})`);
}

function pointsOf(run: string, e: EvalEntry): boolean[] {
  if (!e.points) throw new Error(`compare: ${run} '${entryKey(e)}' has no per-point results (rerun it with this version)`);
  return e.points;
}

/** Rows of the table; throws unless every run covers the same points (dataset, first, n, eps). */
export function compareEvals(runs: readonly LabelledEval[], o: CompareOptions): CompareRow[] {
  if (runs.length === 0) throw new Error('compare: no evaluations given');
  const head = runs[0]!.result;
  for (const r of runs)
    for (const k of ['dataset', 'first', 'n', 'eps'] as const)
      if (r.result[k] !== head[k])
        throw new Error(
          `compare: ${r.label} has ${k} ${String(r.result[k])}, ${runs[0]!.label} ${String(head[k])}: not the same points`,
        );
  const refs = o.against.map((a) => findReference(runs, a));
  const rows: CompareRow[] = [];
  for (const r of runs)
    // (an entry a run lacks is no row: e.g. the classifier's stages skipped in an ablation run)
    for (const e of o.entries.flatMap((key) => matching(r.result.entries, key))) {
      const flags = pointsOf(r.label, e);
      rows.push({
        run: r.label,
        entry: entryKey(e),
        accuracy: countWithInterval(flags.filter(Boolean).length, flags.length),
        differences: refs.map((ref) =>
          ref.entry === e ? null : pairedDifference(flags, pointsOf(ref.run, ref.entry).slice(0, flags.length)),
        ),
      });
    }
  return rows;
}

const pts = (v: number): string => (v * 100).toFixed(1);

/** The rows as a markdown table (accuracy in %, differences in points with their 95% interval). */
export function compareTable(rows: readonly CompareRow[], against: readonly string[]): string {
  const head = ['run', 'entry', 'k/n', 'accuracy [95% CI]', ...against.map((a) => `− ${a} (paired, 95%)`)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const a = r.accuracy;
    const diffs = r.differences.map((d) =>
      d === null ? '—' : `${d.difference >= 0 ? '+' : ''}${pts(d.difference)} [${pts(d.ci95.lo)}, ${pts(d.ci95.hi)}]`,
    );
    lines.push(
      `| ${[r.run, r.entry, `${a.correct}/${a.total}`, `${pts(a.accuracy)}% [${pts(a.ci95.lo)}, ${pts(a.ci95.hi)}]`, ...diffs].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}
