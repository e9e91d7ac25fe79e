// Attack registry: name -> factory. Adding an attack = one file + one line in
// ATTACKS below (+ its options in AttackOptions); the generic property tests in
// test/attacks/properties.test.ts iterate this table.
import { APGD, type ApgdOptions } from './apgd.js';
import { APGDT, type ApgdTOptions } from './apgd-t.js';
import { FGSM, FGSMRS, type FgsmRsOptions } from './fgsm.js';
import { FAB, type FabOptions } from './fab.js';
import { PGD, type PgdOptions } from './pgd.js';
import { Square, type SquareOptions } from './square.js';
import type { Attack, Norm } from './types.js';

/** Every attack's options in one bag (each attack reads the fields it knows). */
export type AttackOptions = FgsmRsOptions &
  PgdOptions &
  ApgdOptions &
  ApgdTOptions &
  Omit<FabOptions, 'targeted'> &
  Omit<SquareOptions, 'loss' | 'norm'> & {
    /** Square's loss (its `loss` would clash with the gradient attacks' option). */
    squareLoss?: SquareOptions['loss'];
  };

export interface AttackEntry {
  /** Threat models the attack supports. */
  readonly norms: readonly Norm[];
  /** Fewest classes the attack works with (DLR: 3, targeted DLR: 4). */
  readonly minClasses: number;
  /** Whether the attack averages gradients over `eotIter` stochastic passes (gradient-free and FAB: no). */
  readonly eot: boolean;
  readonly create: (o: AttackOptions) => Attack;
}

const LP: readonly Norm[] = ['Linf', 'L2'];
const LP1: readonly Norm[] = ['Linf', 'L2', 'L1'];

export const ATTACKS: Record<string, AttackEntry> = {
  fgsm: { eot: true, norms: LP, minClasses: 2, create: (o) => new FGSM(o) },
  'fgsm-rs': { eot: true, norms: LP, minClasses: 2, create: (o) => new FGSMRS(o) },
  pgd: { eot: true, norms: LP, minClasses: 2, create: (o) => new PGD(o) },
  'apgd-ce': { eot: true, norms: LP1, minClasses: 2, create: (o) => new APGD({ ...o, loss: 'ce' }) },
  'apgd-dlr': { eot: true, norms: LP1, minClasses: 3, create: (o) => new APGD({ ...o, loss: 'dlr' }) },
  'apgd-t': { eot: true, norms: LP1, minClasses: 4, create: (o) => new APGDT(o) },
  fab: { eot: false, norms: LP1, minClasses: 2, create: (o) => new FAB({ ...o, targeted: false }) },
  'fab-t': { eot: false, norms: LP1, minClasses: 3, create: (o) => new FAB({ ...o, targeted: true }) },
  square: { eot: false, norms: LP, minClasses: 2, create: (o) => new Square({ ...o, loss: o.squareLoss ?? 'margin' }) },
};

/** Registered attack names. */
export function attackNames(): string[] {
  return Object.keys(ATTACKS);
}

/**
 * An attack by name.
 *
 *     const atk = createAttack('apgd-ce', { eps: 8 / 255, norm: 'Linf' });
 */
export function createAttack(name: string, o: AttackOptions): Attack {
  const entry = ATTACKS[name];
  if (entry === undefined) throw new Error(`unknown attack '${name}' (valid: ${attackNames().join(', ')})`);
  const norm = o.norm ?? 'Linf';
  if (!entry.norms.includes(norm)) throw new Error(`${name}: norm must be one of ${entry.norms.join(', ')} (got '${norm}')`);
  return entry.create(o);
}

/** Adds an attack at run time (plugins); names must be new. */
export function registerAttack(name: string, entry: AttackEntry): void {
  if (name in ATTACKS) throw new Error(`attack '${name}' is already registered`);
  ATTACKS[name] = entry;
}
