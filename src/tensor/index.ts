export { Tensor, Op, op, type DType, type Device, type Reduction, type Arg } from './tensor.js';
export * from './create.js';
export { grad, noGrad, enableGrad, isGradEnabled, type GradOptions } from './autograd.js';
export { tidy, keep, isKept, dispose, memoryStats } from './scope.js';
export * from './runtime.js';
export { ScriptObject, setData, type ScriptValue, type ScriptCallOptions } from './script.js';
