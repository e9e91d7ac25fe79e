// The report's sections from eval.json, and the whole document (the optional
// files' sections are in extra-sections.ts): what each table shows and the
// sentence that says how to read it.
import type { EvalResult } from '../result.js';
import type { Block, ReportDocument, Section } from './document.js';
import { countText, differenceText, durationText, epsText, fractionText } from './format.js';
import { gridSection, sweepSection } from './extra-sections.js';
import { FILES, type Run } from './read.js';
import { modelText, type SummaryRow } from './summary.js';
import { verdictSection } from './verdict-section.js';

export function buildDocument(run: Run, summary: SummaryRow[]): ReportDocument {
  const e = run.eval;
  return {
    title: `Robustness report: ${e.dataset}, ${e.norm} eps ${epsText(e.eps)}`,
    // NOTE: the verdict is the first screen; the settings close the report
    sections: [
      verdictSection(e),
      resultsSection(e, summary),
      perAttackSection(e),
      comparisonsSection(e),
      diagnosticsSection(e),
      eotSection(e),
      run.sweep && sweepSection(run.sweep),
      run.grid && gridSection(run.grid),
      settingsSection(run),
    ].filter((s): s is Section => s !== null && s !== undefined),
  };
}

function settingsSection({ eval: e, sweep, grid }: Run): Section {
  const sources = [FILES.eval, sweep && FILES.sweep, grid && FILES.grid].filter((f) => typeof f === 'string');
  const rows: [string, string][] = [
    ['dataset', e.dataset],
    ['points', `${e.n} (test-set indices ${e.first} to ${e.first + e.n - 1})`],
    ['threat model', `${e.norm}, eps ${epsText(e.eps)}`],
    ['protocols', e.protocols.join(', ')],
    ['draws per point (final evaluation, honest protocol)', String(e.finalEvals)],
    ['seed', String(e.seed)],
    ...Object.entries(e.settings).map(([k, v]): [string, string] => [k, String(v)]),
  ];
  const timings: [string, string][] = [['evaluation', durationText(e.seconds)]];
  if (sweep) timings.push([`sweep (${sweep.attack})`, durationText(sweep.seconds)]);
  return {
    id: 'settings',
    title: 'Settings',
    blocks: [
      { kind: 'paragraph', text: `From ${sources.join(', ')}.` },
      { kind: 'table', id: 'settings', header: ['Setting', 'Value'], rows },
      { kind: 'table', id: 'versions', header: ['Component', 'Version'], rows: Object.entries(e.versions) },
      { kind: 'table', id: 'timings', header: ['Part', 'Time'], rows: timings },
    ],
  };
}

function resultsSection(e: EvalResult, summary: SummaryRow[]): Section {
  const stochastic = summary.some((r) => r.stochastic !== null);
  const reported = [
    e.protocols.includes('honest') &&
      'For a stochastic model under the honest protocol it is worst-of-R: a point counts only when it is classified correctly in all R draws.',
    e.protocols.includes('paper') && 'Under the paper protocol it is the single draw, as the reference scripts report it.',
  ]
    .filter((t) => typeof t === 'string')
    .join(' ');
  const header = ['Model', 'Attack', 'eps', 'Accuracy', ...(stochastic ? ['R', 'Single draw', 'Mean over R', 'Worst of R'] : [])];
  const rows = summary.map((r) => {
    const s = r.stochastic;
    const extra = s ? [String(s.draws), s.single.text, s.meanOverR.text, s.worstOfR.text] : ['—', '—', '—', '—'];
    return [modelText(r), r.attack, epsText(r.eps), r.accuracy.text, ...(stochastic ? extra : []), durationText(r.seconds)];
  });
  const text = `Accuracy is the number of points classified correctly, with its 95% Wilson interval. ${stochastic ? reported : ''}`;
  return {
    id: 'results',
    title: 'Results',
    blocks: [
      { kind: 'paragraph', text: text.trim() },
      { kind: 'table', id: 'main', header: [...header, 'Time'], rows },
      { kind: 'figure', key: 'bars' },
    ],
  };
}

function perAttackSection(e: EvalResult): Section | null {
  const cascades = e.entries.flatMap((x, i) => (x.perAttack && x.perAttack.length > 0 ? [{ x, i, rows: x.perAttack }] : []));
  if (cascades.length === 0) return null;
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text: 'Points still robust after each attack of a cascade (cumulative: a point broken by any attack so far is counted as broken).',
    },
  ];
  for (const { x, i, rows } of cascades)
    blocks.push(
      {
        kind: 'heading',
        text: `${modelText({ model: x.model, protocol: x.protocol ?? null })} under ${x.attack} (eps ${epsText(x.eps)})`,
      },
      {
        kind: 'table',
        id: `per-attack-${i}`,
        header: ['Attack', 'Robust after it', 'Time', 'Queries'],
        rows: rows.map((a) => [a.name, fractionText(a.robust, a.total), durationText(a.seconds), String(a.queries)]),
      },
    );
  return { id: 'per-attack', title: 'Per attack', blocks };
}

function comparisonsSection(e: EvalResult): Section | null {
  if (e.comparisons.length === 0) return null;
  return {
    id: 'comparisons',
    title: 'Comparisons',
    blocks: [
      {
        kind: 'paragraph',
        text: "Paired on the same points: accuracy of A minus accuracy of B, with the 95% interval of Newcombe's method 10 from the discordant pairs.",
      },
      {
        kind: 'table',
        id: 'comparisons',
        header: ['A', 'B', 'A − B', 'Only A correct', 'Only B correct', 'Points'],
        rows: e.comparisons.map((c) => [c.a, c.b, differenceText(c), String(c.aOnly), String(c.bOnly), String(c.total)]),
      },
    ],
  };
}

function diagnosticsSection(e: EvalResult): Section {
  const fired = e.diagnostics.filter((d) => d.fired);
  const quiet = e.diagnostics.filter((d) => !d.fired);
  const blocks: Block[] = [
    ...fired.map((d): Block => ({ kind: 'warning', text: `${d.check}: ${d.message}` })),
    ...e.warnings.map((w): Block => ({ kind: 'warning', text: `AutoAttack check ${w.check}: ${w.message}` })),
  ];
  if (blocks.length === 0) blocks.push({ kind: 'paragraph', text: 'No diagnostic fired.' });
  if (quiet.length > 0)
    blocks.push(
      { kind: 'paragraph', text: 'Checks that did not fire:' },
      { kind: 'list', items: quiet.map((d) => `${d.check}: ${d.message}`) },
    );
  return { id: 'diagnostics', title: 'Diagnostics', blocks };
}

function eotSection(e: EvalResult): Section | null {
  const c = e.eotConvergence;
  if (!c) return null;
  const text = `Robust accuracy against the number of EOT samples per gradient step, on a subset of ${c.n} points: where it stops falling, more samples would not find more adversarial examples.`;
  return {
    id: 'eot',
    title: 'EOT convergence',
    blocks: [
      { kind: 'paragraph', text },
      {
        kind: 'table',
        id: 'eot',
        header: ['EOT samples', 'Robust accuracy'],
        rows: c.eot.map((k, i) => [String(k), countText(c.accuracy[i]!)]),
      },
    ],
  };
}
