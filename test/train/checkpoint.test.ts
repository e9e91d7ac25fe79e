// Training checkpoints: a round trip restores model, optimiser and RNG; a damaged
// checkpoint throws an Error naming the file whatever part of it is wrong (fuzz
// regressions: optimiser-state errors did not say which file they came from).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, Sequential } from '../../src/nn/index.js';
import { Adam } from '../../src/optim/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/index.js';
import { dispose, manualSeed, rand, randn, tidy } from '../../src/tensor/index.js';
import { loadCheckpoint, resumeRun, saveCheckpoint } from '../../src/train/checkpoint.js';
import { DataLoader, ImageDataset } from '../../src/data/index.js';
import { LRScheduler, multiStep } from '../../src/optim/index.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-ckpt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function parts(): { model: Sequential; optimizer: Adam } {
  manualSeed(0);
  const model = new Sequential(new Linear(3, 2));
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  tidy(() =>
    model
      .call(randn([4, 3]))
      .square()
      .sum()
      .backward(),
  );
  optimizer.step();
  return { model, optimizer };
}

/** A copy of `src` with metadata entry `key` replaced by edit(old value). */
function edited(src: string, name: string, key: string, edit: (v: string) => string): string {
  const { tensors, metadata } = readSafetensors(src);
  const out = join(dir, name);
  writeSafetensors(out, tensors, { ...metadata, [key]: edit(metadata[key] ?? '') });
  dispose([...tensors.values()]);
  return out;
}

test('round trip: parameters, optimiser state, RNG and run state come back', () => {
  const path = join(dir, 'ok.safetensors');
  const a = parts();
  saveCheckpoint(path, { ...a, state: { epoch: 3 } });
  const after = rand([2]).toArray();
  const b = parts();
  const state = loadCheckpoint<{ epoch: number }>(path, b.model, b.optimizer);
  assert.deepEqual(state, { epoch: 3 });
  assert.deepEqual(b.model.stateDict().get('0.weight')!.toArray(), a.model.stateDict().get('0.weight')!.toArray());
  assert.deepEqual(rand([2]).toArray(), after, 'the RNG continues where the checkpoint was taken');
});

test('damaged checkpoints: every error names the file', () => {
  const path = join(dir, 'base.safetensors');
  saveCheckpoint(path, { ...parts(), state: { epoch: 1 } });
  const cases: [string, string, (v: string) => string, RegExp][] = [
    ['format.safetensors', 'format', () => 'other', /not a carso checkpoint/],
    ['optim-json.safetensors', 'optimizer', (v) => v.slice(0, 10), /JSON/],
    ['optim-groups.safetensors', 'optimizer', (v) => JSON.stringify({ ...JSON.parse(v), groups: null }), /null/],
    ['optim-kind.safetensors', 'optimizer', (v) => JSON.stringify({ ...JSON.parse(v), kind: 'SGD' }), /checkpoint is for SGD/],
    ['state-json.safetensors', 'state', () => '{"epoch": ', /JSON/],
  ];
  for (const [name, key, edit, pattern] of cases) {
    const bad = edited(path, name, key, edit);
    const { model, optimizer } = parts();
    assert.throws(
      () => loadCheckpoint(bad, model, optimizer),
      (e: Error) => e.message.includes(bad) && pattern.test(e.message),
      `${name}: an Error naming ${bad} and matching ${pattern}`,
    );
  }
});

test('resumeRun: loader position, schedule step and configuration restored or refused naming the file', () => {
  const ds = new ImageDataset('d', new Uint8Array(8 * 4), Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]), [1, 2, 2], ['a', 'b']);
  const setup = () => {
    const p = parts();
    const loader = new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 1 });
    return { ...p, loader, scheduler: new LRScheduler(p.optimizer, multiStep([])), config: { lr: 0.01 } };
  };
  const a = setup();
  a.scheduler.t = 7;
  const path = join(dir, 'run.safetensors');
  const state = {
    epoch: 2,
    loader: a.loader.state(),
    schedule: a.scheduler.stateDict(),
    metrics: [{ loss: 1 }],
    config: a.config,
  };
  saveCheckpoint(path, { model: a.model, optimizer: a.optimizer, state });
  const b = setup();
  assert.deepEqual(resumeRun(path, b), { epoch: 2, metrics: [{ loss: 1 }] });
  assert.equal(b.scheduler.t, 7);
  assert.throws(
    () => resumeRun(path, { ...setup(), config: { lr: 0.1 } }),
    /run\.safetensors was made with another configuration/,
  );
  const cases: [string, object, RegExp][] = [
    ['epoch', { ...state, epoch: -1 }, /epoch -1 is not a count/],
    ['loader', { ...state, loader: { ...state.loader, order: 3 } }, /loader random streams are missing/],
    ['schedule', { ...state, schedule: { t: 'x', baseLrs: [0.01] } }, /schedule is not a step count/],
    ['size', { ...state, loader: { ...state.loader, size: 5 } }, /state is for 5 points per epoch/],
  ];
  for (const [name, bad, pattern] of cases) {
    const file = edited(path, `run-${name}.safetensors`, 'state', () => JSON.stringify(bad));
    assert.throws(
      () => resumeRun(file, setup()),
      (e: Error) => e.message.includes(file) && pattern.test(e.message),
      name,
    );
  }
});
