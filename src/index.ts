// carso's public surface, one namespace per layer (also importable directly:
// 'carso/tensor', 'carso/nn', 'carso/attacks', ...).
//
//     import { tensor, models, attacks, evaluation } from 'carso';
export * as tensor from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as io from './io/index.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as attacks from './attacks/index.js';
export * as carso from './carso/index.js';
export * as evaluation from './eval/index.js';
