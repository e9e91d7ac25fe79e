// The report's two plots, as vega-lite specs compiled to vega and rendered to
// SVG strings in Node (renderer 'none': no canvas, no DOM), so the HTML shows
// them with no script and no network.
import { View, parse } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Sweep } from '../result.js';
import { epsText } from './format.js';
import { modelText, type SummaryRow } from './summary.js';

const PERCENT_AXIS = { format: '.0%', title: 'accuracy' } as const;

/** Robust accuracy versus eps, one line per model, its 95% Wilson interval as a band. */
export function curvesSpec(s: Sweep): TopLevelSpec {
  const values = s.curves.flatMap((c) =>
    c.accuracy.map((a, i) => ({ model: c.model, eps: s.eps[i]!, accuracy: a.accuracy, lo: a.ci95.lo, hi: a.ci95.hi })),
  );
  const x = { field: 'eps', type: 'quantitative', title: 'eps' } as const;
  const color = { field: 'model', type: 'nominal', title: 'model' } as const;
  return {
    title: `Robust accuracy versus eps (${s.attack}, ${s.n} points, 95% Wilson band)`,
    width: 480,
    height: 280,
    data: { values },
    layer: [
      {
        mark: { type: 'errorband', opacity: 0.2 },
        // NOTE: the legend comes from the lines alone; the band's would show faded swatches
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', axis: PERCENT_AXIS },
          y2: { field: 'hi' },
          color: { ...color, legend: null },
        },
      },
      {
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: PERCENT_AXIS },
          color,
        },
      },
    ],
    resolve: { legend: { color: 'independent' } },
  };
}

/** The main table's accuracies as bars, with their 95% Wilson intervals as error bars. */
export function barsSpec(rows: SummaryRow[]): TopLevelSpec {
  const name = (r: SummaryRow): string => `${modelText(r)} · ${r.attack}`;
  const repeated = (r: SummaryRow): boolean => rows.filter((q) => name(q) === name(r)).length > 1;
  const values = rows.map((r) => ({
    label: repeated(r) ? `${name(r)} · eps ${epsText(r.eps)}` : name(r),
    model: r.model,
    accuracy: r.accuracy.accuracy,
    lo: r.accuracy.ci95.lo,
    hi: r.accuracy.ci95.hi,
  }));
  const y = { field: 'label', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } } as const;
  return {
    title: 'Accuracy per model and attack (95% Wilson interval)',
    width: 480,
    height: { step: 24 },
    data: { values },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y,
          x: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: PERCENT_AXIS },
          color: { field: 'model', type: 'nominal', title: 'model' },
        },
      },
      { mark: { type: 'rule', color: 'black' }, encoding: { y, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } } },
    ],
  };
}

/** A spec as an SVG element for inlining in HTML. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // NOTE: the HTML parser puts inline <svg> in the SVG namespace by itself; dropping the
    // namespace attributes leaves the report without a single URL.
    return svg.replace(/ xmlns(:xlink)?="[^"]*"/g, '');
  } finally {
    view.finalize();
  }
}
