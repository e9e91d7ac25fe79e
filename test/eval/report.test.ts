// `writeReport` on a fixture run folder: report.md, report.html and report.json
// say the same numbers, every accuracy printed is one of the run's JSON, the
// HTML needs nothing from outside, optional files may be missing, and a
// corrupt file fails with its name and the field at fault.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport, type ReportJson } from '../../src/eval/report.js';
import { countText, differenceText, durationText, epsText } from '../../src/eval/report/format.js';
import { modelText } from '../../src/eval/report/summary.js';
import { verdictCells } from '../../src/eval/report/verdict-section.js';
import type { CountWithInterval } from '../../src/eval/stats.js';
import { COUNT, countsIn, evalResult, grid, printed, sweep, writeRun } from './report-fixture.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'carso-report-'));

async function report(opts: Parameters<typeof writeRun>[1] = {}) {
  const dir = tmp();
  writeRun(dir, opts);
  const paths = await writeReport(dir);
  const read = (p: string): string => readFileSync(p, 'utf8');
  return { dir, paths, md: read(paths.md), html: read(paths.html), json: JSON.parse(read(paths.json)) as ReportJson };
}

/** The cells of every table row of a markdown file. */
const mdCells = (md: string): string[] =>
  md
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| ---'))
    .flatMap((l) => l.slice(2, -2).split(' | '));

const unescape = (s: string): string =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
const htmlCells = (html: string): string[] => [...html.matchAll(/<t[dh]>(.*?)<\/t[dh]>/g)].map((m) => unescape(m[1]!));

describe('writeReport on a full run folder', async () => {
  const r = await report();

  test('every accuracy in report.md is a count of report.json, printed from its numbers', () => {
    const counts = countsIn(r.json).map((c) => printed(c).join(' '));
    const shown = [...r.md.matchAll(COUNT)];
    // 3 verdict rows + 6 main rows + 4 stochastic x 2 + 4 EOT + 10 sweep
    assert.equal(shown.length, 3 + 6 + 4 * 2 + 4 + 10, 'accuracies printed in report.md');
    for (const m of shown) assert.ok(counts.includes(m.slice(1).join(' ')), `'${m[0]}' is not a count of report.json`);
  });

  test("report.json's summary is the main table, text for text", () => {
    const e = evalResult();
    assert.equal(r.json.summary.length, e.entries.length);
    r.json.summary.forEach((s, i) => {
      assert.deepEqual(printed(s.accuracy), printed(e.entries[i]!.accuracy));
      assert.ok(r.md.includes(`| ${modelText(s)} | ${s.attack} | ${epsText(s.eps)} | ${s.accuracy.text} |`), s.accuracy.text);
    });
    const carso = r.json.summary[5]!.stochastic!;
    assert.equal(carso.meanOverR.text, '72.2%'); // 0.7215 -> one decimal
    assert.ok(r.md.includes(`| 10 | ${carso.single.text} | 72.2% | ${carso.worstOfR.text} |`));
    assert.equal(r.json.eval.seed, 3);
    assert.deepEqual(r.json.eval.versions, e.versions);
    assert.deepEqual(r.json.timings, {
      evaluation: 4139.2,
      sweep: 512.7,
      entries: e.entries.map((x) => ({ model: x.model, attack: x.attack, seconds: x.seconds })),
    });
  });

  test('report.html has every table cell of report.md', () => {
    const inHtml = new Set(htmlCells(r.html));
    // NOTE: the grid's label table is the markdown's stand-in for the images; the HTML captions the images instead
    const [tables, gridTable] = r.md.split('## Image grid');
    assert.deepEqual(
      mdCells(tables!).filter((c) => !inHtml.has(c)),
      [],
    );
    const names = r.json.grid!.classNames;
    assert.ok(gridTable!.includes('| 1 | Pullover | Pullover | Coat | Shirt |'));
    for (const p of r.json.grid!.points) assert.ok(r.html.includes(`true: ${names[p.label]}`));
  });

  test('the verdict is the first section: its rows as eval.json has them, and the masking sentence', () => {
    const sections = [...r.md.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    assert.equal(sections[0], 'Verdict');
    assert.equal(sections.at(-1), 'Settings');
    const v = r.json.eval.verdict;
    for (const row of v.map(verdictCells)) assert.ok(r.md.includes(`| ${row.join(' | ')} |`), row.join(' | '));
    assert.ok(
      r.md.includes(
        '| CARSO as the paper evaluates it | 172/200 (86.0%, 95% CI 80.5–90.1%) | +39.0 pp (95% CI +31.0 to +46.0 pp) | 196/200 (98.0%) | CE 197/200 (98.5%); DLR 196/200 (98.0%) | 172/176 (97.7%) | 0.0021 |',
      ),
    );
    assert.match(
      r.md,
      /> \*\*Warning\*\* CARSO's reference aggregation returns NaN\/Inf at 196 of 200 clean points: .* The paper protocol's 172 of 200 is therefore not evidence of robustness\. Evaluated honestly .* keeps 131 of 200\./,
    );
  });

  test('sections: per attack, comparisons, diagnostics, EOT, sweep', () => {
    assert.ok(r.md.includes('| apgd-t | 95/200 (47.5%) | 5 min 11 s | 180000 |'));
    assert.ok(r.md.includes('| carso | classifier | +18.5 pp (95% CI +10.3 to +26.1 pp) | 52 | 15 | 200 |'));
    assert.match(r.md, /> \*\*Warning\*\* transfer-stronger: a transfer attack/);
    assert.match(r.md, /> \*\*Warning\*\* AutoAttack check randomized:/);
    assert.match(r.md, /Checks that did not fire:\n\n- eps-monotone: .*\n- unbounded: /);
    assert.ok(r.md.includes('| 20 | 33/50 (66.0%, 95% CI 52.2–77.6%) |'));
    assert.match(
      r.md,
      /## Accuracy versus eps \(apgd-ce\)\n\nRobust accuracy versus eps under apgd-ce alone.*cheaper than the full evaluation/,
    );
    assert.ok(r.md.includes('| eps | classifier | carso |'));
  });

  test('report.html is self-contained: no script, no URL, inline SVG plots and PNG images', () => {
    assert.doesNotMatch(r.html, /<script|<link|<iframe|@import|url\(/i);
    assert.doesNotMatch(r.html, /https?:|(src|href)="\/\//);
    assert.deepEqual(
      [...r.html.matchAll(/ src="([^"]{0,22})/g)].map((m) => m[1]),
      Array(10).fill('data:image/png;base64,'),
    );
    assert.equal([...r.html.matchAll(/<svg /g)].length, 2);
    assert.match(r.html, /class="mark-rect role-mark/); // bars
    assert.match(r.html, /class="mark-line role-mark/); // curves
    assert.match(r.html, /class="mark-area role-mark/); // Wilson band
  });
});

test('missing sweep.json and grid.json: the report says what there is', async () => {
  const r = await report({ sweep: false, grid: false });
  assert.equal(r.json.sweep, null);
  assert.equal(r.json.grid, null);
  assert.deepEqual(r.json.files, { eval: 'eval.json', sweep: null, grid: null });
  assert.ok(r.md.includes('From eval.json.'));
  assert.doesNotMatch(r.md, /Accuracy versus eps|Image grid/);
  assert.equal([...r.html.matchAll(/<svg /g)].length, 1);
  assert.doesNotMatch(r.html, /<img/);
});

test('an RGB grid is drawn; a grid alone with eval.json is enough', async () => {
  const r = await report({ sweep: false, channels: 3 });
  assert.equal([...r.html.matchAll(/<img /g)].length, 10);
  assert.equal(r.json.grid!.channels, 3);
  assert.equal(r.json.grid!.points[0]!.reconstructions, 3); // a count: the pixels stay in grid.json
});

describe('bad run folders fail with the file and the field', () => {
  const put = (dir: string, name: string, v: unknown): void => writeFileSync(join(dir, name), JSON.stringify(v));
  const cases: [string, (dir: string) => void, RegExp][] = [
    ['missing eval.json', (d) => rmSync(join(d, 'eval.json')), /eval\.json: not found \(a run folder needs eval\.json/],
    [
      'truncated eval.json',
      (d) => writeFileSync(join(d, 'eval.json'), '{"format": "carso-eval/1", "entr'),
      /eval\.json: not valid JSON/,
    ],
    [
      'a count without its correct field',
      (d) => {
        const e = evalResult();
        delete (e.entries[1]!.accuracy as Partial<CountWithInterval>).correct;
        put(d, 'eval.json', e);
      },
      /eval\.json: entries\[1\]\.accuracy\.correct: expected an integer, got nothing \(missing\)/,
    ],
    [
      'a wrong format',
      (d) => put(d, 'eval.json', { ...evalResult(), format: 'carso-eval/0' }),
      /eval\.json: format: expected 'carso-eval\/2', got string "carso-eval\/0"/,
    ],
    [
      'an eval.json of an older carso',
      (d) => put(d, 'eval.json', { ...evalResult(), format: 'carso-eval/1' }),
      /eval\.json: written by an older carso \(format carso-eval\/1.*rerun the same `carso eval`/,
    ],
    [
      'correct above total',
      (d) => {
        const e = evalResult();
        e.entries[0]!.accuracy.correct = 999;
        put(d, 'eval.json', e);
      },
      /eval\.json: entries\[0\]\.accuracy: correct 999 is not in \[0, total 200\]/,
    ],
    ['corrupt sweep.json', (d) => writeFileSync(join(d, 'sweep.json'), 'nan'), /sweep\.json: not valid JSON/],
    [
      'a sweep curve short of a point',
      (d) => {
        const s = sweep();
        s.curves[1]!.accuracy.pop();
        put(d, 'sweep.json', s);
      },
      /sweep\.json: curve 'carso' has 4 points for 5 eps values/,
    ],
    [
      'an image of the wrong size',
      (d) => {
        const g = grid();
        g.points[1]!.reconstructions[2]!.pop();
        put(d, 'grid.json', g);
      },
      /grid\.json: points\[1\]: an image does not have C·H·W = 784 values/,
    ],
    [
      'a label that names no class',
      (d) => {
        const g = grid();
        g.points[0]!.predictedAdversarialCarso = 10;
        put(d, 'grid.json', g);
      },
      /grid\.json: points\[0\]: a label is not a class index in \[0, 10\)/,
    ],
  ];
  for (const [name, spoil, error] of cases)
    test(name, async () => {
      const dir = tmp();
      writeRun(dir);
      spoil(dir);
      await assert.rejects(writeReport(dir), error);
      assert.ok(!existsSync(join(dir, 'report.json')) && !existsSync(join(dir, 'report.html')), 'nothing is written');
    });
});

test('number formats, hand-worked', () => {
  assert.equal(
    countText({ correct: 94, total: 200, accuracy: 0.47, ci95: { lo: 0.40198, hi: 0.53913 } }),
    '94/200 (47.0%, 95% CI 40.2–53.9%)',
  );
  assert.equal(epsText(8 / 255), '0.03137 (8/255)');
  assert.equal(epsText(0.1), '0.1');
  assert.equal(epsText(0.2), '0.2'); // = 51/255, but written short
  const cmp = { a: 'a', b: 'b', difference: -0.0312, ci95: { lo: -0.0851, hi: 0.0207 }, aOnly: 3, bOnly: 9, total: 200 };
  assert.equal(differenceText(cmp), '-3.1 pp (95% CI -8.5 to +2.1 pp)');
  assert.deepEqual([12.34, 245.2, 7384].map(durationText), ['12.3 s', '4 min 05 s', '2 h 03 min']);
});
