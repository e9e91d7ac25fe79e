// Launcher environments: torchrun's and Slurm's variables, single-process
// fallbacks, and clear errors naming the variable or flag that is wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distSettings, type DistRequest } from '../../src/dist/env.js';
import { ProcessGroup } from '../../src/dist/group.js';
import { native } from '../../src/tensor/native.js';

const req: DistRequest = { launcher: 'auto', backend: 'gloo', timeoutSeconds: 30 };
const torchrun = { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: 'node0', MASTER_PORT: '29501' };

test('torchrun: rank, size, local rank, master; its agent store puts the keys under the restart attempt', () => {
  const s = distSettings(req, torchrun)!;
  assert.deepEqual(
    [s.rank, s.size, s.localRank, s.masterAddr, s.masterPort, s.source, s.agentStore, s.prefix, s.timeoutMs],
    [1, 4, 1, 'node0', 29501, 'torchrun', false, 'carso', 30_000],
  );
  const agent = distSettings(req, { ...torchrun, TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2' })!;
  assert.equal(agent.agentStore, true);
  assert.equal(agent.prefix, '/worker/attempt_2/carso');
  assert.equal(distSettings(req, { ...torchrun, GLOO_SOCKET_IFNAME: 'eth1' })!.glooInterface, 'eth1');
  assert.equal(distSettings({ ...req, masterPort: 4000 }, torchrun)!.masterPort, 4000);
});

test('Slurm: only when asked for; the master address from the flag or MASTER_ADDR', () => {
  const slurm = { SLURM_PROCID: '3', SLURM_NTASKS: '8', SLURM_LOCALID: '1' };
  assert.equal(distSettings(req, slurm), null, "'auto' never reads Slurm's variables");
  const s = distSettings({ ...req, launcher: 'slurm', masterAddr: 'n17' }, slurm)!;
  assert.deepEqual([s.rank, s.size, s.localRank, s.masterAddr, s.masterPort, s.source], [3, 8, 1, 'n17', 29500, 'slurm']);
  assert.equal(distSettings({ ...req, launcher: 'slurm' }, { ...slurm, MASTER_ADDR: 'n2' })!.masterAddr, 'n2');
  assert.throws(() => distSettings({ ...req, launcher: 'slurm' }, slurm), /Slurm does not name a master: give --master-addr/);
});

test('one process: no launcher, a group of one, or --launcher none', () => {
  assert.equal(distSettings(req, {}), null);
  assert.equal(distSettings(req, { ...torchrun, RANK: '0', WORLD_SIZE: '1' }), null);
  assert.equal(distSettings({ ...req, launcher: 'none' }, torchrun), null);
});

test('bad values name the variable', () => {
  assert.throws(() => distSettings(req, { ...torchrun, RANK: '4' }), /RANK='4' must be an integer in \[0, 3\]/);
  assert.throws(() => distSettings(req, { ...torchrun, WORLD_SIZE: 'two' }), /WORLD_SIZE='two'/);
  assert.throws(() => distSettings(req, { ...torchrun, MASTER_PORT: '70000' }), /MASTER_PORT='70000'/);
  assert.throws(() => distSettings({ ...req, launcher: 'torchrun' }, {}), /WORLD_SIZE is not set/);
  assert.throws(() => distSettings(req, { ...torchrun, MASTER_ADDR: undefined }), /MASTER_ADDR is not set/);
  assert.throws(() => distSettings({ ...req, timeoutSeconds: 0 }, torchrun), /timeout must be a number of seconds > 0/);
});

test('this CPU build offers Gloo only; NCCL is a clear error, not a crash', () => {
  assert.deepEqual(ProcessGroup.backends(), ['gloo']);
  const o = { host: '127.0.0.1', port: 29999, isServer: true, rank: 0, size: 1, timeoutMs: 1000, prefix: 't' };
  assert.throws(() => native.distInit({ ...o, backend: 'nccl' }), /'nccl' needs a CUDA build of libtorch/);
  assert.throws(() => native.distInit({ ...o, backend: 'mpi' }), /backend must be 'gloo' or 'nccl'/);
  assert.throws(() => native.distInit({ ...o, backend: 'gloo', rank: 2 }), /rank 2 outside a group of size 1/);
});

test('a group of one: collectives are the identity, a destroyed group refuses further calls', async () => {
  const { freePort } = await import('../../src/dist/local.js');
  const { tensor } = await import('../../src/tensor/index.js');
  const s = { ...distSettings(req, { ...torchrun, RANK: '0', WORLD_SIZE: '2' })!, size: 1, masterAddr: '127.0.0.1' };
  const g = ProcessGroup.init({ ...s, masterPort: await freePort() });
  const t = tensor([1, 2, 3]);
  g.allReduce(t);
  assert.deepEqual(t.toArray(), [1, 2, 3]);
  assert.deepEqual(g.allGather(t).shape, [1, 3]);
  assert.deepEqual(Array.from(g.broadcastBytes(Uint8Array.of(7, 8))), [7, 8]);
  assert.deepEqual(
    g.allGatherBytes(Uint8Array.of(5)).map((b) => Array.from(b)),
    [[5]],
  );
  g.destroy();
  assert.throws(() => g.barrier(), /used after destroy/);
});
