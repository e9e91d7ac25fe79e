export {
  Optimizer,
  type Hyper,
  type HyperValue,
  type ParamGroup,
  type GroupInput,
  type ParamsInput,
  type ParamState,
  type OptimizerState,
  type OptimizerLike,
  type GroupLike,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { RAdam, type RAdamOptions } from './radam.js';
export { Lookahead, type LookaheadOptions } from './lookahead.js';
export * from './schedule.js';
export { carsoScheduleOptions, carsoTraining } from './carso.js';
