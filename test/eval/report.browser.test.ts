// report.html in a real browser: headless Chromium (Debian package `chromium`,
// which `make test` installs) loads the file, and the DOM it builds must hold
// the plots, the tables with report.json's numbers and the decoded image grid.
// A screenshot is kept in test-artifacts/report.png for a person to look at.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeReport, type ReportJson } from '../../src/eval/report.js';
import type { CountWithInterval } from '../../src/eval/stats.js';
import { modelText } from '../../src/eval/report/summary.js';
import { verdictCells } from '../../src/eval/report/verdict-section.js';
import { COUNT, printed, writeRun } from './report-fixture.js';

const CHROMIUM = process.env['CARSO_CHROMIUM'] ?? '/usr/bin/chromium';
// NOTE: --no-sandbox because tests may run as root (Chromium refuses its sandbox there);
// --disable-dev-shm-usage because containers often have a tiny /dev/shm.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-extensions',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--mute-audio',
];
const SCREENSHOT = resolve('test-artifacts/report.png');

/** Runs Chromium on a page with a fresh profile; resolves to its stdout. */
function chromium(args: string[], page: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'carso-chromium-'));
  const argv = [...FLAGS, `--user-data-dir=${profile}`, ...args, pathToFileURL(page).href];
  return new Promise<string>((ok, fail) =>
    execFile(CHROMIUM, argv, { timeout: 60_000, maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) fail(new Error(`${CHROMIUM} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-2000)}`));
      else ok(stdout);
    }),
  );
}

const text = (html: string): string =>
  html
    .replace(/<[^>]*>/g, '')
    .replace(/&amp;/g, '&')
    .trim();
/** The <td> texts of each body row of the table with this id. */
function rows(dom: string, id: string): string[][] {
  const table = new RegExp(`<table id="${id}">([\\s\\S]*?)</table>`).exec(dom);
  assert.ok(table, `table #${id} is in the DOM`);
  const body = table[1]!.split('<tbody>')[1]!;
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) =>
    [...r[1]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => text(c[1]!)),
  );
}
/** How many drawn elements (`<path d="M...">`, `<line>`) the first group of a vega mark type holds. */
function marks(svg: string, mark: string, element: 'path' | 'line'): number {
  const group = new RegExp(`class="mark-${mark} role-mark[^>]*>([\\s\\S]*?)</g>`).exec(svg);
  assert.ok(group, `a ${mark} mark`);
  const drawn = element === 'path' ? /<path [^>]*\bd="M[^"]+"/g : /<line /g;
  return [...group[1]!.matchAll(drawn)].length;
}
/** A printed accuracy against the count it was printed from. */
function same(cell: string, c: CountWithInterval, where: string): void {
  const m = new RegExp(COUNT.source).exec(cell);
  assert.ok(m, `${where}: '${cell}' is an accuracy`);
  assert.deepEqual(m.slice(1), printed(c), `${where}: '${cell}' against report.json`);
}

describe('report.html in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carso-report-browser-'));
  let page = '';
  let json: ReportJson;
  let dom = '';

  /** A copy of the report that runs `onLoad` once loaded (the report itself runs no script); returns its path. */
  const probePage = (name: string, onLoad: string): string => {
    const probe = join(dir, name);
    const html = readFileSync(page, 'utf8')
      .replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
      .replace('</body>', `<script>addEventListener("load", () => { ${onLoad} });</script></body>`);
    writeFileSync(probe, html);
    return probe;
  };

  before(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `headless Chromium not found at ${CHROMIUM}: this test needs the Debian package 'chromium', which ` +
          '`make test` installs (scripts/ensure-apt.sh, as root); or run: sudo apt-get install -y chromium ' +
          '(CARSO_CHROMIUM=/path/to/chromium points it at another binary)',
      );
    writeRun(dir);
    page = (await writeReport(dir)).html;
    json = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ReportJson;
    dom = await chromium(['--dump-dom'], page);
  });

  test('the plots are SVG with marks: bars with error bars, lines with their Wilson band', () => {
    const svgs = [...dom.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
    assert.equal(svgs.length, 2, 'two plots');
    const [bars, curves] = svgs as [string, string];
    assert.equal(marks(bars, 'rect', 'path'), json.summary.length, 'a bar per main-table row');
    assert.equal(marks(bars, 'rule', 'line'), json.summary.length, 'an error bar per row');
    assert.equal([...curves.matchAll(/class="mark-line role-mark/g)].length, json.sweep!.curves.length, 'a line per model');
    assert.equal([...curves.matchAll(/class="mark-area role-mark/g)].length, json.sweep!.curves.length, 'a band per model');
    assert.equal(marks(curves, 'line', 'path'), 1);
    const points = json.sweep!.eps.length * json.sweep!.curves.length;
    assert.equal(marks(curves, 'symbol', 'path'), points, 'a point per eps and model');
  });

  test("the tables show report.json's numbers", () => {
    const main = rows(dom, 'main');
    assert.equal(main.length, json.summary.length);
    json.summary.forEach((s, i) => {
      const [model, attack, , accuracy, , single, mean, worst] = main[i]!;
      assert.deepEqual([model, attack], [modelText(s), s.attack]);
      same(accuracy!, s.accuracy, `main row ${i}`);
      if (s.stochastic) {
        same(single!, s.stochastic.single, `main row ${i} single`);
        same(worst!, s.stochastic.worstOfR, `main row ${i} worst-of-R`);
        assert.equal(mean, `${(100 * s.stochastic.meanOverR.accuracy).toFixed(1)}%`);
      }
    });
    const sweep = json.sweep!;
    rows(dom, 'sweep').forEach((r, i) =>
      sweep.curves.forEach((c, j) => same(r[j + 1]!, c.accuracy[i]!, `sweep eps ${sweep.eps[i]}`)),
    );
    const eot = json.eval.eotConvergence!;
    rows(dom, 'eot').forEach((r, i) => same(r[1]!, eot.accuracy[i]!, `EOT ${eot.eot[i]}`));
    assert.equal(rows(dom, 'comparisons')[0]![3], String(json.eval.comparisons[0]!.aOnly));
  });

  test("the first screen is the verdict: its table, with report.json's rows, fits a 1280x800 window above everything else", async () => {
    assert.deepEqual(rows(dom, 'verdict'), json.eval.verdict.map(verdictCells));
    // measures the laid-out page
    const probe = probePage(
      'first-screen.html',
      'const b = document.body; b.dataset.first = document.querySelector("section").id; b.dataset.viewport = String(innerHeight);' +
        ' b.dataset.verdictBottom = String(document.querySelector("#verdict table").getBoundingClientRect().bottom);' +
        ' b.dataset.settingsTop = String(document.getElementById("settings").getBoundingClientRect().top);',
    );
    const probed = await chromium(['--window-size=1280,800', '--virtual-time-budget=10000', '--dump-dom'], probe);
    const data = (k: string): string => new RegExp(`data-${k}="([^"]*)"`).exec(probed)?.[1] ?? '';
    assert.equal(data('first'), 'verdict', 'the first section');
    const viewport = Number(data('viewport'));
    assert.ok(viewport >= 600, `viewport ${viewport} px`); // NOTE: headless Chromium keeps ~140 px of the 800 for its window frame
    assert.ok(
      Number(data('verdict-bottom')) <= viewport,
      `the verdict table ends at ${data('verdict-bottom')} px, the screen at ${viewport}`,
    );
    assert.ok(Number(data('settings-top')) > viewport, 'the settings are below the first screen');
  });

  test('the image grid: a row per point, clean + adversarial + reconstructions, captioned with class names', () => {
    const g = json.grid!;
    const gridRows = [...dom.matchAll(/<div class="grid-row" data-point="(\d+)">([\s\S]*?)<\/div>/g)];
    assert.deepEqual(
      gridRows.map((r) => Number(r[1])),
      g.points.map((p) => p.index),
    );
    gridRows.forEach((r, i) => {
      const p = g.points[i]!;
      const images = [...r[2]!.matchAll(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+"/g)];
      assert.equal(images.length, 2 + p.reconstructions, `point ${p.index}: images`);
      const captions = text(r[2]!.replace(/<br>/g, '\n'));
      for (const c of [`true: ${g.classNames[p.label]}`, `CARSO: ${g.classNames[p.predictedAdversarialCarso]}`])
        assert.ok(captions.includes(c), `point ${p.index}: caption '${c}'`);
    });
  });

  test('every PNG decodes in the browser to its size', async () => {
    // records each image's decoded size
    const probe = probePage(
      'probe.html',
      'for (const i of document.images) i.dataset.decoded = `${i.naturalWidth}x${i.naturalHeight}`;',
    );
    const probed = await chromium(['--virtual-time-budget=10000', '--dump-dom'], probe);
    const sizes = [...probed.matchAll(/data-decoded="([^"]*)"/g)].map((m) => m[1]);
    const g = json.grid!;
    const n = g.points.reduce((k, p) => k + 2 + p.reconstructions, 0);
    assert.deepEqual(sizes, Array(n).fill(`${g.size}x${g.size}`));
  });

  test('a screenshot: test-artifacts/report.png', async () => {
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    rmSync(SCREENSHOT, { force: true });
    await chromium([`--screenshot=${SCREENSHOT}`, '--window-size=1280,2000', '--hide-scrollbars'], page);
    assert.ok(existsSync(SCREENSHOT), `${SCREENSHOT} written`);
    const png = readFileSync(SCREENSHOT);
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1280, 2000]);
    // NOTE: a blank 1280x2000 page compresses to a few kB; the report's tables and plots take far more.
    assert.ok(statSync(SCREENSHOT).size > 50_000, `screenshot is ${statSync(SCREENSHOT).size} bytes: blank page?`);
  });
});
