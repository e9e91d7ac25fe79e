// Resuming AutoAttack (state.ts): a run interrupted after any batch or attack
// and resumed ends with exactly the result of an uninterrupted run; state
// files of other runs are refused; a tampered state is caught by the final
// threat-model re-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../src/io/index.js';
import { runAutoAttack, type AutoAttackOptions, type CascadeEvent } from '../../src/eval/autoattack.js';
import type { Model } from '../../src/attacks/index.js';
import { dispose, tidy, type Tensor } from '../../src/tensor/index.js';
import { QUICK, comparable, net, noisy, points, quiet } from './fixtures.js';

const tmp = (): string => join(mkdtempSync(join(tmpdir(), 'carso-aa-')), 'state.safetensors');

/** Runs until `stop` says so (an exception, as a kill would), then resumes from the state file; returns the resumed result. */
function interruptAndResume(model: Model, X: Tensor, Y: Tensor, o: AutoAttackOptions, stop: (e: CascadeEvent) => boolean) {
  const statePath = tmp();
  assert.throws(
    () =>
      runAutoAttack(model, X, Y, {
        ...o,
        statePath,
        onEvent: (e) => {
          if (stop(e)) throw new Error('interrupted');
        },
      }),
    /interrupted/,
  );
  const events: CascadeEvent[] = [];
  const r = runAutoAttack(model, X, Y, { ...o, statePath, onEvent: (e) => events.push(e) });
  return { r, events, statePath };
}

const stops: [string, (e: CascadeEvent) => boolean][] = [
  ['after the first batch', (e) => e.kind === 'batch' && e.name === 'apgd-ce' && e.batch === 1],
  ['after the first attack', (e) => e.kind === 'attack-end' && e.record.name === 'apgd-ce'],
  ['in the middle of FAB-T', (e) => e.kind === 'batch' && e.name === 'fab-t' && e.batch === 2],
];

for (const [when, stop] of stops)
  test(`interrupted ${when} and resumed = uninterrupted (standard, deterministic model)`, () => {
    const model = net();
    const { X, Y } = points(model, 24);
    const o: AutoAttackOptions = { norm: 'Linf', eps: 0.02, overrides: QUICK, batchSize: 5, ...quiet };
    const whole = runAutoAttack(model, X, Y, o);
    const { r, events } = interruptAndResume(model, X, Y, o, stop);
    assert.equal(r.resumed, true);
    assert.equal(events[0]?.kind, 'clean');
    assert.deepEqual(comparable(r), comparable(whole));
    assert.ok(r.robust.correct < r.clean.correct, 'the attacks broke something');
    dispose([whole.xAdv, r.xAdv]);
  });

test("interrupted and resumed = uninterrupted on a randomised model ('rand', reseeded per batch)", () => {
  const model = noisy(net(), 0.3);
  const { X, Y } = points(net(), 16);
  const o: AutoAttackOptions = {
    norm: 'Linf',
    eps: 0.02,
    version: 'rand',
    overrides: { 'apgd-ce': { nIter: 3 }, 'apgd-dlr': { nIter: 3 } },
    batchSize: 4,
    ...quiet,
  };
  const whole = runAutoAttack(model, X, Y, { ...o, statePath: tmp() });
  const { r } = interruptAndResume(model, X, Y, o, (e) => e.kind === 'batch' && e.batch === 2);
  assert.deepEqual(comparable(r), comparable(whole));
  assert.ok(whole.robust.correct < whole.clean.correct, 'the attacks broke something');
  dispose([whole.xAdv, r.xAdv]);
});

test('a finished state resumes without attacking and gives the same result', () => {
  const model = net();
  const { X, Y } = points(model, 12);
  const statePath = tmp();
  const o: AutoAttackOptions = { norm: 'Linf', eps: 0.02, overrides: QUICK, statePath, ...quiet };
  const first = runAutoAttack(model, X, Y, o);
  const events: CascadeEvent[] = [];
  const again = runAutoAttack(model, X, Y, { ...o, onEvent: (e) => events.push(e) });
  assert.deepEqual(
    events.map((e) => e.kind),
    ['clean'],
  );
  assert.deepEqual(comparable(again), comparable(first));
  assert.deepEqual(
    again.perAttack.map((a) => a.seconds),
    first.perAttack.map((a) => a.seconds),
    'times are kept in the state',
  );
  dispose([first.xAdv, again.xAdv]);
});

test('a state file of another run (settings or data) is refused, naming the difference', () => {
  const model = net();
  const { X, Y } = points(model, 8);
  const statePath = tmp();
  const o: AutoAttackOptions = { norm: 'Linf', eps: 0.02, version: 'custom', attacks: ['fgsm'], statePath, ...quiet };
  runAutoAttack(model, X, Y, o).xAdv.dispose();
  assert.throws(() => runAutoAttack(model, X, Y, { ...o, eps: 0.03 }), /made by a different run \(eps: 0\.02 there, 0\.03 here/);
  const other = tidy(() => X.mul(0.5));
  assert.throws(() => runAutoAttack(model, other, Y, o), /other images or labels/);
});

test('the final re-check catches a tampered state: out-of-ball examples rejected, points robust again', () => {
  const model = net();
  const { X, Y } = points(model, 16);
  const statePath = tmp();
  const o: AutoAttackOptions = {
    norm: 'Linf',
    eps: 0.05,
    version: 'custom',
    attacks: ['apgd-ce'],
    overrides: QUICK,
    statePath,
    ...quiet,
  };
  const honest = runAutoAttack(model, X, Y, o);
  assert.ok(honest.perAttack[0]!.fooled > 0, 'something to forge');
  const { tensors, metadata } = readSafetensors(statePath);
  const adv = tensors.get('adv')!;
  assert.equal(adv.size(0), honest.perAttack[0]!.fooled);
  // push every stored example 0.3 further (still in the box where possible): far outside the 0.05 ball
  const forged = tidy(() => adv.add(0.3).clamp(0, 1));
  writeSafetensors(statePath, { adv: forged, advIndex: tensors.get('advIndex')! }, metadata);
  const r = runAutoAttack(model, X, Y, o);
  const stored = tensors.get('advIndex')!.toArray();
  assert.deepEqual(r.finalCheck.rejected, stored, 'every forged example rejected');
  assert.equal(r.robust.correct, r.clean.correct, 'the points count as robust again');
  assert.ok(
    r.warnings.some(
      (w) => w.check === 'threat-model' && w.message.startsWith(`final re-check: ${stored.length} adversarial examples`),
    ),
  );
  assert.ok(r.finalCheck.maxDistance === 0, 'the rejected rows are reset to x');
  dispose([honest.xAdv, r.xAdv, [...tensors.values()], forged]);
});

test('a damaged state file is refused naming the file: bookkeeping JSON, indices, shapes (fuzz regressions)', () => {
  const model = net();
  const { X, Y } = points(model, 8);
  const statePath = tmp();
  const o: AutoAttackOptions = { norm: 'Linf', eps: 0.05, version: 'custom', attacks: ['fgsm'], statePath, ...quiet };
  runAutoAttack(model, X, Y, o).xAdv.dispose();
  const { tensors, metadata } = readSafetensors(statePath);
  const state = JSON.parse(metadata['state']!) as Record<string, unknown>;
  const advIndex = tensors.get('advIndex')!;
  const cases: [string, Record<string, unknown>, Record<string, Tensor>, RegExp][] = [
    ['short flags', { ...state, robust: '01' }, {}, /robust is not 8 flags/],
    ['no records', { ...state, records: 3 }, {}, /records or warnings is not a list/],
    ['bad order', { ...state, current: { attack: 0, order: [0, 99], batchesDone: 0 } }, {}, /current\.order/],
    ['index out of range', state, { advIndex: tidy(() => advIndex.add(100)) }, /advIndex holds indices outside \[0, 8\)/],
    ['index dtype', state, { advIndex: tidy(() => advIndex.float()) }, /do not fit points/],
    ['short moved', { ...state, moved: [0] }, {}, /moved is not 8 distances or nulls/],
    ['negative moved', { ...state, moved: [-1, 0, 0, 0, 0, 0, 0, 0] }, {}, /moved is not 8 distances/],
    ['unknown stop reason', { ...state, stopped: Array(8).fill('tired') }, {}, /stopped is not 8 stop reasons or nulls/],
  ];
  for (const [label, json, replace, pattern] of cases) {
    writeSafetensors(statePath, { adv: tensors.get('adv')!, advIndex, ...replace }, { ...metadata, state: JSON.stringify(json) });
    assert.throws(
      () => runAutoAttack(model, X, Y, o),
      (e: Error) => e.message.includes(statePath) && pattern.test(e.message),
      label,
    );
    dispose(Object.values(replace));
  }
  // a state saved before issue 13 (no moved, stopped, or per-record stopped count) resumes with none recorded
  const records = (state['records'] as Record<string, unknown>[]).map(({ stopped: _s, ...r }) => r);
  const old = Object.fromEntries(Object.entries({ ...state, records }).filter(([k]) => k !== 'moved' && k !== 'stopped'));
  writeSafetensors(statePath, { adv: tensors.get('adv')!, advIndex }, { ...metadata, state: JSON.stringify(old) });
  const r = runAutoAttack(model, X, Y, o);
  assert.equal(r.resumed, true);
  assert.ok(r.moved.every((m) => m === null) && r.stopped.every((s) => s === null));
  assert.deepEqual(
    r.perAttack.map((a) => a.stopped),
    [0],
  );
  r.xAdv.dispose();
  dispose([...tensors.values()]);
});
