// A fast, seeded sample of bench/fuzz: 200 mutated inputs of every file format
// carso reads, each loaded in a child process. Every input loads or throws an
// Error naming the file; none crashes the process, hangs, or takes memory beyond
// 32 MB + 16x its size. (`node --import tsx bench/fuzz.ts` runs 10,000 per format.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FORMATS } from '../../bench/fuzz/formats.js';
import { fuzzFormat } from '../../bench/fuzz/run.js';
import { tryLoad } from '../../bench/fuzz/worker.js';
import { writeTree } from '../../bench/fuzz/tree.js';

const N = 200;

test('every seed input loads (so refusals come from the mutations)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carso-fuzz-seeds-'));
  try {
    for (const f of FORMATS)
      f.seeds().forEach((seed, i) => {
        writeTree(join(dir, f.name), seed);
        const r = tryLoad(f, join(dir, f.name));
        assert.equal(r.outcome, 'loaded', `${f.name} seed ${i}: ${r.message}`);
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

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
