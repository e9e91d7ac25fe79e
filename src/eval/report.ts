// `carso report`: a run folder's eval.json (+ sweep.json, grid.json when
// present) written up as report.json, report.md and a self-contained
// report.html with SVG plots and the image grid. Every number printed comes
// from the run's JSON (report/format.ts); the three files are written only
// once all of them are built, each atomically.
//
//   await writeReport('runs/fmnist-carso'); // -> { json, md, html } paths
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import type { FigureKey } from './report/document.js';
import { renderGrid } from './report/grid.js';
import { renderHtml } from './report/html.js';
import { renderMarkdown } from './report/markdown.js';
import { barsSpec, curvesSpec, renderSvg } from './report/plots.js';
import { FILES, readRun, type Run } from './report/read.js';
import { buildDocument } from './report/sections.js';
import { summarize, type SummaryRow } from './report/summary.js';
import type { EvalResult, ImageGrid, Sweep } from './result.js';

/** The grid without its pixels (they stay in grid.json). */
type GridLabels = Omit<ImageGrid, 'points'> & {
  points: (Omit<ImageGrid['points'][number], 'clean' | 'adversarial' | 'reconstructions'> & { reconstructions: number })[];
};

export interface ReportJson {
  format: 'carso-report/1';
  /** The run files the report was made from (null: absent). */
  files: { eval: string; sweep: string | null; grid: string | null };
  /** The main table, with the text printed for each number. */
  summary: SummaryRow[];
  timings: { evaluation: number; sweep: number | null; entries: { model: string; attack: string; seconds: number }[] };
  eval: EvalResult;
  sweep: Sweep | null;
  grid: GridLabels | null;
}

export interface ReportPaths {
  json: string;
  md: string;
  html: string;
}

function reportJson(run: Run, summary: SummaryRow[]): ReportJson {
  const e = run.eval;
  const grid = run.grid && {
    ...run.grid,
    points: run.grid.points.map(({ clean: _c, adversarial: _a, reconstructions, ...p }) => ({
      ...p,
      reconstructions: reconstructions.length,
    })),
  };
  return {
    format: 'carso-report/1',
    files: { eval: FILES.eval, sweep: run.sweep && FILES.sweep, grid: run.grid && FILES.grid },
    summary,
    timings: {
      evaluation: e.seconds,
      sweep: run.sweep?.seconds ?? null,
      entries: e.entries.map((x) => ({ model: x.model, attack: x.attack, seconds: x.seconds })),
    },
    eval: e,
    sweep: run.sweep,
    grid,
  };
}

async function figures(run: Run, summary: SummaryRow[]): Promise<Partial<Record<FigureKey, string>>> {
  const out: Partial<Record<FigureKey, string>> = {};
  if (summary.length > 0) out.bars = `<figure class="plot">${await renderSvg(barsSpec(summary))}</figure>`;
  if (run.sweep && run.sweep.curves.length > 0)
    out.curves = `<figure class="plot">${await renderSvg(curvesSpec(run.sweep))}</figure>`;
  if (run.grid) out.grid = renderGrid(run.grid);
  return out;
}

/** Reads and checks the run files in `runDir`, writes report.json, report.md and report.html there. */
export async function writeReport(runDir: string): Promise<ReportPaths> {
  const run = readRun(runDir);
  const summary = summarize(run.eval);
  const doc = buildDocument(run, summary);
  const json = JSON.stringify(reportJson(run, summary), null, 2) + '\n';
  const md = renderMarkdown(doc);
  const html = renderHtml(doc, await figures(run, summary));
  const paths = { json: join(runDir, 'report.json'), md: join(runDir, 'report.md'), html: join(runDir, 'report.html') };
  writeFileAtomic(paths.json, json);
  writeFileAtomic(paths.md, md);
  writeFileAtomic(paths.html, html);
  return paths;
}
