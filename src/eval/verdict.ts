// The verdict (issue 13): the headline of an evaluation of a classifier and its
// CARSO, one row each for
//   classifier alone           AutoAttack standard
//   CARSO as the paper does    reference float32 aggregation, AutoAttack rand with the original
//                              code's NaN semantics, one draw per point
//   CARSO evaluated honestly   stable aggregation, AutoAttack rand, worst of R draws
// with k/n and its Wilson interval, the paired difference to the classifier, and the
// masking evidence that says whether a row's robustness was measured or merely not
// contradicted: outputs that are NaN/Inf, input gradients that are NaN/Inf or zero,
// attacks stopped for NaN gradients and how far the attacks' iterates moved.
// A pure function of the entries (and their per-point flags), so a merge of shards
// recomputes it exactly.
import {
  entryLabel,
  type EvalEntry,
  type PointEvidence,
  type VerdictEvidence,
  type VerdictId,
  type VerdictRow,
} from './result.js';
import { pairedDifference, percent } from './stats.js';

interface RowSpec {
  id: VerdictId;
  label: string;
  /** The entry under attack and the clean one of the same model and protocol. */
  attacked: Pick<EvalEntry, 'model' | 'attack' | 'protocol'>;
  clean: Pick<EvalEntry, 'model' | 'attack' | 'protocol'>;
}

const ROWS: readonly RowSpec[] = [
  {
    id: 'classifier',
    label: 'classifier alone, AutoAttack standard',
    attacked: { model: 'classifier', attack: 'autoattack-standard' },
    clean: { model: 'classifier', attack: 'clean' },
  },
  {
    id: 'carso-paper',
    label: 'CARSO as the paper evaluates it',
    attacked: { model: 'carso', attack: 'autoattack-rand', protocol: 'paper' },
    clean: { model: 'carso', attack: 'clean', protocol: 'paper' },
  },
  {
    id: 'carso-honest',
    label: 'CARSO evaluated honestly',
    attacked: { model: 'carso', attack: 'autoattack-rand', protocol: 'honest' },
    clean: { model: 'carso', attack: 'clean', protocol: 'honest' },
  },
];

const count = (flags: readonly boolean[] | undefined): number | null => (flags ? flags.filter(Boolean).length : null);

/** The evidence columns from the clean entry's and the attacked entry's per-point evidence. */
function evidenceOf(n: number, clean: PointEvidence, attack: PointEvidence): VerdictEvidence {
  const moved = (attack.moved ?? []).filter((m): m is number => m !== null);
  return {
    n,
    outputNonFinite: count(clean.outputNonFinite),
    gradientCe: count(clean.gradientCe),
    gradientDlr: count(clean.gradientDlr),
    attacked: moved.length,
    attackNonFinite: count(attack.attackNonFinite),
    stopped: attack.stopped ? attack.stopped.filter((s) => s !== null).length : null,
    meanMoved: moved.length === 0 ? null : moved.reduce((a, b) => a + b, 0) / moved.length,
  };
}

/** The verdict rows whose entries are present (with per-point flags), in the order above. */
export function verdictOf(entries: readonly EvalEntry[]): VerdictRow[] {
  const find = (k: RowSpec['clean']): EvalEntry | undefined => entries.find((e) => entryLabel(e) === entryLabel(k));
  const classifier = find(ROWS[0]!.attacked)?.points;
  return ROWS.flatMap((r): VerdictRow[] => {
    const e = find(r.attacked);
    if (e === undefined) return [];
    const n = e.accuracy.total;
    const comparable = classifier !== undefined && e.points !== undefined && e.points.length === classifier.length;
    return [
      {
        id: r.id,
        label: r.label,
        entry: entryLabel(e),
        accuracy: e.accuracy,
        vsClassifier: r.id !== 'classifier' && comparable ? pairedDifference(e.points!, classifier) : null,
        evidence: evidenceOf(n, find(r.clean)?.evidence ?? {}, e.evidence ?? {}),
      },
    ];
  });
}

/** The verdict as plain text, one line per row (what `carso eval` and `carso demo` print first). */
export function verdictText(rows: readonly VerdictRow[]): string {
  const share = (k: number | null, n: number): string => (k === null ? '—' : `${k}/${n}`);
  const head = [
    'evaluation'.padEnd(39),
    'robust (95% CI)'.padEnd(27),
    'vs classifier (95% CI)'.padEnd(28),
    'output NaN/inf'.padEnd(15),
    'grad NaN or 0: CE, DLR'.padEnd(23),
    'stopped (NaN)'.padEnd(14),
    'moved (mean Linf)',
  ].join('');
  const lines = rows.map((r) => {
    const a = r.accuracy;
    const ev = r.evidence;
    const ci = (lo: number, hi: number): string => `[${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`;
    const d = r.vsClassifier;
    const diff =
      d === null ? '—' : `${d.difference >= 0 ? '+' : ''}${(100 * d.difference).toFixed(1)} pts ${ci(d.ci95.lo, d.ci95.hi)}`;
    return [
      r.label.padEnd(39),
      `${a.correct}/${a.total} ${percent(a.correct, a.total)} ${ci(a.ci95.lo, a.ci95.hi)}`.padEnd(27),
      diff.padEnd(28),
      share(ev.outputNonFinite, ev.n).padEnd(15),
      `${share(ev.gradientCe, ev.n)}, ${share(ev.gradientDlr, ev.n)}`.padEnd(23),
      share(ev.stopped, ev.attacked).padEnd(14),
      ev.meanMoved === null ? '—' : ev.meanMoved.toFixed(4),
    ].join('');
  });
  return [head, ...lines].join('\n');
}
