// Worker of test/dist/cascade.test.ts: an AutoAttack cascade, or a whole CARSO
// evaluation, on one process or as one rank of a group (torchrun's variables),
// written as JSON without timings to argv[3] (rank 0; other ranks write nothing).
//   argv: what (aa-standard | aa-rand | eval | eval-saturated), output folder, output JSON
//   CARSO_TEST_DIE_AT=k: rank 1 kills itself (SIGKILL) at its k-th batch event
//   CARSO_TEST_STALL_AT=k: rank 1 stops answering (busy for 4x the timeout) at its k-th batch event
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAutoAttack, type AutoAttackOptions, type CascadeEvent } from '../../../src/eval/autoattack.js';
import { evaluateCarso } from '../../../src/carso/index.js';
import { keep, manualSeed, rand, randint, setNumThreads } from '../../../src/tensor/index.js';
import { distSettings } from '../../../src/dist/env.js';
import { ProcessGroup } from '../../../src/dist/group.js';
import { shardCascade } from '../../../src/dist/cascade.js';
import { comparable, net, points } from '../../eval/fixtures.js';
import { Carso } from '../../../src/carso/carso.js';
import { createModel } from '../../../src/models/index.js';
import { loadModule } from '../../../src/io/index.js';
import { loadDataset, makeBatch } from '../../../src/data/index.js';
import { range } from '../../../src/eval/accuracy.js';
import { SHIPPED_CLASSIFIER, SHIPPED_PURIFIER } from '../../../src/cli/eval.js';
import { SATURATED_EVAL, TINY_CLASSES, TINY_EVAL, saturateTiny, tinyEvalCarso, withoutTimings } from '../../carso/tiny.js';

const [what, out, file] = process.argv.slice(2) as [string, string, string];
setNumThreads(1);
const s = distSettings({ launcher: 'auto', backend: 'gloo', timeoutSeconds: Number(process.env['CARSO_TEST_TIMEOUT'] ?? 600) });
const group = s === null ? null : ProcessGroup.init(s);
const shards = group === null ? undefined : shardCascade(group);
const [dieAt, stallAt] = ['CARSO_TEST_DIE_AT', 'CARSO_TEST_STALL_AT'].map((v) => Number(process.env[v] ?? 0));
let events = 0;
const onEvent = (e: CascadeEvent): void => {
  if (e.kind !== 'batch' || group?.rank !== 1) return;
  events++;
  if (events === dieAt) process.kill(process.pid, 'SIGKILL');
  if (events === stallAt) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4 * (s?.timeoutMs ?? 0));
};
const quiet = { onWarning: (): void => {} };
const write = (v: unknown): void => {
  if ((group?.rank ?? 0) === 0) writeFileSync(file, JSON.stringify(v));
};

manualSeed(5);
const x = keep(rand([6, 1, 12, 12]));
const y = keep(randint(0, TINY_CLASSES, [6]));

if (what === 'aa-standard') {
  // full 'standard' budgets (APGD-CE, APGD-T, FAB-T, Square 5000) on the 8x8 conv net, 10 points in batches of 2
  const model = net();
  const { X, Y } = points(model, 10);
  const o: AutoAttackOptions = {
    norm: 'Linf',
    eps: Number(process.env['EPS'] ?? 0.02),
    batchSize: 2,
    statePath: join(out, 'state.safetensors'),
  };
  const r = runAutoAttack(model, X, Y, { ...o, ...quiet, onEvent, shards });
  write({ ...(comparable(r) as object), wasResumed: r.resumed });
} else if (what === 'aa-rand') {
  // the shipped Fashion-MNIST CARSO (an untrained tiny one predicts one class everywhere) on 6 test points
  const clf = createModel('fmnist-cnn', { dataset: 'fashion-mnist' });
  loadModule(SHIPPED_CLASSIFIER, clf);
  const c = Carso.load(clf, SHIPPED_PURIFIER);
  const b = makeBatch(loadDataset('fashion-mnist', { split: 'test', limit: 6 }), range(0, 6));
  const overrides = { 'apgd-ce': { nIter: 5, eotIter: 2 }, 'apgd-dlr': { nIter: 5, eotIter: 2 } };
  const o: AutoAttackOptions = { norm: 'Linf', eps: 0.2, version: 'rand', batchSize: 2, overrides };
  write(comparable(runAutoAttack(c, b.x, b.y, { ...o, statePath: join(out, 'state.safetensors'), ...quiet, onEvent, shards })));
} else {
  // eval-saturated: the paper protocol's outputs are +-inf, its attacks stop points early (NaN early stop)
  const c = tinyEvalCarso();
  const saturated = what === 'eval-saturated';
  if (saturated) saturateTiny(c);
  const o = { ...TINY_EVAL, ...(saturated ? SATURATED_EVAL : {}), batchSize: 2, out, onEvent, ...quiet, shards };
  const r = evaluateCarso(c.classifier, c, x, y, o);
  write(withoutTimings(r));
}
group?.destroy();
