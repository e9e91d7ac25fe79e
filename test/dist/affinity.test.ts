// --pin-cpus (src/dist/affinity.ts): which CPUs a local rank takes, hand-worked;
// and that pinning moves every thread of a process, checked from /proc in a
// child process (this one stays unpinned).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cpuPlan, localRanks } from '../../src/dist/affinity.js';
import { native } from '../../src/tensor/native.js';
import { runNode } from './ranks.js';

test('cpuPlan: local rank L with T threads takes the allowed CPUs L*T .. L*T+T-1', () => {
  assert.deepEqual(cpuPlan([0, 1, 2, 3], 0, 1, 2), [0]);
  assert.deepEqual(cpuPlan([0, 1, 2, 3], 1, 2, 2), [2, 3]);
  // the allowed set need not start at 0 or be contiguous (taskset, cgroups)
  assert.deepEqual(cpuPlan([4, 6, 9], 2, 1, null), [9]);
  assert.throws(
    () => cpuPlan([0, 1], 1, 2, 2),
    /2 process\(es\) on this machine x 2 thread\(s\) need 4 CPUs, but this process may use 2 \(0,1\)/,
  );
  // the launcher's count of local ranks is checked, not only this rank's share
  assert.throws(() => cpuPlan([0, 1, 2], 0, 1, 4), /need 4 CPUs/);
  assert.throws(() => cpuPlan(null, 0, 1, null), /not available on this platform/);
});

test('localRanks: torchrun LOCAL_WORLD_SIZE, Slurm SLURM_NTASKS_PER_NODE (also "2(x3)"), else null', () => {
  assert.equal(localRanks({ LOCAL_WORLD_SIZE: '4' }), 4);
  assert.equal(localRanks({ SLURM_NTASKS_PER_NODE: '2(x3)' }), 2);
  assert.equal(localRanks({}), null);
  assert.equal(localRanks({ LOCAL_WORLD_SIZE: 'x' }), null);
});

const linux = existsSync('/proc/self/task');

test('pinRank moves every thread of the process (and one it starts later) onto its CPU', { skip: !linux }, async () => {
  const allowed = native.cpuAffinity();
  assert.ok(allowed !== null && allowed.length > 0, 'cpuAffinity on Linux lists this process CPUs');
  const last = allowed.length - 1;
  const dir = mkdtempSync(join(tmpdir(), 'carso-affinity-'));
  const script = join(dir, 'pin.mts');
  // NOTE: local rank `last` of 1 thread: the last allowed CPU, so that the check is not passed by CPU 0 by chance
  writeFileSync(
    script,
    [
      `import { readFileSync, readdirSync } from 'node:fs';`,
      `import { Worker } from 'node:worker_threads';`,
      `import { pinRank } from ${JSON.stringify(resolve('src/dist/affinity.ts'))};`,
      `const cpus = pinRank(${last}, 1, {});`,
      `const w = new Worker('setTimeout(() => {}, 300)', { eval: true });`,
      `await new Promise((r) => setTimeout(r, 100));`,
      `const lists = readdirSync('/proc/self/task').map((t) => /Cpus_allowed_list:\\s*(\\S+)/.exec(readFileSync('/proc/self/task/' + t + '/status', 'utf8'))?.[1]);`,
      `console.log(JSON.stringify({ cpus, lists }));`,
      `await w.terminate();`,
    ].join('\n'),
  );
  const run = await runNode([script]);
  assert.equal(run.code, 0, run.stderr);
  const { cpus, lists } = JSON.parse(run.stdout) as { cpus: number[]; lists: string[] };
  assert.deepEqual(cpus, [allowed[last]]);
  assert.ok(lists.length > 3, `several threads (V8, libuv, the worker): ${lists.length}`);
  assert.deepEqual(new Set(lists), new Set([String(allowed[last])]), `every thread on CPU ${allowed[last]}: ${lists}`);
});
