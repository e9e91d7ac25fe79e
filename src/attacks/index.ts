// Public surface of carso's attacks (one file per attack, shared machinery once).
export * from './types.js';
export * from './norms.js';
export * from './losses.js';
export { lossAndGrad, type LossAndGrad } from './eot.js';
export { runOnRobust, type BaseOptions, type PassResult, type Pass, type DriverOptions } from './common.js';
export { FGSM, FGSMRS, fgsmStep, type FgsmOptions, type FgsmRsOptions, type FgsmStepConfig } from './fgsm.js';
export { PGD, pgdRun, type PgdOptions, type PgdRunConfig, type PgdRunResult } from './pgd.js';
export {
  APGD,
  apgdCheckpoints,
  apgdSingleRun,
  checkpointParams,
  type ApgdOptions,
  type SingleRunConfig,
  type SingleRunResult,
} from './apgd.js';
export { APGDT, type ApgdTOptions } from './apgd-t.js';
export { FAB, fabT, fabSingleRun, type FabOptions } from './fab.js';
export { Square, squareAA, type SquareOptions } from './square.js';
export { asModel } from './model.js';
export { NonFiniteStop, type StopReason } from './stop.js';
export { ATTACKS, attackNames, createAttack, registerAttack, type AttackEntry, type AttackOptions } from './registry.js';
