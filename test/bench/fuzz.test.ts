// A fast, seeded sample of bench/fuzz: 200 mutated inputs of every file format
// carso reads, each loaded in a child process. Every input loads or throws an
// Error naming the file; none crashes the process, hangs, or takes memory beyond
// 32 MB + 16x its size. (`node --import tsx bench/fuzz.ts` runs 10,000 per format.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATS } from '../../bench/fuzz/formats.js';
import { fuzzFormat } from '../../bench/fuzz/run.js';

const N = 200;

for (const { name } of FORMATS)
  test(`fuzz ${name}: ${N} mutated inputs load or are refused naming the file, no crash, hang or memory blow-up`, async (t) => {
    const c = await fuzzFormat(name, { n: N, seed: 12, batch: N });
    t.diagnostic(
      `${name}: ${c.loaded} loaded, ${c.rejected} rejected, peak growth ${(c.maxGrowthBytes / 2 ** 20).toFixed(1)} MB, ${c.seconds.toFixed(1)} s`,
    );
    const why = c.failures.map((f) => `#${f.index} ${f.kind}: ${f.message}`).join('\n');
    assert.deepEqual([c.crashed, c.hung, c.unnamed, c.overMemory], [0, 0, 0, 0], why);
    assert.equal(c.loaded + c.rejected, N);
    assert.ok(c.rejected >= N / 4, `the mutations must bite: only ${c.rejected} of ${N} refused`);
  });
