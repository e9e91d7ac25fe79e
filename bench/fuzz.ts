// bench/fuzz: mutated inputs for every file format carso reads (bench/fuzz/formats.ts),
// each loaded in a child process: counts of loaded, rejected (an Error naming the
// file), crashed, hung, over memory, and errors that do not name the file.
//
//   nice -n 10 node --import tsx bench/fuzz.ts [--n 10000] [--seed 1] [--formats idx,jpeg] [--out bench/results/fuzz.json]
//   node --import tsx bench/fuzz.ts --formats purifier --only 1234 --keep /tmp/input   # one input, kept for a look
import { writeFileSync } from 'node:fs';
import { benchOptions } from './stats.js';
import { FORMATS } from './fuzz/formats.js';
import { fuzzFormat, type FuzzCounts } from './fuzz/run.js';
import { formatNamed, makeInput, tryLoad } from './fuzz/worker.js';
import { writeTree } from './fuzz/tree.js';

const o = benchOptions(
  { n: 10000, seed: 1, batch: 500, timeout: 20000, only: -1 },
  { formats: FORMATS.map((f) => f.name).join(','), out: undefined, keep: '/tmp/carso-fuzz-input' },
);
const names = o.formats.split(',');
names.forEach(formatNamed);

if (o.only >= 0) {
  const f = formatNamed(names[0]!);
  writeTree(o.keep, makeInput(f, o.seed, o.only));
  console.log(JSON.stringify({ input: o.keep, ...tryLoad(f, o.keep) }, null, 1));
} else {
  const rows: FuzzCounts[] = [];
  console.log(`${'format'.padEnd(17)} inputs  loaded  rejected  crashed  hung  unnamed  over-memory  max-growth   seconds`);
  for (const name of names) {
    const c = await fuzzFormat(name, { n: o.n, seed: o.seed, batch: o.batch, timeoutMs: o.timeout });
    rows.push(c);
    console.log(
      `${name.padEnd(17)} ${String(c.inputs).padStart(6)} ${String(c.loaded).padStart(7)} ${String(c.rejected).padStart(9)} ` +
        `${String(c.crashed).padStart(8)} ${String(c.hung).padStart(5)} ${String(c.unnamed).padStart(8)} ${String(c.overMemory).padStart(12)} ` +
        `${(c.maxGrowthBytes / 2 ** 20).toFixed(1).padStart(8)} MB ${c.seconds.toFixed(0).padStart(8)}`,
    );
    for (const f of c.failures.slice(0, 5)) console.log(`    #${f.index} ${f.kind}: ${f.message}`);
  }
  if (o.out !== undefined) writeFileSync(o.out, JSON.stringify({ n: o.n, seed: o.seed, formats: rows }, null, 1) + '\n');
}
