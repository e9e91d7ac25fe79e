// grid.json of a CARSO evaluation (result.ts ImageGrid): the first points, the
// adversarial examples AutoAttack rand found against CARSO end to end, and
// CARSO's reconstructions of them, with the labels predicted on each.
import { join } from 'node:path';
import type { Model } from '../attacks/index.js';
import { readSafetensors } from '../io/index.js';
import { manualSeed, noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { ImageGrid } from '../eval/result.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Carso } from './carso.js';

export interface GridOptions {
  /** Points shown (the first k). */
  points: number;
  eps: number;
  /** Test index of x's first point. */
  first: number;
  classNames?: readonly string[];
  /** libtorch seed for the reconstructions shown. */
  seed: number;
  out: string;
}

/** Writes <out>/grid.json from x: [n, C, H, W], y: int64 [n] and the adversarial examples in the file `adv` (x_adv). */
export function writeGrid(carso: Carso, f: Model, x: Tensor, y: Tensor, adv: string, o: GridOptions): void {
  const k = Math.min(x.size(0), o.points);
  const content = readSafetensors(adv);
  const xAdv = content.tensors.get('x_adv') as Tensor;
  manualSeed(o.seed);
  const g = carso.geometry;
  const grid: ImageGrid = noGrad(() =>
    tidy(() => {
      const xs = x.narrow(0, 0, k);
      const xa = xAdv.narrow(0, 0, k);
      const labels = y.narrow(0, 0, k).toArray();
      const pc = f.forward(xs).argmax(1).toArray();
      const pa = f.forward(xa).argmax(1).toArray();
      const pcarso = carso.forward(xa).argmax(1).toArray();
      const shown = 3;
      const c = carso.condition(xa);
      const recon = [...Array(shown).keys()].map(() =>
        carso.purifier.decode(carso.drawLatents(xa).select(0, 0), c).reshape(k, -1).toArray(),
      );
      const flat = (t: Tensor): number[] => t.reshape(-1).toArray();
      const per = g.channels * g.size * g.size;
      const cleanFlat = flat(xs);
      const advFlat = flat(xa);
      return {
        format: 'carso-grid/1' as const,
        classNames: o.classNames ? [...o.classNames] : [...Array(f.forward(xs).size(1)).keys()].map(String),
        channels: g.channels,
        size: g.size,
        eps: o.eps,
        points: labels.map((label, i) => ({
          index: o.first + i,
          label,
          clean: cleanFlat.slice(i * per, (i + 1) * per),
          adversarial: advFlat.slice(i * per, (i + 1) * per),
          reconstructions: recon.map((r) => r.slice(i * per, (i + 1) * per)),
          predictedClean: pc[i] as number,
          predictedAdversarialClassifier: pa[i] as number,
          predictedAdversarialCarso: pcarso[i] as number,
        })),
      };
    }),
  );
  xAdv.dispose();
  writeFileAtomic(join(o.out, 'grid.json'), JSON.stringify(grid) + '\n');
}
