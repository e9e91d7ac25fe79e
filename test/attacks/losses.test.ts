// Losses and norms against fra31 golden values (attacks.md §1, §10.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tensor, tidy, grad } from '../../src/tensor/index.js';
import { ceLoss, dlrLoss, dlrTargetedLoss, margin, cwLoss } from '../../src/attacks/losses.js';
import { Linf, L2, L1, l1Correction } from '../../src/attacks/norms.js';
import { checkTensor } from '../helpers.js';

interface GoldenCore {
  dlr: number[];
  dlr_targeted: number[];
}
const golden = (JSON.parse(readFileSync('/work/shared/spec/attacks_golden.json', 'utf8')) as { core: GoldenCore }).core;

const Z = [1, 3, 2, 0.5, -1, 4, 1, 2.5, 0, 3];

test('dlr and targeted dlr match fra31 (1e-6)', () =>
  tidy(() => {
    const z = tensor(Z, [2, 5], 'float64');
    const y = tensor([0, 0], [2], 'int64');
    checkTensor(dlrLoss(z, y), golden.dlr, 'dlr', 1e-6, 0);
    checkTensor(dlrTargetedLoss(z, y, tensor([2, 4], [2], 'int64')), golden.dlr_targeted, 'dlr_targeted', 1e-6, 0);
  }));

test('DLR > 0 iff misclassified; margin and CW', () =>
  tidy(() => {
    const z = tensor(Z, [2, 5], 'float64');
    const y = tensor([1, 1], [2], 'int64'); // point 0 correct, point 1 wrong
    const d = dlrLoss(z, y).toArray();
    assert.ok(d[0]! < 0 && d[1]! > 0);
    checkTensor(margin(z, y), [1, -3], 'margin', 1e-12, 0);
    checkTensor(cwLoss(50)(z, y), [-51, -47], 'cw', 1e-12, 0);
    checkTensor(ceLoss(z, y), z.crossEntropy(y, 'none'), 'ce');
  }));

test('losses are differentiable through the sort', () =>
  tidy(() => {
    const z = tensor(Z, [2, 5], 'float64').requiresGrad_();
    const y = tensor([0, 0], [2], 'int64');
    const [g] = grad(dlrLoss(z, y).sum(), [z]);
    assert.ok(g !== null && g !== undefined && g.abs().sum().item() > 0);
  }));

test('norm projections land in ball ∩ box', () =>
  tidy(() => {
    const x = tensor([0.1, 0.5, 0.9, 0.3, 0.2, 0.95, 0.4, 0.6], [2, 4], 'float64');
    const v = tensor([0.9, -0.4, 1.3, 0.3, 0.0, 0.2, 0.9, 0.61], [2, 4], 'float64');
    for (const [n, eps] of [
      [Linf, 0.1],
      [L2, 0.3],
      [L1, 0.5],
    ] as const) {
      const p = n.project(v, x, eps);
      assert.ok(p.min().item() >= 0 && p.max().item() <= 1, `${n.name} box`);
      assert.ok(n.distance(p, x).max().item() <= eps * (1 + 1e-9), `${n.name} ball`);
    }
    // L1: exact projection = soft threshold; here x=0.5, d=[0.3,-0.1], eps=0.2 -> [0.2, 0]
    // L1 with the box: c = [0.5, 0.9], d = [0.3, 0.4], room [0.5, 0.1]; |δ| = min(room, max(|d| − λ, 0)):
    // eps 0.2 -> λ = 0.2, δ = [0.1, 0.1]; eps 5 -> box clip only, δ = [0.3, 0.1]
    const c = tensor([0.5, 0.9], [1, 2], 'float64');
    const d = tensor([0.3, 0.4], [1, 2], 'float64');
    checkTensor(d.add(l1Correction(c, d, 0.2)), [0.1, 0.1], 'l1 projection with box', 1e-12, 0);
    checkTensor(d.add(l1Correction(c, d, 5)), [0.3, 0.1], 'l1 inside: box clip only', 1e-12, 0);
  }));
