// The report's first screen: the verdict (eval/verdict.ts) as a table, with the
// sentences that say how to read its evidence columns and, from the numbers,
// whether the paper protocol's robustness was measured or only not contradicted.
import type { EvalResult, VerdictRow } from '../result.js';
import type { Block, Section } from './document.js';
import { countText, differenceText, epsText, fractionText } from './format.js';

const share = (k: number | null, n: number): string => (k === null ? '—' : fractionText(k, n));

/** The table's cells for one row (the browser test reads them back against report.json). */
export function verdictCells(r: VerdictRow): string[] {
  const ev = r.evidence;
  const d = r.vsClassifier;
  return [
    r.label,
    countText(r.accuracy),
    d === null ? '—' : differenceText({ ...d, a: r.entry, b: 'classifier' }),
    share(ev.outputNonFinite, ev.n),
    `CE ${share(ev.gradientCe, ev.n)}; DLR ${share(ev.gradientDlr, ev.n)}`,
    share(ev.stopped, ev.attacked),
    ev.meanMoved === null ? '—' : ev.meanMoved.toFixed(4),
  ];
}

export const VERDICT_HEADER = [
  'Evaluation',
  'Robust (k/n, 95% CI)',
  'Minus the classifier (paired, 95% CI)',
  'Output NaN/Inf at the clean points',
  'Input gradient NaN/Inf or zero at the clean points',
  'Attack stopped: gradients all NaN/Inf',
  'Mean Linf the attack moved',
];

/** What the numbers say about the paper protocol's row: a sentence, or null when its evidence is clean. */
function maskingSentence(rows: readonly VerdictRow[]): string | null {
  const paper = rows.find((r) => r.id === 'carso-paper');
  const honest = rows.find((r) => r.id === 'carso-honest');
  if (paper === undefined) return null;
  const ev = paper.evidence;
  const saturated = ev.outputNonFinite ?? 0;
  if (saturated === 0 && (ev.stopped ?? 0) === 0) return null;
  const gap =
    honest === undefined
      ? ''
      : ` Evaluated honestly (stable aggregation, worst of R draws) the same CARSO keeps ${honest.accuracy.correct} of ${honest.accuracy.total}.`;
  return (
    `CARSO's reference aggregation returns NaN/Inf at ${saturated} of ${ev.n} clean points: its losses and input gradients are NaN there, ` +
    `AutoAttack's sign step is sign(NaN) = 0, so the attack never moves those points (${ev.stopped ?? 0} of ${ev.attacked} attacked points stopped for it; ` +
    `mean move ${ev.meanMoved === null ? '—' : ev.meanMoved.toFixed(4)}) and the original code counts them robust without a warning. ` +
    `The paper protocol's ${paper.accuracy.correct} of ${paper.accuracy.total} is therefore not evidence of robustness.${gap}`
  );
}

export function verdictSection(e: EvalResult): Section | null {
  if (e.verdict.length === 0) return null;
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text:
        `Robust accuracy at ${e.norm} eps ${epsText(e.eps)} on ${e.n} ${e.dataset} test points (indices ${e.first} to ${e.first + e.n - 1}). ` +
        'The classifier alone faces AutoAttack standard; CARSO faces AutoAttack rand end to end, as the paper evaluates it ' +
        '(reference float32 aggregation, the original AutoAttack, one draw per point) and as carso evaluates it honestly ' +
        `(stable aggregation, worst of ${e.finalEvals} draws per point). Differences to the classifier are paired on the same points.`,
    },
    { kind: 'table', id: 'verdict', header: VERDICT_HEADER, rows: e.verdict.map(verdictCells) },
    {
      kind: 'paragraph',
      text:
        'Masking evidence: a robust point only counts as evidence when the attack could follow a gradient there. ' +
        "Output NaN/Inf: the model's output at the clean input (one draw) holds a NaN or an infinity. " +
        'Input gradient: the CE and the DLR loss (AutoAttack rand uses both) give a NaN/Inf or an all-zero input gradient at the clean input (one draw). ' +
        'Attack stopped: of the points the attacks ran on, those stopped early because every gradient sample was NaN/Inf from the start (the original would step by sign(NaN) = 0 there). ' +
        "Mean Linf moved: over the attacked points, the largest Linf distance any gradient attack's iterate reached from its start point (0: the attack never moved).",
    },
  ];
  const masking = maskingSentence(e.verdict);
  if (masking !== null) blocks.push({ kind: 'warning', text: masking });
  return { id: 'verdict', title: 'Verdict', blocks };
}
