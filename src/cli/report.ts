// `carso report <run-dir>`: writes report.json, report.md and report.html from
// the run folder's eval.json (and sweep.json, grid.json when present).
//
//   carso report runs/fmnist-carso
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { writeReport } from '../eval/report.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write report.json, report.md and a self-contained report.html (plots, image grid) for a run folder')
    .argument('<run-dir>', 'folder holding eval.json, and optionally sweep.json and grid.json')
    .action(async (runDir: string) => {
      if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new Error(`run folder '${runDir}' not found`);
      const paths = await writeReport(runDir);
      for (const p of [paths.json, paths.md, paths.html]) console.log(p);
    });
}
