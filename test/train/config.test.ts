import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, configErrors, validateConfig } from '../../src/train/config.js';
import { commandFor } from '../../src/train/card.js';
import { defaultAlpha } from '../../src/train/methods.js';

test('the defaults are valid', () => {
  assert.deepEqual(configErrors(DEFAULTS), []);
});

test('each bad value is reported with what is valid', () => {
  const errs = configErrors({
    ...DEFAULTS,
    method: 'pgd-at',
    eps: -0.1,
    model: 'nope',
    dataset: 'imagenet',
    epochs: 0,
    seed: 1.5,
  });
  assert.ok(errs.some((e) => /eps must be in \(0, 1\]/.test(e)));
  assert.ok(errs.some((e) => /unknown model 'nope' \(valid: .*reference-cnn/.test(e)));
  assert.ok(errs.some((e) => /unknown dataset 'imagenet' \(valid: .*fashion-mnist/.test(e)));
  assert.ok(errs.some((e) => /epochs must be a positive integer/.test(e)));
  assert.ok(errs.some((e) => /seed must be a non-negative integer/.test(e)));
  assert.throws(
    () => validateConfig({ ...DEFAULTS, lr: Number.NaN }),
    /invalid training configuration:[\s\S]*lr must be a positive number/,
  );
});

test('standard training ignores eps; adversarial methods need eps in (0, 1]', () => {
  assert.deepEqual(configErrors({ ...DEFAULTS, method: 'standard', eps: 0 }), []);
  assert.equal(configErrors({ ...DEFAULTS, method: 'trades', eps: 1.5 }).length, 1);
});

test('default attack steps follow the references', () => {
  assert.equal(defaultAlpha({ ...DEFAULTS, method: 'fast-at', eps: 0.1 }), 0.125);
  assert.equal(defaultAlpha({ ...DEFAULTS, method: 'pgd-at', eps: 0.1, steps: 10 }), 0.025);
  assert.equal(defaultAlpha({ ...DEFAULTS, method: 'pgd-at', eps: 0.1, alpha: 0.01 }), 0.01);
});

test('the card command lists exactly the non-default flags', () => {
  const cmd = commandFor(
    { ...DEFAULTS, method: 'fast-at', epochs: 12, augment: true, milestones: [5, 8], schedule: 'multistep' },
    'models/x',
  );
  assert.equal(cmd, 'carso train --method fast-at --epochs 12 --schedule multistep --milestones 5,8 --augment --out models/x');
});
