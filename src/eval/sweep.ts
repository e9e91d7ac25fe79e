// Robust accuracy versus eps, one curve per model (the report's main plot).
// Each (model, eps) point is one attack cascade on the same points; a
// stochastic model's examples are then re-evaluated R times and the point
// counts as robust only when correct in all of them (worst-of-R, final.ts).
// Finished points are kept in <cacheDir>/sweep-<model>-<eps>.json, keyed by a
// fingerprint of the settings and the data, so an interrupted sweep resumes.
//
//     const s = runSweep([{ name: 'classifier', model: f, attack: (eps) => [{ name: 'apgd-ce', options: { eps, norm: 'Linf' } }] }],
//                        x, y, { eps: [0.05, 0.1, 0.2], attack: 'APGD-CE', seed: 0 });
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Model } from '../attacks/index.js';
import { manualSeed, type Tensor } from '../tensor/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { runAttacks, type AttackSpec } from './autoattack.js';
import { finalEvaluation } from './final.js';
import type { Sweep } from './result.js';
import { fingerprint } from './state.js';
import { countWithInterval } from './stats.js';

export interface SweepModel {
  name: string;
  model: Model;
  /** The cascade to run at radius eps. */
  attack: (eps: number) => AttackSpec[];
}

export interface SweepOptions {
  eps: readonly number[];
  /** What the report says the sweep used (e.g. 'APGD-CE, 20 iterations, EOT 4'). */
  attack: string;
  seed: number;
  /** Final draws per point for stochastic models (default 10). */
  draws?: number;
  batchSize?: number;
  cacheDir?: string;
  onPoint?: (model: string, eps: number, robust: number, n: number) => void;
}

export function runSweep(models: readonly SweepModel[], x: Tensor, y: Tensor, o: SweepOptions): Sweep {
  const t0 = performance.now();
  const n = x.size(0);
  const curves = models.map((m) => ({
    model: m.name,
    accuracy: o.eps.map((eps) => {
      const draws = m.model.stochastic ? (o.draws ?? 10) : 1;
      const specs = m.attack(eps);
      const fp = fingerprint({ model: m.name, eps, specs, seed: o.seed, draws, bs: o.batchSize ?? 250 }, x, y);
      const file = o.cacheDir === undefined ? null : join(o.cacheDir, `sweep-${m.name}-${eps}.json`);
      if (file !== null && existsSync(file)) {
        const saved = JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: string; robust: number };
        if (saved.fingerprint === fp) {
          o.onPoint?.(m.name, eps, saved.robust, n);
          return countWithInterval(saved.robust, n);
        }
      }
      const r = runAttacks(m.model, x, y, specs, {
        norm: 'Linf',
        eps,
        seed: o.seed,
        batchSize: o.batchSize,
        onWarning: () => {},
      });
      let robust = r.robust.correct;
      if (draws > 1) {
        manualSeed(o.seed + 1);
        const fe = finalEvaluation(m.model, r.xAdv, y, draws, o.batchSize);
        robust = fe.worstOfR.correct;
      }
      r.xAdv.dispose();
      if (file !== null) writeFileAtomic(file, JSON.stringify({ fingerprint: fp, robust }));
      o.onPoint?.(m.name, eps, robust, n);
      return countWithInterval(robust, n);
    }),
  }));
  return { format: 'carso-sweep/1', attack: o.attack, n, eps: [...o.eps], curves, seconds: (performance.now() - t0) / 1000 };
}
